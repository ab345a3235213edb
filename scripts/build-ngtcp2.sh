#!/usr/bin/env bash
# Builds ngtcp2 (the library and its OpenSSL 3.5 crypto backend,
# libngtcp2_crypto_ossl) from Debian's source package into the cache, for
# h3gate's ngtcp2 engine, and prints the install prefix.  Static, -fPIC.  The
# build is reused while the ngtcp2 version and the OpenSSL it was built on stay
# the same.
#
#   build-ngtcp2.sh OPENSSL_PREFIX   (empty: the system OpenSSL)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/debsrc.sh"
cache_dir=${H3GATE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/h3gate}
log() { printf 'build-ngtcp2: %s\n' "$*" >&2; }
openssl_prefix=${1:-}
# Bump when the recipe below changes.
recipe=1

if [ -n "$openssl_prefix" ]; then
    ossl_cflags="-I$openssl_prefix/include"
    ossl_libs="-L$openssl_prefix/lib -lssl -lcrypto -Wl,-rpath,$openssl_prefix/lib"
    ossl_id="$openssl_prefix $(head -n1 "$openssl_prefix/BUILD-INFO" 2>/dev/null || true)"
else
    ossl_cflags=$(pkg-config --cflags openssl)
    ossl_libs=$(pkg-config --libs openssl)
    ossl_id="system $(pkg-config --modversion openssl)"
fi

src="$cache_dir/src/ngtcp2-dl"
# 1.12 is the first with libngtcp2_crypto_ossl; newest first.
ver=$(debsrc_fetch ngtcp2 1.12.0 "sid" "$src" 1.24.0-1 1.23.0-1 1.22.0-1) || exit 1
up=${ver%%-*}
stamp="ngtcp2 $ver recipe $recipe on $ossl_id"
id=$(echo "$stamp" | sha256sum | cut -c1-12)
prefix="$cache_dir/ngtcp2-$up-$id"
if [ -f "$prefix/BUILD-INFO" ] && [ "$(head -n1 "$prefix/BUILD-INFO")" = "$stamp" ]; then
    log "reusing $prefix ($stamp)"
    echo "$prefix"
    exit 0
fi
log "building ngtcp2 $ver (Debian source package) into $prefix"
work="$cache_dir/src/ngtcp2-build-$id"
rm -rf "$work" "$prefix"
(cd "$src" && dpkg-source --no-check -x "ngtcp2_${ver#*:}.dsc" "$work" >/dev/null)
(cd "$work" && ./configure --enable-lib-only --disable-shared --with-pic --with-openssl \
        --prefix="$prefix" OPENSSL_CFLAGS="$ossl_cflags" OPENSSL_LIBS="$ossl_libs" \
        > "$work.configure.log" 2>&1 &&
    make -j"$(nproc)" > "$work.build.log" 2>&1 &&
    make install > "$work.install.log" 2>&1) \
    || { log "error: ngtcp2 build failed; see $work.*.log"; exit 1; }
grep -q "libngtcp2_crypto_ossl: *yes" "$work.configure.log" \
    || { log "error: ngtcp2 did not find OpenSSL's QUIC TLS API (OpenSSL >= 3.5 needed)"; exit 1; }
printf '%s\nbuilt=%s\n' "$stamp" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" > "$prefix/BUILD-INFO"
rm -rf "$work" "$work".*.log
echo "$prefix"
