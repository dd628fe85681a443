// The environment of a batch run: names are case-insensitive (as in cmd), and a name keeps the
// spelling it was first given (`set path=...` on an existing `Path` keeps `Path`).

export class Vars {
  private map = new Map<string, { name: string; value: string }>();

  constructor(from?: NodeJS.ProcessEnv | Vars) {
    if (from instanceof Vars) {
      for (const [k, v] of from.map) this.map.set(k, { ...v });
    } else if (from) {
      for (const [name, value] of Object.entries(from)) if (value !== undefined) this.set(name, value);
    }
  }

  get(name: string): string | undefined {
    return this.map.get(name.toUpperCase())?.value;
  }

  has(name: string): boolean {
    return this.map.has(name.toUpperCase());
  }

  /** An empty value undefines the name, as `SET NAME=` does. */
  set(name: string, value: string): void {
    const key = name.toUpperCase();
    if (value === '') {
      this.map.delete(key);
      return;
    }
    const old = this.map.get(key);
    this.map.set(key, { name: old ? old.name : name, value });
  }

  copy(): Vars {
    return new Vars(this);
  }

  /** Every variable, sorted by name without regard to case (the order `SET` lists them in). */
  entries(): Array<[string, string]> {
    return [...this.map.values()].sort((a, b) => (a.name.toUpperCase() < b.name.toUpperCase() ? -1 : 1)).map((v) => [v.name, v.value]);
  }

  /** The block a child process gets. */
  toEnv(): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {};
    for (const v of this.map.values()) env[v.name] = v.value;
    return env;
  }
}
