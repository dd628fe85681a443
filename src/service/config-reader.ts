// Reading arms.yaml's tree: each value checked where it is, every problem kept with its line (so
// that "arms check" reports them all at once), sizes and durations in the config's notation.
import { isMap, isScalar, isSeq, LineCounter, Node, YAMLMap } from 'yaml';
import type { ConfigProblem } from './config';

const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$/;

/** Walks the YAML tree, collecting every problem with its line rather than stopping at the first. */
export class Reader {
  problems: ConfigProblem[] = [];
  constructor(
    public file: string,
    private lines: LineCounter,
  ) {}

  line(node: Node | null | undefined): number {
    return node?.range ? this.lines.linePos(node.range[0]).line : 1;
  }

  problem(node: Node | null | undefined, message: string): void {
    this.problems.push({ file: this.file, line: this.line(node), message });
  }

  /** Calls the handler of each key; an unknown key is a problem naming the known ones. */
  map(node: Node | null, where: string, handlers: Record<string, (value: Node | null) => void>): void {
    if (!isMap(node)) {
      this.problem(node, `${where}: expected a mapping (${Object.keys(handlers).join(':, ')}:)`);
      return;
    }
    for (const pair of (node as YAMLMap).items) {
      const key = pair.key as Node | null;
      const name = isScalar(key) ? String(key.value) : '';
      const handler = Object.prototype.hasOwnProperty.call(handlers, name) ? handlers[name] : undefined;
      if (handler) handler(pair.value as Node | null);
      else this.problem(key, `${where ? where + ': ' : ''}unknown setting "${name}" (expected one of: ${Object.keys(handlers).join(', ')})`);
    }
  }

  string(node: Node | null, where: string, what = 'a string'): string | undefined {
    if (isScalar(node) && (typeof node.value === 'string' || typeof node.value === 'number') && String(node.value).length > 0) return String(node.value);
    this.problem(node, `${where}: expected ${what}`);
    return undefined;
  }

  name(node: Node | null, where: string): string | undefined {
    const s = this.string(node, where, 'a name (letters, digits, "_", "-", ".")');
    if (s !== undefined && !NAME.test(s)) {
      this.problem(node, `${where}: expected a name (letters, digits, "_", "-", "."), got "${s}"`);
      return undefined;
    }
    return s;
  }

  bool(node: Node | null, where: string): boolean | undefined {
    if (isScalar(node) && typeof node.value === 'boolean') return node.value;
    this.problem(node, `${where}: expected true or false`);
    return undefined;
  }

  int(node: Node | null, where: string, min: number, max: number): number | undefined {
    if (isScalar(node) && Number.isInteger(node.value) && (node.value as number) >= min && (node.value as number) <= max) return node.value as number;
    this.problem(node, `${where}: expected a whole number from ${min} to ${max}`);
    return undefined;
  }

  size(node: Node | null, where: string): number | undefined {
    const n = isScalar(node) ? parseSize(String(node.value)) : null;
    if (n === null) this.problem(node, `${where}: expected a size such as 10MB, 512KB or 1048576 (at least 1KB)`);
    return n ?? undefined;
  }

  /** seconds */
  duration(node: Node | null, where: string): number | undefined {
    const n = isScalar(node) ? parseDuration(String(node.value)) : null;
    if (n === null) this.problem(node, `${where}: expected a duration such as 300s, 5m, 1h (a bare number is seconds)`);
    return n ?? undefined;
  }

  /** seconds; 0 allowed */
  durationOrZero(node: Node | null, where: string): number | undefined {
    if (isScalar(node) && /^\s*0+(\.0*)?\s*[A-Za-z]*\s*$/.test(String(node.value)) && parseDuration(String(node.value).replace(/^\s*0+(\.0*)?/, '1')) !== null) return 0;
    return this.duration(node, where);
  }

  /**
   * A mapping of names (case-insensitive, unique) to settings: `read` gets each name, its value and
   * the line of its name; a name given twice is a problem.
   */
  named<T>(node: Node | null, where: string, what: string, read: (name: string, value: Node | null, line: number) => T | undefined): T[] {
    const out: T[] = [];
    if (!isMap(node)) {
      this.problem(node, `${where}: expected a mapping of ${what}`);
      return out;
    }
    const seen = new Set<string>();
    for (const pair of (node as YAMLMap).items) {
      const keyNode = pair.key as Node | null;
      const name = this.name(keyNode, `${where}: name`);
      if (name === undefined) continue;
      if (seen.has(name.toUpperCase())) {
        this.problem(keyNode, `${where}: "${name}" is declared twice (names are case-insensitive)`);
        continue;
      }
      seen.add(name.toUpperCase());
      const v = read(name, pair.value as Node | null, this.line(keyNode));
      if (v !== undefined) out.push(v);
    }
    return out;
  }

  list<T>(node: Node | null, where: string, item: (n: Node | null, where: string) => T | undefined): T[] {
    if (!isSeq(node)) {
      this.problem(node, `${where}: expected a list`);
      return [];
    }
    const out: T[] = [];
    node.items.forEach((n, i) => {
      const v = item(n as Node | null, `${where}[${i}]`);
      if (v !== undefined) out.push(v);
    });
    return out;
  }
}

const SIZE_UNITS: Record<string, number> = { '': 1, B: 1, K: 1024, KB: 1024, KIB: 1024, M: 1024 ** 2, MB: 1024 ** 2, MIB: 1024 ** 2, G: 1024 ** 3, GB: 1024 ** 3, GIB: 1024 ** 3 };

export function parseSize(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$/.exec(text);
  if (!m) return null;
  const unit = SIZE_UNITS[m[2].toUpperCase()];
  if (unit === undefined) return null;
  const n = Math.round(Number(m[1]) * unit);
  return n >= 1024 ? n : null;
}

const DURATION_UNITS: Record<string, number> = { '': 1, MS: 0.001, S: 1, SEC: 1, M: 60, MIN: 60, H: 3600, D: 86400 };

/** seconds */
export function parseDuration(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$/.exec(text);
  if (!m) return null;
  const unit = DURATION_UNITS[m[2].toUpperCase()];
  if (unit === undefined) return null;
  const n = Number(m[1]) * unit;
  return n > 0 ? n : null;
}
