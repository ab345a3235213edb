#!/usr/bin/env bash
# Builds h3gate (and its tests) into build/, or build-asan/ with --sanitize, or
# the libFuzzer targets into build-fuzz/ with --fuzz (clang).
# Installs missing dependencies first (scripts/setup-deps.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
dir=build
extra=()
for a in "$@"; do
    case $a in
        --sanitize) dir=build-asan; extra+=(-DH3G_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug) ;;
        --fuzz) dir=build-fuzz; export CC=clang; extra+=(-DH3G_FUZZ=ON) ;;
        *) echo "usage: $0 [--sanitize|--fuzz]" >&2; exit 2 ;;
    esac
done
openssl_prefix=$("$here/scripts/setup-deps.sh" | tail -n1)
ngtcp2_prefix=$("$here/scripts/build-ngtcp2.sh" "$openssl_prefix" | tail -n1)
cmake -S "$here" -B "$here/$dir" -DH3G_OPENSSL_ROOT="$openssl_prefix" \
    -DH3G_NGTCP2_ROOT="$ngtcp2_prefix" "${extra[@]}" >/dev/null
cmake --build "$here/$dir" -j"$(nproc)"
echo "built $here/$dir/h3gate" >&2
