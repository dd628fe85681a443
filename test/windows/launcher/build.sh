#!/usr/bin/env bash
# Builds the Windows command launcher (launcher.exe) with Debian's mingw-w64 cross compiler:
#   apt-get install gcc-mingw-w64-x86-64
#   test/windows/launcher/build.sh [OUT.exe]      (default: test/windows/launcher/launcher.exe)
# The result is a template: an installer appends a trailer naming node and the script (see
# launcher.c and write-exe-commands.ts) and copies it once per command name.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/launcher.exe}
cc=${MINGW_CC:-x86_64-w64-mingw32-gcc}
command -v "$cc" >/dev/null || { echo "build.sh: $cc not found (apt-get install gcc-mingw-w64-x86-64)" >&2; exit 127; }
"$cc" -municode -O2 -s -Wall -Wextra -Werror -static -o "$out" "$here/launcher.c"
echo "$out"
