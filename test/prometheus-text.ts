// A strict reader of the Prometheus text exposition format (version 0.0.4), for the tests: every
// line must be a HELP, a TYPE, a comment or a well-formed sample of a declared family; histograms
// must be cumulative with a +Inf bucket equal to their _count. Throws on the first violation.
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}
export interface Family {
  name: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  help: string;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** As Prometheus reads a value (Go's strconv.ParseFloat): NaN and Inf in any case (prom-client writes "Nan"). */
function number(s: string, line: number): number {
  if (/^\+?inf(inity)?$/i.test(s)) return Infinity;
  if (/^-inf(inity)?$/i.test(s)) return -Infinity;
  if (/^nan$/i.test(s)) return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) throw new Error(`line ${line}: "${s}" is not a number`);
  return Number(s);
}

function unescape(s: string, line: number, quotes: boolean): string {
  return s.replace(/\\(.)/g, (_, c: string) => {
    if (c === 'n') return '\n';
    if (c === '\\') return '\\';
    if (c === '"' && quotes) return '"';
    throw new Error(`line ${line}: unknown escape \\${c}`);
  });
}

/** name{a="x",b="y"} value [timestamp] */
function sample(text: string, line: number): Sample {
  const m = /^([^\s{]+)(?:\{(.*)\})?\s+(\S+)(?:\s+(-?\d+))?$/.exec(text);
  if (!m) throw new Error(`line ${line}: not a sample: ${text}`);
  const [, name, body, value] = m;
  if (!NAME.test(name)) throw new Error(`line ${line}: bad metric name ${name}`);
  const labels: Record<string, string> = {};
  let rest = body ?? '';
  while (rest.length > 0) {
    const l = /^([^=\s]+)="((?:[^"\\]|\\.)*)"\s*(,\s*|$)/.exec(rest);
    if (!l) throw new Error(`line ${line}: bad labels {${body}}`);
    if (!LABEL.test(l[1])) throw new Error(`line ${line}: bad label name ${l[1]}`);
    if (l[1] in labels) throw new Error(`line ${line}: label ${l[1]} twice`);
    labels[l[1]] = unescape(l[2], line, true);
    rest = rest.slice(l[0].length);
  }
  return { name, labels, value: number(value, line) };
}

function familyOf(name: string, families: Map<string, Family>): Family | undefined {
  if (families.has(name)) return families.get(name);
  const m = /^(.*)_(bucket|sum|count)$/.exec(name);
  const f = m ? families.get(m[1]) : undefined;
  if (f && (f.type === 'histogram' || (f.type === 'summary' && m![2] !== 'bucket'))) return f;
  return undefined;
}

export function parsePrometheusText(text: string): Map<string, Family> {
  if (!text.endsWith('\n')) throw new Error('the exposition must end with a newline');
  const families = new Map<string, Family>();
  const closed = new Set<string>();
  let current: Family | null = null;
  text
    .slice(0, -1)
    .split('\n')
    .forEach((raw, i) => {
      const line = i + 1;
      if (raw.trim() === '') return;
      const meta = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s+(.*))?$/.exec(raw);
      if (meta) {
        const [, kind, name, rest = ''] = meta;
        if (!NAME.test(name)) throw new Error(`line ${line}: bad metric name ${name}`);
        if (closed.has(name)) throw new Error(`line ${line}: ${name} described again after its samples`);
        let f = families.get(name);
        if (!f) families.set(name, (f = { name, type: 'untyped', help: '', samples: [] }));
        if (current && current !== f) closed.add(current.name);
        current = f;
        if (kind === 'HELP') f.help = unescape(rest, line, false);
        else {
          if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest)) throw new Error(`line ${line}: unknown type ${rest}`);
          if (f.samples.length) throw new Error(`line ${line}: TYPE of ${name} after its samples`);
          f.type = rest as Family['type'];
        }
        return;
      }
      if (raw.startsWith('#')) return;
      const s = sample(raw, line);
      const f = familyOf(s.name, families);
      if (!f) throw new Error(`line ${line}: ${s.name} belongs to no family declared with TYPE`);
      if (f !== current || closed.has(f.name)) throw new Error(`line ${line}: samples of ${f.name} are not together`);
      if (f.type === 'counter' && !(s.value >= 0)) throw new Error(`line ${line}: counter ${s.name} is ${s.value}`);
      f.samples.push(s);
    });

  for (const f of families.values()) {
    if (f.type !== 'histogram') continue;
    const series = new Map<string, { buckets: Array<[number, number]>; count?: number }>();
    for (const s of f.samples) {
      const { le, ...rest } = s.labels;
      const key = JSON.stringify(Object.entries(rest).sort());
      const e = series.get(key) ?? { buckets: [] };
      series.set(key, e);
      if (s.name === `${f.name}_bucket`) {
        if (le === undefined) throw new Error(`${f.name}: a bucket without le`);
        e.buckets.push([number(le, 0), s.value]);
      } else if (s.name === `${f.name}_count`) e.count = s.value;
    }
    for (const [key, e] of series) {
      const sorted = [...e.buckets].sort((a, b) => a[0] - b[0]);
      sorted.forEach(([, v], i) => {
        if (i > 0 && v < sorted[i - 1][1]) throw new Error(`${f.name}${key}: buckets are not cumulative`);
      });
      const inf = sorted.find(([le]) => le === Infinity);
      if (!inf) throw new Error(`${f.name}${key}: no +Inf bucket`);
      if (inf[1] !== e.count) throw new Error(`${f.name}${key}: the +Inf bucket (${inf[1]}) is not the count (${e.count})`);
    }
  }
  return families;
}
