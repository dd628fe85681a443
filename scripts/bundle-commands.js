// After tsc: bundles each command (every "bin" of package.json but armsd) into one file,
// dist/bundles/<command>.js, so that starting a command resolves and compiles one file instead of
// the dozen modules behind it. bin/<command>.js runs the bundle; dist/path links to it directly
// (POSIX). armsd stays as tsc wrote it (a long-running service: its start-up is not on a script's
// path). dist/bundles/meta.json says which source files went into which bundle
// (test/light-commands.test.ts reads it).
//
// A bundled file runs from dist/bundles, not from where tsc put it: every __dirname/__filename of
// a module is rewritten to the module's own folder, relative to the bundle's, so paths built from
// them (the batch runner, the probe helper, bin/armsd.js) are the same as unbundled, wherever the
// package is installed.
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const v8 = require('node:v8');
const vm = require('node:vm');

const ROOT = path.resolve(__dirname, '..');
const DIST = path.join(ROOT, 'dist');
const OUT = path.join(DIST, 'bundles');
const say = (line) => process.stdout.write(`bundle-commands: ${line}\n`);

let esbuild = null;
try {
  esbuild = require('esbuild');
} catch {
  /* an install without devDependencies: see main() */
}

const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
/** bundle name -> what it runs (relative to dist/bundles) */
const entries = {};
for (const [name, bin] of Object.entries(pkg.bin)) {
  const cmd = path.basename(bin, '.js');
  if (cmd === 'armsd' || name !== cmd) continue;
  entries[cmd] = `require("../commands/cmdline.js").main(require("../commands/${cmd}.js").command);\n`;
}
// arms: `arms status` is answered by a small bundle of its own (commands/arms/entry.ts); every other
// subcommand loads the full one, arms-main.js (commander and all), from there.
entries.arms = 'require("../commands/arms/entry.js");\n';
entries['arms-main'] = 'require("../commands/arms/main.js");\n';
const ARMS_ENTRY = path.join(DIST, 'commands', 'arms', 'entry.js');

// The Linux launcher (src/platform/launcher.c) starts the commands that make no TLS connection of
// their own without NODE_EXTRA_CA_CERTS, which node 20 reads (every certificate) before any code
// runs: it moves the variable to ARMS_SPARED_NODE_EXTRA_CA_CERTS. First thing, the command puts it
// back, so what it starts or hands its environment to (ARMLOAD's program, `arms run`'s script)
// sees the environment it was given.
const RESTORE =
  'if(process.env.ARMS_SPARED_NODE_EXTRA_CA_CERTS!==undefined){process.env.NODE_EXTRA_CA_CERTS=process.env.ARMS_SPARED_NODE_EXTRA_CA_CERTS;delete process.env.ARMS_SPARED_NODE_EXTRA_CA_CERTS}';
const HEAD = `#!/usr/bin/env node\n${RESTORE}`;

/** In the arms bundle, entry.js's require('./main') is the arms-main bundle (not bundled again). */
const armsMain = {
  name: 'arms-main',
  setup(build) {
    build.onResolve({ filter: /^\.\/main$/ }, (args) => (args.importer === ARMS_ENTRY ? { path: './arms-main.js', external: true } : undefined));
  },
};

/** Rewrites __dirname/__filename of every module under dist/ relative to the bundle's folder. */
const ownPaths = {
  name: 'own-paths',
  setup(build) {
    build.onLoad({ filter: /\.js$/ }, (args) => {
      if (!args.path.startsWith(DIST + path.sep)) return undefined;
      const text = fs.readFileSync(args.path, 'utf8');
      if (!/\b__(dirname|filename)\b/.test(text)) return { contents: text, loader: 'js' };
      const rel = path.relative(OUT, path.dirname(args.path)).split(path.sep).join('/');
      const dir = `require("node:path").join(__dirname, ${JSON.stringify(rel)})`;
      const contents = text
        .replace(/\b__filename\b/g, `require("node:path").join(${dir}, ${JSON.stringify(path.basename(args.path))})`)
        .replace(/\b__dirname\b/g, dir);
      return { contents, loader: 'js' };
    });
  },
};

/**
 * Node 20 has no compile cache of its own (22 has): `<cmd>.js` becomes a loader that runs the bundle,
 * `<cmd>.body.js` (the CommonJS wrapper written around it), from V8's code cache of it,
 * `<cmd>.body.<hash>.cache`, made here with every function compiled: a command then compiles
 * nothing, where it compiled the bundle and then each function it ran (1.5 ms of an ARMLOG's ~8 ms
 * beyond node's own start-up). V8 checks that the cache fits this node (version, flags) and ignores
 * it otherwise: the command compiles as before. It checks the source only by its length: the name
 * carries the hash of the body it was made from, and the loader names that one file.
 */
function withCodeCache(cmd, bodyfile, loaderfile) {
  const body = `(function (exports, require, module, __filename, __dirname) {${fs.readFileSync(bodyfile, 'utf8')}\n})`;
  fs.writeFileSync(bodyfile, body);
  v8.setFlagsFromString('--no-lazy');
  const script = new vm.Script(body, { filename: bodyfile });
  v8.setFlagsFromString('--lazy');
  const hash = crypto.createHash('sha256').update(body).digest('hex').slice(0, 12);
  const cache = `${cmd}.body.${hash}.cache`;
  fs.writeFileSync(path.join(OUT, cache), script.createCachedData());
  const loader = [
    HEAD,
    `// runs ${cmd}.body.js from V8's code cache of it (scripts/bundle-commands.js)`,
    `const fs = require("node:fs"), vm = require("node:vm"), file = __dirname + ${JSON.stringify(`/${cmd}.body.js`)};`,
    'let cachedData;',
    'try {',
    `  cachedData = fs.readFileSync(__dirname + ${JSON.stringify(`/${cache}`)});`,
    '} catch {}',
    'new vm.Script(fs.readFileSync(file, "utf8"), { filename: file, cachedData }).runInThisContext()(exports, require, module, file, __dirname);',
    '',
  ].join('\n');
  fs.writeFileSync(loaderfile, loader, { mode: 0o755 });
}

async function main() {
  fs.rmSync(OUT, { recursive: true, force: true });
  fs.mkdirSync(OUT, { recursive: true });
  const meta = {};
  for (const [cmd, entry] of Object.entries(entries)) {
    const outfile = path.join(OUT, `${cmd}.js`);
    // arms-main (commander, the interpreter: 800 KB) is loaded from arms.js when needed, as it is:
    // a code cache of all of it would cost more to read than compiling the parts one subcommand runs.
    const cached = cmd !== 'arms-main';
    const bodyfile = cached ? path.join(OUT, `${cmd}.body.js`) : outfile;
    if (!esbuild) {
      // Without esbuild (an install without devDependencies) the "bundle" only loads the modules.
      fs.writeFileSync(outfile, `${HEAD}\n${entry}`, { mode: 0o755 });
      continue;
    }
    const stdin = { contents: entry, resolveDir: OUT, sourcefile: `${cmd}-entry.js` };
    const r = await esbuild.build({
      stdin,
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      outfile: bodyfile,
      ...(cached ? {} : { banner: { js: HEAD } }),
      plugins: [armsMain, ownPaths],
      metafile: true,
      logLevel: 'silent',
      legalComments: 'none',
    });
    for (const w of r.warnings) {
      // own-commands.ts loads the commands by computed path on purpose (the unbundled modules)
      if (!/require\(.*path\.join/.test(w.text) && !w.location?.file.includes('own-commands')) say(`warning in ${cmd}: ${w.text} (${w.location?.file}:${w.location?.line})`);
    }
    if (cached) withCodeCache(cmd, bodyfile, outfile);
    fs.chmodSync(outfile, 0o755);
    meta[cmd] = Object.keys(r.metafile.inputs).map((f) => (f.startsWith('<stdin>') ? f : path.relative(ROOT, path.resolve(ROOT, f)).split(path.sep).join('/'))).sort();
  }
  if (!esbuild) {
    say('esbuild is not installed (npm ci installs it): the commands run unbundled');
    return;
  }
  fs.writeFileSync(path.join(OUT, 'meta.json'), JSON.stringify(meta, null, 1) + '\n');
  say(`bundled the commands into ${Object.keys(entries).length} files in ${path.relative(ROOT, OUT)}`);
}

main().catch((e) => {
  process.stderr.write(`bundle-commands: ${e.message}\n`);
  process.exit(1);
});
