// A batch file read whole before anything runs: its physical lines and where its labels are.
// cmd reads a file line by line while it runs; ARMS reads it once (so a script that rewrites itself
// while running is not followed) and keeps cmd's rules for what a line and a label are.
import { isUtf8 } from 'node:buffer';
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface Problem {
  file: string;
  /** 1-based */
  line: number;
  message: string;
  /** cmd would run it, but it is probably a mistake (a GOTO to a label that is not there): reported, not refused */
  warning?: boolean;
}

export function formatProblem(p: Problem): string {
  return `${p.file}:${p.line}: ${p.warning ? 'warning: ' : ''}${p.message}`;
}

export const isError = (p: Problem): boolean => !p.warning;

export interface Script {
  /** absolute path */
  file: string;
  /** physical lines without their line ends; every CR removed, as cmd does */
  lines: string[];
  /** upper-cased label name → 0-based indices of the lines that carry it, in file order */
  labels: Map<string, number[]>;
  /** a .cmd file: SET clears ERRORLEVEL on success (cmd's one difference between .bat and .cmd) */
  cmdExt: boolean;
  /** found while reading (bytes the encoding has no character for) */
  problems: Problem[];
  /** what the bytes were read as */
  encoding?: Encoding;
}

export class ScriptUnreadable extends Error {}

const cache = new Map<string, Script>();

/** Reads (once per process) and splits a batch file. Throws ScriptUnreadable. */
export function loadScript(file: string): Script {
  const abs = path.resolve(file);
  const known = cache.get(abs);
  if (known) return known;
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(abs);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new ScriptUnreadable(err.code === 'ENOENT' ? `${abs}: no such file` : err.code === 'EISDIR' ? `${abs}: is a folder` : `${abs}: ${err.message}`);
  }
  const script = scriptFromBytes(abs, bytes);
  cache.set(abs, script);
  return script;
}

/** Puts a script made in memory where loadScript finds it (the interpreter's warm-up). */
export function remember(file: string, bytes: Buffer): void {
  cache.set(path.resolve(file), scriptFromBytes(path.resolve(file), bytes));
}

export type Encoding = 'utf-8' | 'shift_jis' | 'utf-16le';
export const ENCODINGS: readonly Encoding[] = ['utf-8', 'shift_jis', 'utf-16le'];

/** An --encoding value (cp932, sjis, utf8, utf-16 ... in any case) as one we decode, or null. */
export function encodingName(given: string): Encoding | null {
  const g = given.toLowerCase().replace(/[^a-z0-9]/g, '');
  if (g === 'utf8') return 'utf-8';
  if (['shiftjis', 'sjis', 'cp932', 'windows31j', 'ms932', 'mskanji'].includes(g)) return 'shift_jis';
  if (g === 'utf16le' || g === 'utf16' || g === 'unicode') return 'utf-16le';
  return null;
}

/** The encoding to read a script in when none is forced: set once per process (main.js --encoding). */
let forced: Encoding | null = null;
export function forceEncoding(e: Encoding | null): void {
  forced = e;
  cache.clear();
}

/**
 * The encoding of a script's bytes, found without being told: a UTF-16LE BOM, a UTF-8 BOM, text
 * that is valid UTF-8; anything else is read as Shift_JIS (CP932), the original product's home.
 */
export function detectEncoding(bytes: Buffer): Encoding {
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return 'utf-16le';
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return 'utf-8';
  return isUtf8(bytes) ? 'utf-8' : 'shift_jis';
}

/** Bytes as text in an encoding (the native decoders for UTF-8 and UTF-16: the first run of a script is on a failover's path). */
export function decodeAs(bytes: Buffer, enc: Encoding): string {
  const text = enc === 'utf-8' ? bytes.toString('utf8') : enc === 'utf-16le' ? bytes.toString('utf16le') : new TextDecoder(enc).decode(bytes);
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text; // a BOM is not text
}

export function scriptFromBytes(file: string, bytes: Buffer, encoding: Encoding | null = forced): Script {
  const problems: Problem[] = [];
  const enc = encoding ?? detectEncoding(bytes);
  // Decoded before anything else looks at it: a Shift_JIS character whose second byte is 0x7C (|)
  // or 0x5C (\) is one character, never a pipe or a path separator.
  let text = decodeAs(bytes, enc);
  const bad = text.indexOf('\uFFFD');
  if (bad !== -1) {
    problems.push({
      file,
      line: text.slice(0, bad).split('\n').length,
      warning: true,
      message: `a byte that is not ${enc === 'shift_jis' ? 'Shift_JIS (CP932)' : enc.toUpperCase()} (read as \uFFFD): give the file's encoding with --encoding, or convert it (iconv -t UTF-8)`,
    });
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  // An old editor's end-of-file mark (Ctrl-Z) ends the text.
  const eof = text.indexOf('\x1a');
  if (eof !== -1) text = text.slice(0, eof);
  const lines = text.split('\n').map((l) => l.replace(/\r/g, ''));
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const labels = new Map<string, number[]>();
  lines.forEach((l, i) => {
    const name = labelOf(l);
    if (name === null) return;
    const key = name.toUpperCase();
    const at = labels.get(key);
    if (at) at.push(i);
    else labels.set(key, [i]);
  });
  return { file, lines, labels, cmdExt: path.extname(file).toLowerCase() === '.cmd', problems, encoding: enc };
}

/** The label a line declares (`:NAME`, after blanks), or null. `::text` declares ":text", which no GOTO reaches. */
export function labelOf(line: string): string | null {
  const m = /^[ \t,;=]*:([^ \t,;=+&<>|]*)/.exec(line);
  return m ? m[1] : null;
}

/**
 * The line GOTO or CALL jumps to: cmd searches from the current position to the end of the file,
 * then from the top, so with two labels of one name the next one down wins. -1: not found.
 */
export function findLabel(script: Script, name: string, from: number): number {
  const at = script.labels.get(name.toUpperCase());
  if (!at) return -1;
  return at.find((i) => i >= from) ?? at[0];
}
