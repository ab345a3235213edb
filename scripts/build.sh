#!/usr/bin/env bash
# Builds h3gate (and its tests) into build/, or build-asan/ with --sanitize, or
# the libFuzzer targets into build-fuzz/ with --fuzz (clang), or a release
# build on another OpenSSL branch into build-osslXY/ with --openssl X.Y (e.g.
# 3.5: the newest cached build of that branch, else one built from Debian's
# source package).  Installs missing dependencies first (scripts/setup-deps.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
dir=build
extra=()
usage() { echo "usage: $0 [--sanitize|--fuzz|--openssl X.Y]" >&2; exit 2; }
while [ $# -gt 0 ]; do
    case $1 in
        --sanitize) dir=build-asan; extra+=(-DH3G_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug) ;;
        --fuzz) dir=build-fuzz; export CC=clang; extra+=(-DH3G_FUZZ=ON) ;;
        --openssl)
            [[ ${2:-} =~ ^[0-9]+\.[0-9]+$ ]] || usage
            export H3GATE_OPENSSL_BRANCH=$2
            dir=build-ossl${2//./}
            shift ;;
        *) usage ;;
    esac
    shift
done
openssl_prefix=$("$here/scripts/setup-deps.sh" | tail -n1)
ngtcp2_prefix=$("$here/scripts/build-ngtcp2.sh" "$openssl_prefix" | tail -n1)
# CMake caches the libraries it found: another OpenSSL needs a fresh configure.
stamp="$here/$dir/.openssl-prefix"
if [ -f "$here/$dir/CMakeCache.txt" ] && [ "$(cat "$stamp" 2>/dev/null)" != "$openssl_prefix" ]; then
    echo "build: OpenSSL is now '$openssl_prefix': reconfiguring $dir" >&2
    rm -f "$here/$dir/CMakeCache.txt"
fi
mkdir -p "$here/$dir"
echo "$openssl_prefix" > "$stamp"
cmake -S "$here" -B "$here/$dir" -DH3G_OPENSSL_ROOT="$openssl_prefix" \
    -DH3G_NGTCP2_ROOT="$ngtcp2_prefix" "${extra[@]}" >/dev/null
cmake --build "$here/$dir" -j"$(nproc)"
echo "built $here/$dir/h3gate" >&2
