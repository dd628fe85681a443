#!/usr/bin/env bash
# Builds the Windows programs of ARMS with Debian's mingw-w64 cross compiler (apt-get install
# gcc-mingw-w64-x86-64): the command launcher template, bin/win/launcher.exe, from
# src/platform/win-launcher.c (writeCommandsDir copies it once per command), and the native host,
# bin/win/arms-host.exe, from src/platform/win-host.c (the Windows service, process groups, the
# Event Log; its message table from src/platform/win-host.mc, with windmc and windres of the same
# mingw-w64). Both are committed: installs and CI don't build them.
#
#   scripts/build-launcher.sh            rebuild both
#   scripts/build-launcher.sh OUT.exe    build the launcher into OUT.exe
#   scripts/build-launcher.sh --check    exit 0 if both committed .exe are what their sources build to
#
# The build is deterministic (no timestamp, no paths, stripped): the same source and the same
# compiler give the same bytes, which is what --check relies on. A different compiler version gives
# different bytes; the compiler that built the committed file is named in it ("GCC: (GNU) ...").
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cc=${MINGW_CC:-x86_64-w64-mingw32-gcc}
command -v "$cc" >/dev/null || { echo "build-launcher.sh: $cc not found (apt-get install gcc-mingw-w64-x86-64)" >&2; exit 127; }

# name of the source in src/platform : name of the .exe in bin/win
programs="win-launcher:launcher win-host:arms-host"
# libraries beyond the compiler's defaults, per source
libs() { case $1 in win-host) echo -lcrypt32 ;; esac; }

build() { # SOURCE-NAME OUT
  # Built in a temporary folder from a copy, so no path of this machine can reach the binary.
  local work; work=$(mktemp -d)
  cp "$root/src/platform/$1.c" "$work/program.c"
  local res=
  # A message table (SOURCE-NAME.mc, the Event Log's messages): windmc, then windres, linked in.
  if [ -f "$root/src/platform/$1.mc" ]; then
    cp "$root/src/platform/$1.mc" "$work/messages.mc"
    (cd "$work" && "${cc%gcc}windmc" -U messages.mc && "${cc%gcc}windres" -i messages.rc -o messages.o)
    res=messages.o
  fi
  (cd "$work" && "$cc" -municode -O2 -s -Wall -Wextra -Werror -static \
    -Wl,--no-insert-timestamp -Wl,--build-id=none -o program.exe program.c $res $(libs "$1"))
  mv "$work/program.exe" "$2"
  rm -rf "$work"
}

if [ "${1:-}" = "--check" ]; then
  tmp=$(mktemp)
  trap 'rm -f "$tmp"' EXIT
  bad=0
  for p in $programs; do
    src=${p%%:*} exe=${p##*:} committed=$root/bin/win/${p##*:}.exe
    build "$src" "$tmp"
    if cmp -s "$tmp" "$committed"; then echo "bin/win/$exe.exe matches src/platform/$src.c"; continue; fi
    have=$(strings -n 8 "$committed" 2>/dev/null | grep -m1 '^GCC: ' || echo '?')
    mine=$("$cc" --version | head -1)
    echo "build-launcher.sh: bin/win/$exe.exe is not what src/platform/$src.c builds to (committed: $have; here: $mine); run scripts/build-launcher.sh and commit the result" >&2
    bad=1
  done
  exit $bad
fi
if [ -n "${1:-}" ]; then
  build win-launcher "$1"
  echo "$1 ($(wc -c <"$1") bytes)"
  exit 0
fi
mkdir -p "$root/bin/win"
for p in $programs; do
  out=$root/bin/win/${p##*:}.exe
  build "${p%%:*}" "$out"
  echo "$out ($(wc -c <"$out") bytes)"
done
