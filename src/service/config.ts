// arms.yaml: read, validated, every mistake reported with file and line. A missing file is an
// empty config (every value has a default).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isMap, isScalar, LineCounter, Node, parseDocument, Scalar, YAMLMap } from 'yaml';
import { RotationPolicy } from './rotating-file';

export interface Config {
  file: string;
  /** this server's name */
  server: string;
  log: { cluster: RotationPolicy; alert: RotationPolicy };
  /** false: alerts stay out of the system log; a string: the syslog socket `logger` uses */
  syslog: boolean | string;
}

export interface ConfigProblem {
  file: string;
  line: number;
  message: string;
}

export class ConfigInvalid extends Error {
  constructor(public problems: ConfigProblem[]) {
    super(problems.map(formatProblem).join('\n'));
  }
}

export function formatProblem(p: ConfigProblem): string {
  return `${p.file}:${p.line}: ${p.message}`;
}

export const CONFIG_NAME = 'arms.yaml';

const DEFAULT_LOG: RotationPolicy = { maxBytes: 10 * 1024 * 1024, keep: 5 };

function defaults(file: string): Config {
  return {
    file,
    server: os.hostname().split('.')[0].toUpperCase(),
    log: { cluster: { ...DEFAULT_LOG }, alert: { ...DEFAULT_LOG } },
    syslog: true,
  };
}

export function loadConfig(dir: string): Config {
  const file = path.join(dir, CONFIG_NAME);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return defaults(file);
    throw new ConfigInvalid([{ file, line: 0, message: `cannot read: ${(e as Error).message}` }]);
  }
  return parseConfig(text, file);
}

export function parseConfig(text: string, file: string): Config {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const problems: ConfigProblem[] = doc.errors.map((e) => ({
    file,
    line: e.linePos?.[0].line ?? 0,
    message: e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, ''),
  }));
  const config = defaults(file);
  if (problems.length > 0) throw new ConfigInvalid(problems);

  const lineOf = (node: Node | null | undefined) => (node?.range ? lines.linePos(node.range[0]).line : 1);
  const problem = (node: Node | null | undefined, message: string) => problems.push({ file, line: lineOf(node), message });

  const root = doc.contents;
  if (root === null || (isScalar(root) && root.value === null)) return config;
  if (!isMap(root)) {
    problem(root, 'expected a mapping of settings (server:, log:, ...)');
    throw new ConfigInvalid(problems);
  }

  forEachKey(root, problem, {
    server(v) {
      if (isScalar(v) && typeof v.value === 'string' && /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/.test(v.value)) config.server = v.value;
      else problem(v, 'server: expected a server name (letters, digits, "_", "-", ".")');
    },
    log(v) {
      if (!isMap(v)) return problem(v, 'log: expected a mapping (maxSize:, keep:, cluster:, alert:)');
      const apply = (target: RotationPolicy[], m: YAMLMap, where: string) =>
        forEachKey(m, problem, {
          maxSize(s) {
            const n = parseSize(s);
            if (n === null) problem(s, `${where}.maxSize: expected a size such as 10MB, 512KB or 1048576 (at least 1KB)`);
            else for (const t of target) t.maxBytes = n;
          },
          keep(s) {
            if (isScalar(s) && Number.isInteger(s.value) && (s.value as number) >= 0 && (s.value as number) <= 100) {
              for (const t of target) t.keep = s.value as number;
            } else problem(s, `${where}.keep: expected how many rotated files to keep, 0 to 100`);
          },
        }, where);
      const all = [config.log.cluster, config.log.alert];
      const own: Record<string, (n: Node | null) => void> = {};
      for (const name of ['cluster', 'alert'] as const) {
        own[name] = (n) => (isMap(n) ? apply([config.log[name]], n, `log.${name}`) : problem(n, `log.${name}: expected a mapping (maxSize:, keep:)`));
      }
      // maxSize/keep at the top of log: apply to every log, the named sections override them.
      const shared = new YAMLMap();
      shared.items = v.items.filter((p) => isScalar(p.key) && ['maxSize', 'keep'].includes(String((p.key as Scalar).value)));
      apply(all, shared, 'log');
      forEachKey(v, problem, { ...own, maxSize() {}, keep() {} }, 'log');
    },
    syslog(v) {
      if (isScalar(v) && typeof v.value === 'boolean') config.syslog = v.value;
      else if (isScalar(v) && typeof v.value === 'string' && v.value.length > 0) config.syslog = v.value;
      else problem(v, 'syslog: expected true, false, or the path of a syslog socket');
    },
  });
  if (problems.length > 0) throw new ConfigInvalid(problems);
  return config;
}

function forEachKey(
  map: YAMLMap,
  problem: (node: Node | null | undefined, message: string) => void,
  handlers: Record<string, (value: Node | null) => void>,
  where?: string,
): void {
  for (const pair of map.items) {
    const key = pair.key as Node | null;
    const name = isScalar(key) ? String(key.value) : '';
    const handler = Object.prototype.hasOwnProperty.call(handlers, name) ? handlers[name] : undefined;
    if (!handler) {
      const known = Object.keys(handlers).join(', ');
      problem(key, `${where ? where + ': ' : ''}unknown setting "${name}" (expected one of: ${known})`);
      continue;
    }
    handler(pair.value as Node | null);
  }
}

const UNITS: Record<string, number> = { '': 1, B: 1, K: 1024, KB: 1024, KIB: 1024, M: 1024 ** 2, MB: 1024 ** 2, MIB: 1024 ** 2, G: 1024 ** 3, GB: 1024 ** 3, GIB: 1024 ** 3 };

export function parseSize(node: Node | null): number | null {
  if (!isScalar(node)) return null;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$/.exec(String(node.value));
  if (!m) return null;
  const unit = UNITS[m[2].toUpperCase()];
  if (unit === undefined) return null;
  const n = Math.round(Number(m[1]) * unit);
  return n >= 1024 ? n : null;
}
