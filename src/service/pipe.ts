// The control pipe: a private Unix socket (a named pipe on Windows) that takes one JSON request
// per line and answers each with its id. A bad line gets an error answer; the connection goes on.
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { lineSplitter } from '../protocol/framing';
import { Answer, encode, Id, MAX_FRAME, parseRequest, PROTOCOL_VERSION, ProtocolError, Request } from '../protocol/messages';
import { MAX_SOCKET_PATH } from '../platform/home';

export type Handler = (req: Request) => Promise<unknown>;

export interface PipeLimits {
  maxConnections: number;
  /** a connection with nothing in flight and nothing received for this long is closed */
  idleMs: number;
  /** a line begun must end within this long (a client sending a byte a second is dropped) */
  lineMs: number;
  /** requests in flight on one connection before it is no longer read */
  maxInFlight: number;
}

export const DEFAULT_LIMITS: PipeLimits = { maxConnections: 256, idleMs: 30_000, lineMs: 10_000, maxInFlight: 256 };

/**
 * Connections let in past maxConnections when none can be closed to make room (every one waits
 * for an answer): a command still gets through while a client holds the rest busy.
 */
const RESERVE = 16;
/** Answers waiting for a client that does not read them: past this, it is no longer read; past 8x (2 MiB), dropped. */
const OUT_HIGH = 256 * 1024;
/** Pending connections the OS keeps for us (Linux caps it at net.core.somaxconn). */
const BACKLOG = 4096;

/** What the pipe knows of one connection, to choose which to close when connections run short. */
interface Conn {
  socket: net.Socket;
  /** requests being answered */
  pending(): number;
  /** when it last completed a line (or connected) */
  lastLine: number;
}

export interface PipeServer {
  path: string;
  /** stops taking connections, waits for the answers in flight, then closes every connection */
  close(): Promise<void>;
}

export class PipeBusy extends Error {}

export async function listenPipe(pipe: string, handle: Handler, limits: PipeLimits = DEFAULT_LIMITS): Promise<PipeServer> {
  if (process.platform !== 'win32') await preparePosixPath(pipe);

  const conns = new Map<net.Socket, Conn>();
  const inFlight = new Set<Promise<unknown>>();
  const server = net.createServer((socket) => {
    // Full: the connection idle the longest (nothing in flight, no line for the longest time:
    // a held-open or slowloris client) is closed to make room, rather than refusing a command.
    if (conns.size >= limits.maxConnections) {
      let idlest: Conn | null = null;
      for (const c of conns.values()) if (c.pending() === 0 && (!idlest || c.lastLine < idlest.lastLine)) idlest = c;
      if (idlest) {
        conns.delete(idlest.socket);
        idlest.socket.destroy();
      } else if (conns.size >= limits.maxConnections + RESERVE) {
        socket.destroy();
        return;
      }
    }
    serve(socket, handle, limits, conns, inFlight);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') reject(new PipeBusy(`another service is listening on ${pipe}`));
      else reject(err);
    });
    // The socket file must never exist with wider rights, not even for a moment.
    const oldMask = process.platform === 'win32' ? null : process.umask(0o177);
    server.listen({ path: pipe, backlog: BACKLOG }, () => {
      if (oldMask !== null) process.umask(oldMask);
      resolve();
    });
  });
  if (process.platform !== 'win32') fs.chmodSync(pipe, 0o600);

  return {
    path: pipe,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        Promise.allSettled([...inFlight]).then(() => {
          for (const s of conns.keys()) s.end();
        });
      });
    },
  };
}

function serve(socket: net.Socket, handle: Handler, limits: PipeLimits, conns: Map<net.Socket, Conn>, inFlight: Set<Promise<unknown>>): void {
  let pending = 0;
  const conn: Conn = { socket, pending: () => pending, lastLine: Date.now() };
  conns.set(socket, conn);
  let paused = false;
  // A silent client is dropped once it has nothing in flight; a slow one, when a line takes too long.
  let idleTimer: NodeJS.Timeout | null = null;
  let lineTimer: NodeJS.Timeout | null = null;
  const watchIdle = () => {
    if (idleTimer) clearTimeout(idleTimer);
    idleTimer = pending === 0 && !split.midLine() ? setTimeout(() => socket.destroy(), limits.idleMs) : null;
  };
  let lineEnded = false;
  const watchLine = () => {
    // The time allowed runs from the first byte of a line: it starts again once a line has ended.
    if (lineEnded || !split.midLine()) {
      if (lineTimer) clearTimeout(lineTimer);
      lineTimer = null;
      lineEnded = false;
    }
    if (split.midLine() && !lineTimer) lineTimer = setTimeout(() => socket.destroy(), limits.lineMs);
  };
  socket.on('close', () => {
    if (conns.get(socket) === conn) conns.delete(socket);
    if (idleTimer) clearTimeout(idleTimer);
    if (lineTimer) clearTimeout(lineTimer);
  });
  socket.on('error', () => socket.destroy());

  // A client that sends without reading the answers is no longer read, then dropped.
  let outPaused = false;
  const send = (answer: Answer) => {
    if (socket.destroyed || !socket.writable) return;
    // Judged on what was already waiting: one large answer (the status of 10,000 watches is several
    // MB) is delivered whole to a client that reads.
    const backlog = socket.writableLength;
    socket.write(encode(answer));
    if (backlog > 8 * OUT_HIGH) socket.destroy();
    else if (socket.writableLength > OUT_HIGH && !outPaused) {
      outPaused = true;
      socket.pause();
      socket.once('drain', () => {
        outPaused = false;
        if (!paused) socket.resume();
      });
    }
  };
  const fail = (id: Id | null, e: unknown) => {
    const err = e instanceof ProtocolError ? e : new ProtocolError('internal', `internal error: ${(e as Error)?.message ?? String(e)}`);
    send({ v: PROTOCOL_VERSION, id: id ?? err.id, ok: false, error: { code: err.code, message: err.message } });
  };

  const split = lineSplitter(MAX_FRAME, {
    line(text) {
      lineEnded = true;
      conn.lastLine = Date.now();
      let req: Request;
      try {
        req = parseRequest(text);
      } catch (e) {
        fail(null, e);
        return;
      }
      pending++;
      if (pending >= limits.maxInFlight && !paused) {
        paused = true;
        socket.pause();
      }
      const work = Promise.resolve()
        .then(() => handle(req))
        .then(
          (result) => send({ v: PROTOCOL_VERSION, id: req.id, ok: true, result: result ?? null }),
          (e) => fail(req.id, e),
        )
        .finally(() => {
          inFlight.delete(work);
          pending--;
          if (paused && pending < limits.maxInFlight / 2) {
            paused = false;
            if (!outPaused) socket.resume();
          }
          watchIdle();
        });
      inFlight.add(work);
    },
    oversized() {
      fail(null, new ProtocolError('too_large', `message longer than ${MAX_FRAME} bytes; it was dropped`));
    },
  });
  socket.on('data', (chunk: Buffer) => {
    split(chunk);
    // Only lines count as activity: a client sending empty lines is as idle as a silent one.
    const active = lineEnded || split.midLine();
    watchLine();
    if (active) watchIdle();
  });
  watchIdle();
}

/**
 * POSIX: the socket's folder must be ours and private (0700), since socket permissions alone are
 * not honoured everywhere; a socket file left by a crash is removed, a live one is refused.
 */
async function preparePosixPath(pipe: string): Promise<void> {
  if (Buffer.byteLength(pipe) > MAX_SOCKET_PATH) {
    throw new Error(`socket path ${pipe} is ${Buffer.byteLength(pipe)} bytes; at most ${MAX_SOCKET_PATH} fit in a Unix socket address`);
  }
  const dir = path.dirname(pipe);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = fs.lstatSync(dir);
  const uid = process.getuid!();
  if (!st.isDirectory() || st.uid !== uid) {
    throw new Error(`the socket folder ${dir} is not a folder owned by this user (uid ${uid}); refusing to use it`);
  }
  if ((st.mode & 0o077) !== 0) fs.chmodSync(dir, 0o700);

  if (!fs.existsSync(pipe)) return;
  const alive = await new Promise<boolean>((resolve) => {
    const probe = net.connect(pipe);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (alive) throw new PipeBusy(`another service is listening on ${pipe}`);
  fs.rmSync(pipe, { force: true });
}
