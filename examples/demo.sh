#!/usr/bin/env bash
# The ARMS demo: a service in a temporary home, a few lines logged the way group scripts log them,
# the logs as an operator reads them, and a clean stop. Run it with `npm run demo`.
#   --keep   leave the temporary home in place to look around afterwards
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export PATH="$root/dist/path:$PATH"
export ARMS_HOME
ARMS_HOME=$(mktemp -d "${TMPDIR:-/tmp}/arms-demo.XXXXXX")
keep=${1:-}
cleanup() {
  arms service stop >/dev/null 2>&1 || true
  if [ "$keep" = "--keep" ]; then echo "(home kept: $ARMS_HOME)"; else rm -rf "$ARMS_HOME"; fi
}
trap cleanup EXIT

step() {
  local shown=() a
  for a in "$@"; do [[ $a == *[[:space:]]* ]] && shown+=("\"$a\"") || shown+=("$a"); done
  printf '\n\033[1m$ %s\033[0m\n' "${shown[*]}"
  "$@"
}

# The example group WEB (examples/groups/web): a small HTTP service on loopback whose data lives on
# a "disk" (a folder here; its activate command stands in for a mount).
export WEB_PORT WEB_DATA="$ARMS_HOME/data/web"
WEB_PORT=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
cat >"$ARMS_HOME/arms.yaml" <<YAML
server: DEMOSRV
groups:
  WEB:
    policy: [DEMOSRV]
    dir: $root/examples/groups/web
    start: start.sh
    stop: stop.sh
    timeouts: { start: 30s, stop: 30s }
    disks:
      - path: $WEB_DATA
        activate: mkdir -p "$WEB_DATA"
  LEGACY:                    # the same application, run by legacy START.BAT/STOP.BAT unchanged
    dir: $root/examples/groups/legacy
    start: START.BAT
    stop: STOP.BAT
    timeouts: { start: 30s, stop: 30s }
    disks:
      - path: $WEB_DATA
log:
  maxSize: 10MB
  keep: 5
YAML
echo "ARMS demo, home $ARMS_HOME"

step arms check
step arms service start
step arms status
step arms group start WEB
step arms status
step node -e "fetch('http://127.0.0.1:$WEB_PORT/').then(r => r.text()).then(t => process.stdout.write(t))"
step node -e "fetch('http://127.0.0.1:$WEB_PORT/').then(r => r.text()).then(t => process.stdout.write(t))"
step armlog "demo: a line from armlog"
ARMS_GROUPNAME=WEB step ARMLOG "an operator note for WEB" /ARM
step ARMLOG "what is /ARM?" /BOGUS || echo "(exit code $?: a usage error, as scripts expect)"
step arms status
echo "(the application crashes: its watch restarts it)"
kill -9 "$(arms status --json | node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>console.log(JSON.parse(s).watches.find(w=>w.id==='WWW').pid))")"
sleep 1
step arms status
step ARMFOVER /W WEB
step node -e "fetch('http://127.0.0.1:$WEB_PORT/').then(r => r.text()).then(t => process.stdout.write(t))"
step arms group stop WEB
echo "(the LEGACY group: START.BAT and STOP.BAT in the 2002 dialect, run by the batch interpreter)"
step arms group start LEGACY
step node -e "fetch('http://127.0.0.1:$WEB_PORT/').then(r => r.text()).then(t => process.stdout.write(t))"
step arms status
step ARMFOVER /W LEGACY
step arms group stop LEGACY
step arms status
step arms group start NOSUCH || echo "(exit code $?: unknown group)"
step arms run "$root/examples/groups/web/start.sh" --event RECOVER
step ARMSETCD RESULT 2
step ARMGETCD RESULT || echo "(exit code $?: the value, as ERRORLEVEL)"
step arms log --group web -n 40
step arms log --alert
step arms service stop
step ARMLOG "is anyone there?" || echo "(exit code $?: the service is not running)"
