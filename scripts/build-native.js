// After tsc: compiles ARMRSP's native probe helper (src/monitors/probe-helper.c: disks, ICMP echoes) into dist/monitors when a
// C compiler is here. Without one (or on Windows) ARMRSP uses the node helper, disk-prober.js: the
// build says so in one line and goes on. Likewise the watches' spawner (src/platform/spawner.c)
// into dist/platform/arms-spawner; without it armsd starts the watched programs with node's spawn.
// And armsd's sd_notify helper (src/platform/sd-notify.c, Linux: systemd's Type=notify and
// watchdog); without it `arms service install` writes a Type=exec unit. And the commands' launcher
// (src/platform/launcher.c, Linux: starts the commands that need no TLS without node reading
// NODE_EXTRA_CA_CERTS) into dist/platform/arms-launch, then dist/path is written again with copies of
// it; without it dist/path keeps the symlinks scripts/make-path.js wrote.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const SRC = path.join(ROOT, 'src', 'monitors', 'probe-helper.c');
// Not "probe-helper": require('./probe-helper') would find the binary before probe-helper.js.
const OUT = path.join(ROOT, 'dist', 'monitors', 'arms-probe');
const say = (line) => process.stdout.write(`build-native: ${line}\n`);

if (process.platform === 'win32') {
  say("skipped on Windows: the disk helper is the node one (disk-prober.js), the watched programs are started with node's spawn");
  process.exit(0);
}
const cc = process.env.CC || 'cc';
if (spawnSync(cc, ['--version'], { stdio: 'ignore' }).error) {
  say(`no C compiler (${cc}): the disk helper is the node one (disk-prober.js), the watched programs are started with node's spawn, dist/path holds symlinks to the commands (node reads NODE_EXTRA_CA_CERTS on every command); Debian: apt-get install gcc libc6-dev`);
  process.exit(0);
}
/** Compiles `src` into `out`; says what happened, and what stands in for it when it failed. */
function build(src, out, args, fallback) {
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const r = spawnSync(cc, ['-O2', '-Wall', '-Wextra', '-o', out, src, ...args], { stdio: 'inherit' });
  if (r.status !== 0) {
    // A compiler that cannot build plain POSIX C (no libc headers) must not break an install; the
    // tests fail on it where a compiler is present, so it is not missed.
    fs.rmSync(out, { force: true });
    say(`${cc} failed on ${path.relative(ROOT, src)} (${r.error ? r.error.message : `exit code ${r.status}`}): ${fallback}`);
    return false;
  }
  say(`built ${path.relative(ROOT, out)}`);
  return true;
}
build(SRC, OUT, ['-pthread', '-lm'], 'the disk helper is the node one (disk-prober.js)');
build(path.join(ROOT, 'src', 'platform', 'spawner.c'), path.join(ROOT, 'dist', 'platform', 'arms-spawner'), ['-pthread'], "armsd starts the watched programs with node's spawn");
if (process.platform === 'linux') {
  build(path.join(ROOT, 'src', 'platform', 'sd-notify.c'), path.join(ROOT, 'dist', 'platform', 'arms-sd-notify'), [], 'armsd cannot tell systemd it is ready (arms service install writes a Type=exec unit)');
}
const commandsDir = path.relative(ROOT, path.join(ROOT, 'dist', 'path'));
if (process.platform === 'linux') {
  const symlinks = `${commandsDir} keeps its symlinks to the commands (node reads NODE_EXTRA_CA_CERTS on every command)`;
  if (build(path.join(ROOT, 'src', 'platform', 'launcher.c'), path.join(ROOT, 'dist', 'platform', 'arms-launch'), ['-s'], symlinks)) {
    const { writeCommandsDir, COMMANDS_DIR } = require('../dist/platform/shims.js');
    const written = writeCommandsDir(COMMANDS_DIR);
    say(
      fs.lstatSync(written[0]).isSymbolicLink()
        ? `dist/platform/arms-launch does not run here: ${symlinks}`
        : `wrote ${commandsDir}: ${written.length} launchers (the commands that need no TLS start without NODE_EXTRA_CA_CERTS)`,
    );
  }
} else {
  say(`${commandsDir} holds symlinks to the commands (the launcher that spares NODE_EXTRA_CA_CERTS is Linux only)`);
}
