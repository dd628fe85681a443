// The one way every command reaches the service: connect to the pipe, send requests, read the
// answers. Only node's own modules here: every command loads this on every call; `net` only when
// node's pipe handle cannot be used directly (raw-pipe.ts).
import type * as net from 'node:net';
import { lineSplitter } from '../protocol/framing';
import { Answer, ErrorCode, EXIT_CODE, Id, parseAnswer, PROTOCOL_VERSION, ProtocolError, encode } from '../protocol/messages';
import { available as rawAvailable, connectRaw, RawSocket } from './raw-pipe';

/** An error a command reports as one line and turns into its exit code. */
export class CommandError extends Error {
  constructor(
    message: string,
    public exitCode: number,
  ) {
    super(message);
  }
}

export const EXIT_UNREACHABLE = 3;

export interface Connection {
  request(op: string, args?: Record<string, unknown>, timeoutMs?: number): Promise<unknown>;
  /** ends the connection once what was written is sent */
  close(): void;
  /** drops the connection at once */
  destroy(): void;
}

export async function connect(pipe: string, timeoutMs = 5000): Promise<Connection> {
  // EAGAIN: the service's queue of connections waiting to be accepted is full for a moment (a
  // client flooding it with connections): try again rather than give up.
  const deadline = Date.now() + timeoutMs;
  for (let wait = 5; ; wait = Math.min(wait * 2, 100)) {
    try {
      return await connectOnce(pipe, Math.max(deadline - Date.now(), 1));
    } catch (e) {
      if (!(e instanceof Busy) || Date.now() + wait >= deadline) throw e instanceof Busy ? e.error : e;
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}

class Busy extends Error {
  constructor(public error: CommandError) {
    super(error.message);
  }
}

function connectOnce(pipe: string, timeoutMs: number): Promise<Connection> {
  return new Promise((resolve, reject) => {
    const socket: net.Socket | RawSocket = rawAvailable() ? connectRaw(pipe) : (require('node:net') as typeof net).connect(pipe);
    const pending = new Map<Id, { resolve(v: unknown): void; reject(e: Error): void; timer?: NodeJS.Timeout }>();
    let nextId = 1;
    let broken: Error | null = null;

    const failAll = (err: Error) => {
      broken = err;
      for (const p of pending.values()) {
        if (p.timer) clearTimeout(p.timer);
        p.reject(err);
      }
      pending.clear();
    };

    const connectTimer = setTimeout(() => {
      socket.destroy();
      reject(new CommandError(`the service did not accept a connection on ${pipe} within ${timeoutMs / 1000} s`, EXIT_UNREACHABLE));
    }, timeoutMs);

    socket.once('connect', () => {
      clearTimeout(connectTimer);
      resolve({
        request(op, args = {}, reqTimeoutMs = 30_000) {
          if (broken) return Promise.reject(broken);
          const id = nextId++;
          return new Promise((res, rej) => {
            const entry: { resolve(v: unknown): void; reject(e: Error): void; timer?: NodeJS.Timeout } = { resolve: res, reject: rej };
            if (reqTimeoutMs > 0) {
              entry.timer = setTimeout(() => {
                pending.delete(id);
                rej(new CommandError(`no answer from the service on ${pipe} within ${reqTimeoutMs / 1000} s`, EXIT_UNREACHABLE));
              }, reqTimeoutMs);
            }
            pending.set(id, entry);
            socket.write(encode({ v: PROTOCOL_VERSION, id, op, args }));
          });
        },
        close() {
          socket.end();
        },
        destroy() {
          socket.destroy();
        },
      });
    });

    // No ceiling on an answer: a status grows with the installation (the service caps requests).
    socket.on('data', lineSplitter(Number.MAX_SAFE_INTEGER, {
      line(text) {
        let answer: Answer;
        try {
          answer = parseAnswer(text);
        } catch (e) {
          failAll(new CommandError((e as Error).message, EXIT_CODE[(e as ProtocolError).code]));
          socket.destroy();
          return;
        }
        if (answer.id === null) {
          // The service could not read one of our lines: nothing to match it to, so fail everything.
          if (!answer.ok) failAll(answerError(answer.error.code, answer.error.message));
          return;
        }
        const p = pending.get(answer.id);
        if (!p) return;
        pending.delete(answer.id);
        if (p.timer) clearTimeout(p.timer);
        if (answer.ok) p.resolve(answer.result);
        else p.reject(answerError(answer.error.code, answer.error.message));
      },
      oversized() {
        failAll(new CommandError('the service sent an answer larger than this command accepts', 1));
        socket.destroy();
      },
    }));

    let connected = false;
    socket.once('connect', () => (connected = true));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(connectTimer);
      const e = unreachable(pipe, err);
      reject(!connected && err.code === 'EAGAIN' ? new Busy(e) : e);
      failAll(e);
    });
    socket.on('close', () => failAll(new CommandError(`the service closed the connection on ${pipe} before answering`, EXIT_UNREACHABLE)));
  });
}

function answerError(code: ErrorCode, message: string): CommandError {
  return new CommandError(message, EXIT_CODE[code] ?? 1);
}

function unreachable(pipe: string, err: NodeJS.ErrnoException): CommandError {
  switch (err.code) {
    case 'ENOENT':
    case 'ECONNREFUSED':
      return new CommandError(`the ARMS service is not running (nothing answers on ${pipe}); start it with "arms service start"`, EXIT_UNREACHABLE);
    case 'EACCES':
    case 'EPERM':
      return new CommandError(`permission denied on ${pipe}: the service belongs to another user`, EXIT_UNREACHABLE);
    default:
      return new CommandError(`cannot reach the service on ${pipe}: ${err.message}`, EXIT_UNREACHABLE);
  }
}

/** One request on a connection of its own: what a command does. */
export async function call(pipe: string, op: string, args: Record<string, unknown> = {}, timeoutMs?: number): Promise<unknown> {
  const conn = await connect(pipe);
  try {
    return await conn.request(op, args, timeoutMs);
  } finally {
    // The answer shows the request was read: no need to wait for the service to close its side.
    conn.destroy();
  }
}
