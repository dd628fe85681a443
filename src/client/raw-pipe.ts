// The command's end of the pipe without node's `net`: a libuv pipe handle driven directly, with just
// the events client.ts listens to (connect, data, error, close). Loading `net` (and the stream
// modules under it) is a quarter of what a bare `ARMLOG` costs beyond node's own start-up, on every
// line of every script (bench/cli-latency.js: a ten-line `net` client is 1.26-1.31× `node -e 0`, the
// same client on this handle 1.09×). The handle is node's own (`process.binding('pipe_wrap')`, what
// net.Socket wraps), not a public API: when this node does not have it in the shape used here, when
// node is asked to warn about pending deprecations, or when ARMS_CLIENT=net says so, `available()` is
// false and the client uses `net` as before. Windows keeps `net` (its named pipes are only tested
// through it).
import { EventEmitter } from 'node:events';
import { getSystemErrorName } from 'node:util';

interface StreamHandle {
  onread: (buffer: ArrayBuffer | undefined) => void;
  readStart(): number;
  writeUtf8String(req: unknown, text: string): number;
  close(cb?: () => void): void;
  connect(req: unknown, address: string): number;
}
interface Binding {
  Pipe: new (type: number) => StreamHandle;
  PipeConnectWrap: new () => { oncomplete?: (status: number) => void };
  WriteWrap: new () => { handle?: StreamHandle; oncomplete?: (status: number) => void; async?: boolean };
  SOCKET: number;
  state: Int32Array;
  nread: number;
  offset: number;
  lastWriteAsync: number;
}

let binding: Binding | null | undefined;
const ignore = (): void => undefined;

/** node's pipe handle, or null when it is not there as expected (or not wanted). */
function load(): Binding | null {
  if (binding !== undefined) return binding;
  binding = null;
  const env = process.env;
  if (process.platform === 'win32' || env.ARMS_CLIENT === 'net') return null;
  // process.binding is a pending deprecation: asked to warn about those, node would print one.
  if (env.NODE_PENDING_DEPRECATION === '1' || process.execArgv.includes('--pending-deprecation') || /--pending-deprecation\b/.test(env.NODE_OPTIONS ?? '')) return null;
  try {
    const legacy = (process as unknown as { binding(name: string): Record<string, unknown> }).binding;
    const pipe = legacy('pipe_wrap');
    const stream = legacy('stream_wrap');
    const constants = pipe.constants as Record<string, number> | undefined;
    const proto = (pipe.Pipe as { prototype?: Record<string, unknown> } | undefined)?.prototype;
    const ok =
      typeof pipe.Pipe === 'function' &&
      typeof pipe.PipeConnectWrap === 'function' &&
      typeof stream.WriteWrap === 'function' &&
      stream.streamBaseState instanceof Int32Array &&
      typeof constants?.SOCKET === 'number' &&
      ['kReadBytesOrError', 'kArrayBufferOffset', 'kLastWriteWasAsync'].every((k) => typeof stream[k] === 'number') &&
      proto !== undefined &&
      ['connect', 'readStart', 'writeUtf8String', 'close'].every((m) => typeof proto[m] === 'function');
    if (!ok) return null;
    binding = {
      Pipe: pipe.Pipe as Binding['Pipe'],
      PipeConnectWrap: pipe.PipeConnectWrap as Binding['PipeConnectWrap'],
      WriteWrap: stream.WriteWrap as Binding['WriteWrap'],
      SOCKET: constants!.SOCKET,
      state: stream.streamBaseState as Int32Array,
      nread: stream.kReadBytesOrError as number,
      offset: stream.kArrayBufferOffset as number,
      lastWriteAsync: stream.kLastWriteWasAsync as number,
    };
  } catch {
    binding = null; // a node without process.binding, or run under a permission model that refuses it
  }
  return binding;
}

/** True when connectRaw can be used in this process. */
export function available(): boolean {
  return load() !== null;
}

function errnoError(syscall: string, status: number, address: string): NodeJS.ErrnoException {
  let code: string;
  try {
    code = getSystemErrorName(status);
  } catch {
    code = `E${-status}`;
  }
  const e = new Error(`${syscall} ${code} ${address}`) as NodeJS.ErrnoException;
  e.code = code;
  e.errno = status;
  e.syscall = syscall;
  return e;
}

/**
 * A connection to the Unix socket `address` that behaves, for the events client.ts uses, as
 * net.connect(address) does: 'connect' once connected, 'data' with each Buffer read, 'error' (an
 * ErrnoException with its code) then 'close', 'close' when the service closes its end or after
 * destroy(). Only for available() === true.
 */
export function connectRaw(address: string): RawSocket {
  return new RawSocket(load()!, address);
}

export class RawSocket extends EventEmitter {
  private handle: StreamHandle | null;
  private ending = false;
  /** write requests in flight, kept referenced until libuv is done with them */
  private readonly inFlight = new Set<object>();

  constructor(
    private readonly b: Binding,
    private readonly address: string,
  ) {
    super();
    const handle = new b.Pipe(b.SOCKET);
    this.handle = handle;
    const req = new b.PipeConnectWrap();
    req.oncomplete = (status) => {
      if (!this.handle) return;
      if (status < 0) return this.fail('connect', status);
      handle.onread = (buffer) => this.read(buffer);
      const err = handle.readStart();
      if (err < 0) return this.fail('read', err);
      this.emit('connect');
    };
    const err = handle.connect(req, address);
    if (err < 0) process.nextTick(() => this.fail('connect', err));
  }

  private read(buffer: ArrayBuffer | undefined): void {
    const n = this.b.state[this.b.nread];
    if (n > 0 && buffer) {
      this.emit('data', Buffer.from(buffer, this.b.state[this.b.offset], n));
      return;
    }
    if (n === 0) return;
    // UV_EOF: the service closed its end; anything else is an error on the connection
    if (getSystemErrorName(n) === 'EOF') this.destroy();
    else this.fail('read', n);
  }

  write(text: string): boolean {
    const handle = this.handle;
    if (!handle) return false;
    const req = new this.b.WriteWrap();
    req.handle = handle;
    req.async = false;
    req.oncomplete = (status) => {
      this.inFlight.delete(req);
      if (status < 0) this.fail('write', status);
      else if (this.ending && this.inFlight.size === 0) this.destroy();
    };
    const err = handle.writeUtf8String(req, text);
    if (err < 0) {
      process.nextTick(() => this.fail('write', err));
      return false;
    }
    if (this.b.state[this.b.lastWriteAsync]) {
      this.inFlight.add(req);
    }
    return true;
  }

  /** closes once what was written has gone to the service (a Unix socket keeps it for the reader) */
  end(): void {
    this.ending = true;
    if (this.inFlight.size === 0) this.destroy();
  }

  destroy(): void {
    const handle = this.handle;
    if (!handle) return;
    this.handle = null;
    handle.onread = ignore; // node aborts on anything but a function here
    handle.close(() => this.emit('close'));
  }

  private fail(syscall: string, status: number): void {
    if (!this.handle) return;
    this.emit('error', errnoError(syscall, status, this.address));
    this.destroy();
  }
}
