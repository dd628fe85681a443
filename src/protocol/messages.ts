// The control pipe's messages: one JSON object per line, each way.
//
//   request  {"v":1,"id":7,"op":"log","args":{...}}
//   answer   {"v":1,"id":7,"ok":true,"result":{...}}
//            {"v":1,"id":7,"ok":false,"error":{"code":"usage","message":"..."}}
//
// An answer to a line that could not be read as a request has "id": null.

export const PROTOCOL_VERSION = 1;
/** The longest request line the service accepts, newline excluded. */
export const MAX_FRAME = 1024 * 1024;

export type Id = number | string;

export interface Request {
  v: number;
  id: Id;
  op: string;
  args: Record<string, unknown>;
}

export type ErrorCode =
  | 'failed'
  | 'usage'
  | 'bad_request'
  | 'too_large'
  | 'version'
  | 'unknown_op'
  | 'not_found'
  | 'conflict'
  | 'cannot_start'
  | 'shutting_down'
  | 'internal';

export interface WireError {
  code: ErrorCode;
  message: string;
}

export type Answer =
  | { v: number; id: Id | null; ok: true; result: unknown }
  | { v: number; id: Id | null; ok: false; error: WireError };

/** commands.md §0: what each error means to a script's ERRORLEVEL. */
export const EXIT_CODE: Record<ErrorCode, number> = {
  failed: 1,
  usage: 2,
  bad_request: 2,
  too_large: 2,
  version: 2,
  unknown_op: 2,
  not_found: 4,
  conflict: 5,
  cannot_start: 6,
  shutting_down: 3,
  internal: 1,
};

export class ProtocolError extends Error {
  constructor(
    public code: ErrorCode,
    message: string,
    public id: Id | null = null,
  ) {
    super(message);
  }
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function isId(x: unknown): x is Id {
  return (typeof x === 'number' && Number.isSafeInteger(x) && x >= 0) || (typeof x === 'string' && x.length > 0 && x.length <= 64);
}

/** Reads one line as a request; throws ProtocolError (with the id when it could be read). */
export function parseRequest(line: string): Request {
  let msg: unknown;
  try {
    msg = JSON.parse(line);
  } catch {
    throw new ProtocolError('bad_request', 'not a JSON message');
  }
  if (!isObject(msg)) throw new ProtocolError('bad_request', 'a request must be a JSON object');
  const id = isId(msg.id) ? msg.id : null;
  if (msg.v !== PROTOCOL_VERSION) {
    throw new ProtocolError('version', `protocol version ${JSON.stringify(msg.v ?? null)} is not supported (this service speaks ${PROTOCOL_VERSION})`, id);
  }
  if (id === null) throw new ProtocolError('bad_request', '"id" must be a non-negative integer or a string of 1-64 characters');
  if (typeof msg.op !== 'string' || msg.op.length === 0 || msg.op.length > 64) {
    throw new ProtocolError('bad_request', '"op" must be a short string', id);
  }
  const args = msg.args ?? {};
  if (!isObject(args)) throw new ProtocolError('bad_request', '"args" must be an object', id);
  return { v: msg.v, id, op: msg.op, args };
}

/** Reads one line as an answer; throws ProtocolError when the service said something unreadable. */
export function parseAnswer(line: string): Answer {
  let msg: unknown;
  try {
    msg = JSON.parse(line);
  } catch {
    throw new ProtocolError('bad_request', 'the service sent a line that is not JSON');
  }
  if (!isObject(msg) || msg.v !== PROTOCOL_VERSION || typeof msg.ok !== 'boolean' || !(msg.id === null || isId(msg.id))) {
    throw new ProtocolError('version', 'the service answered in a protocol this command does not speak (versions differ?)');
  }
  if (msg.ok) return { v: msg.v, id: msg.id, ok: true, result: msg.result ?? null };
  const err = msg.error;
  if (!isObject(err) || typeof err.code !== 'string' || typeof err.message !== 'string' || !(err.code in EXIT_CODE)) {
    throw new ProtocolError('version', 'the service sent an error this command cannot read');
  }
  return { v: msg.v, id: msg.id, ok: false, error: { code: err.code as ErrorCode, message: err.message } };
}

export function encode(msg: Request | Answer): string {
  return JSON.stringify(msg) + '\n';
}

// Small checkers for the arguments of each operation. Each throws a 'usage' ProtocolError naming
// the argument, so a bad request from any client gets a one-line answer.

export function str(args: Record<string, unknown>, name: string, opts: { optional?: boolean; max?: number } = {}): string | undefined {
  const v = args[name];
  if (v === undefined || v === null) {
    if (opts.optional) return undefined;
    throw new ProtocolError('usage', `"${name}" is required`);
  }
  if (typeof v !== 'string') throw new ProtocolError('usage', `"${name}" must be a string`);
  if (opts.max !== undefined && Buffer.byteLength(v) > opts.max) {
    throw new ProtocolError('usage', `"${name}" is ${Buffer.byteLength(v)} bytes; at most ${opts.max} are accepted`);
  }
  return v;
}

export function int(args: Record<string, unknown>, name: string, opts: { optional?: boolean; min?: number; max?: number } = {}): number | undefined {
  const v = args[name];
  if (v === undefined || v === null) {
    if (opts.optional) return undefined;
    throw new ProtocolError('usage', `"${name}" is required`);
  }
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new ProtocolError('usage', `"${name}" must be an integer`);
  if ((opts.min !== undefined && v < opts.min) || (opts.max !== undefined && v > opts.max)) {
    throw new ProtocolError('usage', `"${name}" must be between ${opts.min ?? '-inf'} and ${opts.max ?? 'inf'}`);
  }
  return v;
}

export function bool(args: Record<string, unknown>, name: string): boolean {
  const v = args[name];
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') throw new ProtocolError('usage', `"${name}" must be true or false`);
  return v;
}

export function oneOf<T extends string>(args: Record<string, unknown>, name: string, values: readonly T[], fallback: T): T {
  const v = args[name];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) {
    throw new ProtocolError('usage', `"${name}" must be one of ${values.join(', ')}`);
  }
  return v as T;
}
