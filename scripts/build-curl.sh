#!/usr/bin/env bash
# Builds a curl command line with HTTP/3 on stock OpenSSL through libqtlscompat:
# curl (Debian's source package, sid) on ngtcp2's quictls crypto backend (Debian's
# ngtcp2 source package) compiled against libqtlscompat, nghttp3 and nghttp2 from
# Debian, the OpenSSL BUILD_DIR was configured with.  Neither curl nor ngtcp2 is
# changed: both take their quictls code paths, which is what the shim is for.
#
#   scripts/build-curl.sh [BUILD_DIR]     (default build/; needs BUILD_DIR/compat)
#
# The result is cached outside the checkout, keyed by the versions and by
# libqtlscompat's sources, and linked as BUILD_DIR/tools/curl.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/debsrc.sh"
build=$(cd "${1:-$here/build}" && pwd)
cache_dir=${H3GATE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/h3gate}
log() { printf 'build-curl: %s\n' "$*" >&2; }

compat_lib="$build/compat/libqtlscompat.a"
[ -f "$compat_lib" ] || { log "error: build libqtlscompat first ($build/compat)"; exit 1; }
if grep -q '^H3G_SANITIZE:BOOL=ON' "$build/CMakeCache.txt" 2>/dev/null; then
    log "error: $build is a sanitizer build; build curl from a release build"
    exit 1
fi
openssl_prefix=$(sed -n 's/^H3G_OPENSSL_ROOT:[A-Z]*=//p' "$build/CMakeCache.txt" 2>/dev/null || true)
[ -n "$openssl_prefix" ] || openssl_prefix=$(H3GATE_NO_APT=1 "$here/scripts/setup-deps.sh" | tail -n1)
[ -n "$openssl_prefix" ] || { log "error: no OpenSSL >= 3.5.1 to build against"; exit 1; }

curl_src="$cache_dir/src/curl-dl"
ngtcp2_src="$cache_dir/src/ngtcp2-dl"
curl_ver=$(debsrc_fetch curl 8.14.0 "sid" "$curl_src" 8.21.0-2) || exit 1
ngtcp2_ver=$(debsrc_fetch ngtcp2 1.12.0 "sid" "$ngtcp2_src" 1.24.0-1 1.23.0-1 1.22.0-1) || exit 1
# Everything the binary is made of goes into the key, so a change to the shim or
# to this script rebuilds it.
key=$( (cd "$here" && cat scripts/build-curl.sh $(find compat -type f -name '*.[ch]' | sort)
    echo "$curl_ver $ngtcp2_ver $openssl_prefix $(cat "$openssl_prefix/VERSION" 2>/dev/null)"
    dpkg-query -W -f='${Version}' libnghttp3-dev libnghttp2-dev 2>/dev/null || true) |
    sha256sum | cut -c1-12)
dir="$cache_dir/curl-${curl_ver#*:}-$key"
mkdir -p "$build/tools"
if [ -x "$dir/bin/curl" ]; then
    ln -sfn "$dir/bin/curl" "$build/tools/curl"
    exit 0
fi

log "curl $curl_ver on ngtcp2 $ngtcp2_ver (quictls backend) + libqtlscompat, into $dir (a few minutes, once)"
rm -rf "$dir" "$dir.tmp"
mkdir -p "$dir.tmp/lib"
cp "$compat_lib" "$dir.tmp/lib/"
compat_cflags="-include qtlscompat/qtlscompat.h -I$here/compat/include"
ossl_libs="-L$openssl_prefix/lib -lssl -lcrypto -Wl,-rpath,$openssl_prefix/lib"
jobs=$(nproc)

(cd "$ngtcp2_src" && dpkg-source --no-check -x "ngtcp2_${ngtcp2_ver#*:}.dsc" "$dir.tmp/ngtcp2-src" >/dev/null)
(cd "$dir.tmp/ngtcp2-src" &&
    ./configure --prefix="$dir.tmp/ngtcp2" --enable-lib-only --disable-shared --with-openssl \
        OPENSSL_CFLAGS="$compat_cflags -I$openssl_prefix/include" \
        OPENSSL_LIBS="$dir.tmp/lib/libqtlscompat.a $ossl_libs" > ../ngtcp2.configure.log 2>&1 &&
    make -j"$jobs" install > ../ngtcp2.build.log 2>&1) \
    || { log "error: ngtcp2 build failed; see $dir.tmp/ngtcp2.*.log"; exit 1; }
grep -q "libngtcp2_crypto_quictls: *yes" "$dir.tmp/ngtcp2.configure.log" \
    || { log "error: ngtcp2 did not detect the quictls API in libqtlscompat"; exit 1; }

# Debian's patches are packaging ones (the GnuTLS flavour, symbol versions) and
# would make make(1) want automake again: the source is unpacked without them.
(cd "$curl_src" && dpkg-source --no-check --skip-patches -x "curl_${curl_ver#*:}.dsc" \
    "$dir.tmp/curl-src" >/dev/null)
# The shim's archive is in LIBS from the start (ahead of libssl, which it calls),
# so that configure's link probe for the quictls API finds it.  Its header goes
# into every compilation unit, as its docs ask, but only at make time: with it,
# autoconf's own prototypes in configure's probes clash with OpenSSL's.
(cd "$dir.tmp/curl-src" &&
    ./configure --prefix="$dir" --disable-shared \
        --with-openssl="$openssl_prefix" --with-ngtcp2="$dir.tmp/ngtcp2" --with-nghttp3 \
        --with-nghttp2 --without-libpsl --disable-ldap --disable-manual --without-brotli \
        --without-zstd --without-libidn2 --without-librtmp --without-libssh2 --enable-ssls-export \
        CPPFLAGS="-I$openssl_prefix/include" \
        LDFLAGS="-L$dir.tmp/lib -L$openssl_prefix/lib -Wl,-rpath,$openssl_prefix/lib" \
        LIBS="-lqtlscompat -lssl -lcrypto" PKG_CONFIG_PATH="$dir.tmp/ngtcp2/lib/pkgconfig" \
        > ../curl.configure.log 2>&1) \
    || { log "error: curl configure failed; see $dir.tmp/curl.configure.log"; exit 1; }
grep -q "HTTP3: *enabled (ngtcp2 + nghttp3)" "$dir.tmp/curl.configure.log" \
    || { log "error: curl did not enable HTTP/3 on ngtcp2; see $dir.tmp/curl.configure.log"; exit 1; }
(cd "$dir.tmp/curl-src" &&
    make -j"$jobs" CPPFLAGS="$compat_cflags $(sed -n 's/^CPPFLAGS = //p' lib/Makefile)" \
        > ../curl.build.log 2>&1) \
    || { log "error: curl build failed; see $dir.tmp/curl.build.log"; exit 1; }
# Installed by hand: make install would rebuild into the final prefix anyway.
mkdir -p "$dir.tmp/bin"
cp "$dir.tmp/curl-src/src/curl" "$dir.tmp/bin/curl"
"$dir.tmp/bin/curl" --version | grep -q "HTTP3" \
    || { log "error: the built curl does not list HTTP3"; exit 1; }
# Keep the logs and the binary, not the trees.
rm -rf "$dir.tmp/curl-src" "$dir.tmp/ngtcp2-src" "$dir.tmp/ngtcp2"
mv "$dir.tmp" "$dir"
ln -sfn "$dir/bin/curl" "$build/tools/curl"
log "built $build/tools/curl: $("$dir/bin/curl" --version | head -n1)"
