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

cat >"$ARMS_HOME/arms.yaml" <<'YAML'
server: DEMOSRV
log:
  maxSize: 10MB
  keep: 5
YAML
echo "ARMS demo, home $ARMS_HOME"

step arms service start
step arms service status
step armlog "demo: a line from armlog"
ARMS_GROUPNAME=IIS step ARMLOG "NORMAL START IIS GROUP SCRIPT"
ARMS_GROUPNAME=IIS step ARMLOG "ERROR DISK IIS GROUP" /ARM
ARMS_GROUPNAME=IIS step ARMLOG "disk probe failed twice" /L ERR
step ARMLOG "what is /ARM?" /BOGUS || echo "(exit code $?: a usage error, as scripts expect)"
step arms log
step arms log --alert
step arms log --group iis --json
step arms service stop
step ARMLOG "is anyone there?" || echo "(exit code $?: the service is not running)"
