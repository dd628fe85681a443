#!/usr/bin/env bash
# Builds the Windows command launcher template, bin/win/launcher.exe, from src/platform/win-launcher.c
# with Debian's mingw-w64 cross compiler (apt-get install gcc-mingw-w64-x86-64). The .exe is
# committed: installs and CI don't build it; writeCommandsDir copies it once per command.
#
#   scripts/build-launcher.sh            rebuild bin/win/launcher.exe
#   scripts/build-launcher.sh OUT.exe    build into OUT.exe
#   scripts/build-launcher.sh --check    exit 0 if bin/win/launcher.exe is what the source builds to
#
# The build is deterministic (no timestamp, no paths, stripped): the same source and the same
# compiler give the same bytes, which is what --check relies on. A different compiler version gives
# different bytes; the compiler that built the committed file is named in it ("GCC: (GNU) ...").
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
src=$root/src/platform/win-launcher.c
committed=$root/bin/win/launcher.exe
cc=${MINGW_CC:-x86_64-w64-mingw32-gcc}
command -v "$cc" >/dev/null || { echo "build-launcher.sh: $cc not found (apt-get install gcc-mingw-w64-x86-64)" >&2; exit 127; }

build() { # OUT
  # Built in a temporary folder from a copy, so no path of this machine can reach the binary.
  local work; work=$(mktemp -d)
  cp "$src" "$work/launcher.c"
  (cd "$work" && "$cc" -municode -O2 -s -Wall -Wextra -Werror -static \
    -Wl,--no-insert-timestamp -Wl,--build-id=none -o launcher.exe launcher.c)
  mv "$work/launcher.exe" "$1"
  rm -rf "$work"
}

if [ "${1:-}" = "--check" ]; then
  tmp=$(mktemp)
  trap 'rm -f "$tmp"' EXIT
  build "$tmp"
  if cmp -s "$tmp" "$committed"; then echo "bin/win/launcher.exe matches src/platform/win-launcher.c"; exit 0; fi
  have=$(strings -n 8 "$committed" 2>/dev/null | grep -m1 '^GCC: ' || echo '?')
  mine=$("$cc" --version | head -1)
  echo "build-launcher.sh: bin/win/launcher.exe is not what src/platform/win-launcher.c builds to (committed: $have; here: $mine); run scripts/build-launcher.sh and commit the result" >&2
  exit 1
fi
out=${1:-$committed}
mkdir -p "$(dirname "$out")"
build "$out"
echo "$out ($(wc -c <"$out") bytes)"
