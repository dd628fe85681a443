// After tsc: compiles ARMRSP's native probe helper (src/monitors/probe-helper.c: disks, ICMP echoes) into dist/monitors when a
// C compiler is here. Without one (or on Windows) ARMRSP uses the node helper, disk-prober.js: the
// build says so in one line and goes on. Also armsd's sd_notify helper (src/platform/sd-notify.c,
// Linux: systemd's Type=notify and watchdog); without it `arms service install` writes a Type=exec unit.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const SRC = path.join(ROOT, 'src', 'monitors', 'probe-helper.c');
// Not "probe-helper": require('./probe-helper') would find the binary before probe-helper.js.
const OUT = path.join(ROOT, 'dist', 'monitors', 'arms-probe');
const say = (line) => process.stdout.write(`build-native: ${line}\n`);

if (process.platform === 'win32') {
  say('skipped on Windows: the disk helper is the node one (disk-prober.js)');
  process.exit(0);
}
const cc = process.env.CC || 'cc';
if (spawnSync(cc, ['--version'], { stdio: 'ignore' }).error) {
  say(`no C compiler (${cc}): the disk helper is the node one (disk-prober.js); Debian: apt-get install gcc libc6-dev`);
  process.exit(0);
}
fs.mkdirSync(path.dirname(OUT), { recursive: true });
const r = spawnSync(cc, ['-O2', '-pthread', '-Wall', '-Wextra', '-o', OUT, SRC, '-lm'], { stdio: 'inherit' });
if (r.status !== 0) {
  // A compiler that cannot build plain POSIX C (no libc headers) must not break an install; the
  // tests fail on it where a compiler is present, so it is not missed.
  fs.rmSync(OUT, { force: true });
  say(`${cc} failed (${r.error ? r.error.message : `exit code ${r.status}`}): the disk helper is the node one (disk-prober.js)`);
  process.exit(0);
}
say(`built ${path.relative(ROOT, OUT)}`);

if (process.platform === 'linux') {
  const NOTIFY_SRC = path.join(ROOT, 'src', 'platform', 'sd-notify.c');
  const NOTIFY_OUT = path.join(ROOT, 'dist', 'platform', 'arms-sd-notify');
  fs.mkdirSync(path.dirname(NOTIFY_OUT), { recursive: true });
  const n = spawnSync(cc, ['-O2', '-Wall', '-Wextra', '-o', NOTIFY_OUT, NOTIFY_SRC], { stdio: 'inherit' });
  if (n.status !== 0) {
    fs.rmSync(NOTIFY_OUT, { force: true });
    say(`${cc} failed on the sd_notify helper: armsd cannot tell systemd it is ready (arms service install writes a Type=exec unit)`);
  } else say(`built ${path.relative(ROOT, NOTIFY_OUT)}`);
}
