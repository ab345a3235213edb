#!/usr/bin/env bash
# Runs every test: installs what the tests need, builds h3gate normally and with
# ASan+UBSan, and runs the whole CTest suite (unit + integration) on both, then
# a short round on the second OpenSSL branch (build-ossl35/), then each
# libFuzzer target for a short while (H3G_FUZZ_SECONDS, default 15), then a
# smoke run of the benchmark harness.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
status=0
"$here/scripts/build.sh"
# The code keeps .clang-format (clang-format 14, Debian 12's; setup-deps installs it).
echo "== clang-format" >&2
(cd "$here" && git ls-files '*.c' '*.h' | xargs clang-format --dry-run -Werror) || status=1
"$here/scripts/build.sh" --sanitize
# libqtlscompat's interop peers: ngtcp2 from Debian's source package.
"$here/scripts/build-interop.sh" "$here/build"
"$here/scripts/build-interop.sh" "$here/build-asan"
# curl on the shim (a client of the tests; the ASan run uses the release one).
"$here/scripts/build-curl.sh" "$here/build"
mkdir -p "$here/build-asan/tools"
ln -sfn "$(readlink -f "$here/build/tools/curl")" "$here/build-asan/tools/curl"
export H3G_REQUIRE_INTEROP=1
echo "== tests: release build" >&2
(cd "$here/build" && ctest --output-on-failure --timeout 1800) || status=1
echo "== tests: ASan+UBSan build (leak checking on)" >&2
(cd "$here/build-asan" &&
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 H3G_SANITIZE=1 \
    ctest --output-on-failure --timeout 1800) || status=1
# The second OpenSSL branch (3.5, trixie's, cached): a release build against
# it, its unit tests, libqtlscompat's interop matrix (curl on the shim on 3.5
# included) and a few integration tests on both engines.  Warm, this costs about a minute.
echo "== tests: OpenSSL 3.5 build (build-ossl35)" >&2
"$here/scripts/build.sh" --openssl 3.5
"$here/scripts/build-interop.sh" "$here/build-ossl35"
"$here/scripts/build-curl.sh" "$here/build-ossl35"
(cd "$here/build-ossl35" && ctest --output-on-failure -L unit) || status=1
b35="$here/build-ossl35"
(cd "$here/tests/integration" &&
    H3GATE_BIN="$b35/h3gate" H3RAW_BIN="$b35/tests/h3raw" H3G_INTEROP_DIR="$b35/interop" \
    H3G_COMPAT_DIR="$b35/compat" H3G_CURL_BIN="$b35/tools/curl" H3GATE_SOURCE_DIR="$here" \
    /usr/bin/python3 -m pytest -q -p no:cacheprovider test_interop.py test_cli.py::test_version \
        test_static.py -k "interop or version or get_index or ranges or access_log or not_found") \
    || status=1
echo "== fuzz targets (libFuzzer, ${H3G_FUZZ_SECONDS:-15} s each)" >&2
"$here/scripts/build.sh" --fuzz
cmake -S "$here" -B "$here/build-fuzz" -DH3G_FUZZ_SECONDS="${H3G_FUZZ_SECONDS:-15}" >/dev/null
(cd "$here/build-fuzz" && ctest --output-on-failure --timeout 900) || status=1
# The benchmark harness must keep working: one short round of every scenario
# (peers built into the cache on first use); it measures nothing.
echo "== benchmark smoke run (bench/run --smoke)" >&2
"$here/bench/run" --smoke --out "$here/build/bench/smoke.md" || status=1
exit $status
