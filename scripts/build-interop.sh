#!/usr/bin/env bash
# Builds the libqtlscompat interop peers into BUILD_DIR/interop (default build/):
# ngtcp2 from Debian's source package (sid; newest first), twice —
#   qtlscompat: ngtcp2's quictls crypto backend compiled against libqtlscompat
#               (the quictls API on stock OpenSSL), no change to ngtcp2;
#   ossl:       ngtcp2's own OpenSSL 3.5 backend, a stack that never saw the shim;
# then the test programs tests/interop/ngtcp2_h3get.c and ngtcp2_h3server.c
# against each; and HAProxy (Debian's upstream tarball) with USE_QUIC=1 in its
# quictls mode on libqtlscompat, cached outside the checkout, where the build's
# OpenSSL is 3.5 (HAProxy 3.0 does not build on OpenSSL 4.0).  Needs a built
# BUILD_DIR/compat/libqtlscompat.a.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/debsrc.sh"
build=$(cd "${1:-$here/build}" && pwd)
out="$build/interop"
cache_dir=${H3GATE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/h3gate}
log() { printf 'build-interop: %s\n' "$*" >&2; }

[ -f "$build/compat/libqtlscompat.a" ] || { log "error: build libqtlscompat first ($build/compat)"; exit 1; }
# The OpenSSL that build was configured with (build-ossl35/ has its own).
if grep -q '^H3G_OPENSSL_ROOT:' "$build/CMakeCache.txt" 2>/dev/null; then
    openssl_prefix=$(sed -n 's/^H3G_OPENSSL_ROOT:[A-Z]*=//p' "$build/CMakeCache.txt")
else
    openssl_prefix=$(H3GATE_NO_APT=1 "$here/scripts/setup-deps.sh" | tail -n1)
fi
if [ -n "$openssl_prefix" ]; then
    ossl_cflags="-I$openssl_prefix/include"
    ossl_libs="$openssl_prefix/lib/libssl.a $openssl_prefix/lib/libcrypto.a -lpthread -ldl"
    ossl_conf_libs="-L$openssl_prefix/lib -lssl -lcrypto -Wl,-rpath,$openssl_prefix/lib"
else
    ossl_cflags=$(pkg-config --cflags openssl)
    ossl_libs=$(pkg-config --libs openssl)
    ossl_conf_libs=$ossl_libs
fi
compat_cflags="-include qtlscompat/qtlscompat.h -I$here/compat/include"
compat_libs="$build/compat/libqtlscompat.a"
# In a sanitizer build everything links the instrumented libqtlscompat.
san=""
if grep -q '^H3G_SANITIZE:BOOL=ON' "$build/CMakeCache.txt" 2>/dev/null; then
    san="-fsanitize=address,undefined -fno-omit-frame-pointer"
fi

# ngtcp2 >= 1.12 has both the quictls and the OpenSSL 3.5 backends.
src="$cache_dir/src/ngtcp2-dl"
ver=$(debsrc_fetch ngtcp2 1.12.0 "sid" "$src" 1.24.0-1 1.23.0-1 1.22.0-1) || exit 1
log "ngtcp2 $ver (Debian source package)"
mkdir -p "$out"
stamp="ngtcp2 $ver $(sha256sum "$here/compat/include/qtlscompat/qtlscompat.h" | cut -c1-16)"

build_ngtcp2() { # variant cflags libs
    local dir="$out/ngtcp2-$1" want
    want="$stamp $(echo "$2 $3" | sha256sum | cut -c1-16)"
    if [ -f "$dir/.h3g-stamp" ] && [ "$(cat "$dir/.h3g-stamp")" = "$want" ]; then
        return 0
    fi
    rm -rf "$dir"
    (cd "$src" && dpkg-source --no-check -x "ngtcp2_${ver#*:}.dsc" "$dir" >/dev/null)
    (cd "$dir" && ./configure --enable-lib-only --disable-shared --with-openssl \
        OPENSSL_CFLAGS="$2" OPENSSL_LIBS="$3" > "$out/ngtcp2-$1.configure.log" 2>&1 &&
        make -j"$(nproc)" > "$out/ngtcp2-$1.build.log" 2>&1) \
        || { log "error: ngtcp2 ($1) build failed; see $out/ngtcp2-$1.*.log"; exit 1; }
    echo "$want" > "$dir/.h3g-stamp"
}

build_ngtcp2 qtlscompat "$compat_cflags $ossl_cflags" "$compat_libs $ossl_conf_libs $san"
grep -q "libngtcp2_crypto_quictls: *yes" "$out/ngtcp2-qtlscompat.configure.log" \
    || { log "error: ngtcp2 did not detect the quictls API in libqtlscompat"; exit 1; }
build_ngtcp2 ossl "$ossl_cflags" "$ossl_conf_libs"
grep -q "libngtcp2_crypto_ossl: *yes" "$out/ngtcp2-ossl.configure.log" \
    || { log "error: ngtcp2 did not detect OpenSSL's QUIC TLS API"; exit 1; }

cc_flags="-std=c11 -D_GNU_SOURCE -O1 -g -Wall -Wextra -Werror $san"
nghttp3=$(pkg-config --cflags --libs libnghttp3)
for prog in h3get h3server; do
    n="$out/ngtcp2-qtlscompat"
    # shellcheck disable=SC2086
    cc $cc_flags $compat_cflags $ossl_cflags -I"$n/lib/includes" -I"$n/crypto/includes" -DUSE_QUICTLS \
        "$here/tests/interop/ngtcp2_$prog.c" -o "$out/$prog-qtlscompat" \
        "$n/crypto/quictls/.libs/libngtcp2_crypto_quictls.a" "$n/lib/.libs/libngtcp2.a" \
        $compat_libs $ossl_libs $nghttp3
    n="$out/ngtcp2-ossl"
    # shellcheck disable=SC2086
    cc $cc_flags $ossl_cflags -I"$n/lib/includes" -I"$n/crypto/includes" -DUSE_OSSL \
        "$here/tests/interop/ngtcp2_$prog.c" -o "$out/$prog-ossl" \
        "$n/crypto/ossl/.libs/libngtcp2_crypto_ossl.a" "$n/lib/.libs/libngtcp2.a" \
        $ossl_libs $nghttp3
done
echo "ngtcp2 $ver" > "$out/VERSION"
log "built $out/{h3get,h3server}-{qtlscompat,ossl} on ngtcp2 $ver"

# --- HAProxy on the shim -------------------------------------------------------
# HAProxy's quictls path (not USE_QUIC_OPENSSL_COMPAT, not limited-quic): the
# server role of a production QUIC stack, calling SSL_set_quic_method,
# SSL_provide_quic_data, SSL_process_quic_post_handshake, transport parameters
# and early data.  -D_GNU_SOURCE= (empty, as HAProxy's own #define) because the
# forced include pulls system headers in before HAProxy's sources define it.
rm -f "$out/haproxy-qtlscompat" "$out/haproxy-qtlscompat.skip"
ossl_ver=$(sed -n 's/^#  *define  *OPENSSL_VERSION_STR  *"\(.*\)"/\1/p' \
    "${openssl_prefix:-/usr}/include/openssl/opensslv.h" 2>/dev/null | head -n1)
if [ -n "$san" ] || [ -z "$openssl_prefix" ] || [ "${ossl_ver%%.*}" != 3 ]; then
    why="HAProxy 3.0 on the shim is built on OpenSSL 3.x release builds only (this one: OpenSSL ${ossl_ver:-of the system}${san:+, sanitized}; HAProxy 3.0 does not build on OpenSSL 4.0)"
    echo "$why" > "$out/haproxy-qtlscompat.skip"
    log "$why"
    exit 0
fi
hsrc="$cache_dir/src/bench/dl-haproxy"
hver=$(debsrc_fetch_orig haproxy 3.0.0 "trixie trixie-updates trixie-security" "$hsrc" 3.0.11-1+deb13u4) \
    || { log "error: no haproxy >= 3.0 source"; exit 1; }
hkey=$( (cd "$here" && cat scripts/build-interop.sh $(find compat -type f -name '*.[ch]' | sort)
    echo "$hver $openssl_prefix $ossl_ver") | sha256sum | cut -c1-12)
hdir="$cache_dir/haproxy-qtlscompat-$hver-$hkey"
if [ ! -x "$hdir/haproxy" ]; then
    log "HAProxy $hver with USE_QUIC=1 on libqtlscompat (OpenSSL $ossl_ver), into $hdir"
    rm -rf "$hdir" "$hdir.tmp"
    mkdir -p "$hdir.tmp/src"
    tar -xf "$(ls "$hsrc"/haproxy_"$hver".orig.tar.* | grep -v '\.asc$' | head -n1)" \
        -C "$hdir.tmp/src" --strip-components=1
    cp "$compat_libs" "$hdir.tmp/libqtlscompat.a"
    (cd "$hdir.tmp/src" && make -j"$(nproc)" TARGET=linux-glibc USE_OPENSSL=1 USE_QUIC=1 \
        SSL_INC="$openssl_prefix/include" SSL_LIB="$openssl_prefix/lib" DEFINE="-D_GNU_SOURCE=" \
        ADDINC="$compat_cflags" ADDLIB="$hdir.tmp/libqtlscompat.a -Wl,-rpath,$openssl_prefix/lib") \
        > "$hdir.tmp/build.log" 2>&1 || { log "error: HAProxy build failed; see $hdir.tmp/build.log"; exit 1; }
    "$hdir.tmp/src/haproxy" -vv | grep -q -- "+QUIC -QUIC_OPENSSL_COMPAT" \
        || { log "error: HAProxy did not take its quictls path"; exit 1; }
    mv "$hdir.tmp/src/haproxy" "$hdir.tmp/haproxy"
    rm -rf "$hdir.tmp/src"
    mv "$hdir.tmp" "$hdir"
fi
ln -sfn "$hdir/haproxy" "$out/haproxy-qtlscompat"
log "HAProxy $hver on libqtlscompat: $out/haproxy-qtlscompat"
