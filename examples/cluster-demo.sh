#!/usr/bin/env bash
# The cluster demo: three etcd members and three armsd (SERVERA, SERVERB, SERVERC) on this machine,
# each server with a home of its own; the guide-style LEGACY group (START.BAT/STOP.BAT) starts on
# SERVERA, and SERVERA is lost (kill -9 of armsd and everything it started): SERVERB takes the
# group over with ARMS_EVENT=FAILOVER. Run it with `npm run demo:cluster`.
#   --keep   leave the temporary folder in place to look around afterwards
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export PATH="$root/dist/path:$PATH"
keep=${1:-}
if ! command -v etcd >/dev/null 2>&1; then
  echo "cluster demo: etcd is not installed. On Debian/Ubuntu: sudo apt-get install etcd-server" >&2
  echo "(or put an etcd 3.4+ binary on PATH: https://etcd.io/docs/latest/install/)" >&2
  exit 1
fi
demo=$(mktemp -d "${TMPDIR:-/tmp}/arms-cluster-demo.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM -- "-$p" 2>/dev/null || true; done
  sleep 1
  for p in "${pids[@]}"; do kill -KILL -- "-$p" 2>/dev/null || true; done
  [ -n "${etcd_pid:-}" ] && kill -TERM "$etcd_pid" 2>/dev/null && wait "$etcd_pid" 2>/dev/null || true
  if [ "$keep" = "--keep" ]; then echo "(kept: $demo)"; else rm -rf "$demo"; fi
}
trap cleanup EXIT

step() {
  local shown=() a
  for a in "$@"; do [[ $a == *[[:space:]]* ]] && shown+=("\"$a\"") || shown+=("$a"); done
  printf '\n\033[1m%s$ %s\033[0m\n' "${ARMS_HOME:+[$(basename "$ARMS_HOME")] }" "${shown[*]}"
  "$@"
}
freeport() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }

echo "ARMS cluster demo in $demo"
echo "(starting three etcd members on free loopback ports: scripts/etcd-cluster.js)"
mkfifo "$demo/etcd.out"
node "$root/scripts/etcd-cluster.js" "$demo/etcd" >"$demo/etcd.out" 2>&1 &
etcd_pid=$!
read -r endpoints <"$demo/etcd.out"
case $endpoints in http*) ;; *) echo "etcd did not start: $endpoints" >&2; exit 1 ;; esac
echo "etcd: $endpoints"

mkdir -p "$demo/disk"
for s in SERVERA SERVERB SERVERC; do
  home="$demo/$s"
  mkdir -p "$home"
  cat >"$home/arms.yaml" <<YAML
server: $s
syslog: false
cluster:
  name: demo
  etcd: [${endpoints//,/, }]
  heartbeatTimeout: 5s
servers: [SERVERA, SERVERB, SERVERC]
groups:
  LEGACY:
    policy: [SERVERA, SERVERB, SERVERC]
    dir: $root/examples/groups/legacy
    start: START.BAT
    stop: STOP.BAT
    timeouts: { start: 30s, stop: 30s }
    disks:
      - path: $demo/disk
YAML
  port=$(freeport)
  echo "$port" >"$home/port"
  # its own session and process group: "losing the server" kills the whole group
  ARMS_HOME=$home WEB_PORT=$port WEB_DATA=$demo/disk setsid armsd >"$home/armsd.out" 2>&1 &
  pids+=($!)
  disown $!
done
for s in SERVERA SERVERB SERVERC; do
  for _ in $(seq 100); do ARMS_HOME=$demo/$s arms status 2>/dev/null | grep -q 'cluster demo: joined' && break; sleep 0.1; done
done

export ARMS_HOME=$demo/SERVERC
step arms check --cluster
step arms status
step arms group start LEGACY
ARMS_HOME=$demo/SERVERA step arms log -n 8 --group LEGACY
step node -e "fetch('http://127.0.0.1:$(cat "$demo/SERVERA/port")/').then(r => r.text()).then(t => process.stdout.write(t))"

echo
echo "(SERVERA is lost: kill -9 of its armsd and of everything it started)"
started=$(date +%s%N)
kill -KILL -- "-${pids[0]}" 2>/dev/null || true
node -e '
const fs = require("fs");
for (const d of fs.readdirSync("/proc").filter((x) => /^\d+$/.test(x))) {
  try { if (fs.readFileSync(`/proc/${d}/environ`, "utf8").split("\0").includes(`ARMS_HOME=${process.argv[1]}`)) process.kill(Number(d), "SIGKILL"); } catch {}
}' "$demo/SERVERA"
for _ in $(seq 300); do arms status --json | grep -q '"owner": "SERVERB"' && break; sleep 0.05; done
echo "LEGACY online on SERVERB $(( ($(date +%s%N) - started) / 1000000 )) ms after the loss (heartbeatTimeout 5 s)"
step arms status
ARMS_HOME=$demo/SERVERB step arms log -n 8 --group LEGACY
step node -e "fetch('http://127.0.0.1:$(cat "$demo/SERVERB/port")/').then(r => r.text()).then(t => process.stdout.write(t))"
echo
echo "(ARMFOVER asked on SERVERC: SERVERB stops the group, SERVERC takes it over)"
step ARMFOVER /W LEGACY
step arms group stop LEGACY
step arms status
