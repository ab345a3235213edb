#!/usr/bin/env bash
# Builds the benchmark peers from Debian source packages, all against the OpenSSL
# h3gate uses, into a cache outside the checkout (reused while the source versions,
# the OpenSSL and each component's recipe number below are unchanged):
#   h2load  nghttp2's load client with HTTP/3: nghttp2 >= 1.66 (ngtcp2's OpenSSL 3.5
#           crypto backend), ngtcp2 >= 1.12 and nghttp3, with clang-19 + libc++
#           (nghttp2's apps need C++23 <print>, which Debian 12's gcc 12 lacks);
#   nginx   with --with-http_v3_module (and HTTP/2, for reference);
#   haproxy 3.0 with QUIC on OpenSSL's TLS API (USE_QUIC_OPENSSL_COMPAT).
# Prints "NAME PATH VERSION-NOTE" lines on stdout, progress on stderr.
#
# Environment: H3GATE_CACHE_DIR (default ~/.cache/h3gate), H3GATE_NO_APT=1.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/debsrc.sh"
cache_dir=${H3GATE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/h3gate}
top="$cache_dir/bench"
src="$cache_dir/src/bench"
log() { printf 'build-peers: %s\n' "$*" >&2; }
die() { printf 'build-peers: error: %s\n' "$*" >&2; exit 1; }
jobs=$(nproc)

# The 3.5 branch: the peers' versions do not build on OpenSSL 4.0 (bench/run).
openssl_prefix=$(H3GATE_OPENSSL_BRANCH=3.5 H3GATE_NO_APT=${H3GATE_NO_APT:-0} H3GATE_TEST_DEPS=0 \
    "$here/scripts/setup-deps.sh" | tail -n1)
[ -n "$openssl_prefix" ] || openssl_prefix=$(pkg-config --variable=prefix openssl)
ossl_id="$openssl_prefix $(cat "$openssl_prefix/BUILD-INFO" 2>/dev/null | head -n1)"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
if [ "${H3GATE_NO_APT:-0}" != 1 ]; then
    pkgs=(clang-19 libc++-19-dev libc++abi-19-dev libev-dev libc-ares-dev zlib1g-dev pkg-config xz-utils)
    missing=()
    for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
    if [ ${#missing[@]} -gt 0 ]; then
        log "installing packages: ${missing[*]}"
        DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >&2
    fi
fi

mkdir -p "$top" "$src"
# A component is rebuilt when its stamp changes: source versions, the OpenSSL, and
# a recipe number per component, to be raised with any change to how it is built.
fresh() { [ -f "$top/$1/.stamp" ] && [ "$(cat "$top/$1/.stamp")" = "$2" ]; }
unpack() { # tarball dest
    rm -rf "$2" && mkdir -p "$2" && tar -xf "$1" -C "$2" --strip-components=1
}
orig() { ls "$1"/"$2"_"$3".orig.tar.* | grep -v '\.asc$' | head -n1; }

# --- nghttp3 ------------------------------------------------------------------
# sid lists 1.17 but its pool lost 1.17's tarball; trixie-backports' 1.15 is there.
n3ver=$(debsrc_fetch_orig nghttp3 1.12.0 "sid trixie-backports forky trixie" "$src/dl-nghttp3" 1.17.0-1 1.15.0-1~bpo13+1) \
    || die "no nghttp3 source"
# --- ngtcp2 -------------------------------------------------------------------
nt2ver=$(debsrc_fetch_orig ngtcp2 1.12.0 "sid forky trixie-backports" "$src/dl-ngtcp2" 1.24.0-1) \
    || die "no ngtcp2 source"
# --- nghttp2 ------------------------------------------------------------------
n2ver=$(debsrc_fetch_orig nghttp2 1.66.0 "sid forky trixie-backports experimental" "$src/dl-nghttp2" 1.70.0-1) \
    || die "no nghttp2 >= 1.66 source (h2load needs ngtcp2's OpenSSL 3.5 backend)"

stamp="nghttp3 $n3ver ngtcp2 $nt2ver nghttp2 $n2ver | $ossl_id | recipe 1"
if ! fresh h2load "$stamp"; then
    log "building h2load: nghttp2 $n2ver + ngtcp2 $nt2ver + nghttp3 $n3ver on $openssl_prefix"
    pfx="$top/h2load"
    rm -rf "$pfx"
    mkdir -p "$pfx"
    b="$src/build-h2load"
    rm -rf "$b" && mkdir -p "$b"
    unpack "$(orig "$src/dl-nghttp3" nghttp3 "$n3ver")" "$b/nghttp3"
    (cd "$b/nghttp3" && ./configure --enable-lib-only --disable-shared --prefix="$pfx" &&
        make -j"$jobs" && make install) > "$b/nghttp3.log" 2>&1 || die "nghttp3 build failed: $b/nghttp3.log"
    unpack "$(orig "$src/dl-ngtcp2" ngtcp2 "$nt2ver")" "$b/ngtcp2"
    (cd "$b/ngtcp2" && ./configure --enable-lib-only --disable-shared --prefix="$pfx" --with-openssl \
            OPENSSL_CFLAGS="-I$openssl_prefix/include" \
            OPENSSL_LIBS="-L$openssl_prefix/lib -lssl -lcrypto -Wl,-rpath,$openssl_prefix/lib" &&
        make -j"$jobs" && make install) > "$b/ngtcp2.log" 2>&1 || die "ngtcp2 build failed: $b/ngtcp2.log"
    grep -q "libngtcp2_crypto_ossl: *yes" "$b/ngtcp2.log" || die "ngtcp2 did not find OpenSSL's QUIC TLS API: $b/ngtcp2.log"
    unpack "$(orig "$src/dl-nghttp2" nghttp2 "$n2ver")" "$b/nghttp2"
    # Adaptation, when only an older nghttp3 is available: nghttp2 1.70's configure
    # asks for nghttp3 >= 1.17, and h2load calls one function added in 1.16,
    # nghttp3_conn_get_frame_payload_left2 (a signed variant of ..._left, same
    # meaning for an existing request stream).  Giving configure the library
    # directly (LIBNGHTTP3_CFLAGS/LIBS skip its version check) and mapping the
    # name with -D builds h2load unchanged; nghttpx, which needs more of 1.17, is
    # not built.  Documented in docs/benchmarking.md.
    adapt=()
    if dpkg --compare-versions "$n3ver" lt 1.16.0; then
        log "adapting nghttp2 $n2ver to nghttp3 $n3ver (nghttp3_conn_get_frame_payload_left2 -> ..._left)"
        adapt=(CPPFLAGS="-Dnghttp3_conn_get_frame_payload_left2=nghttp3_conn_get_frame_payload_left")
    fi
    (cd "$b/nghttp2" && PKG_CONFIG_PATH="$pfx/lib/pkgconfig:$openssl_prefix/lib/pkgconfig" ./configure \
            --prefix="$pfx" --enable-app --enable-http3 --disable-shared --disable-hpack-tools \
            --disable-examples --without-jemalloc --without-libxml2 --without-systemd \
            --without-jansson --without-libbrotlienc --without-libbrotlidec --without-mruby \
            --without-neverbleed --with-libngtcp2 --with-libnghttp3 \
            CC=clang-19 CXX=clang++-19 CXXFLAGS="-O2 -g -stdlib=libc++" \
            LDFLAGS="-stdlib=libc++ -Wl,-rpath,$openssl_prefix/lib" \
            LIBNGHTTP3_CFLAGS="-I$pfx/include" LIBNGHTTP3_LIBS="$pfx/lib/libnghttp3.a" "${adapt[@]}" &&
        make -j"$jobs" -C lib && make -j"$jobs" -C third-party && make -j"$jobs" -C src h2load) \
        > "$b/nghttp2.log" 2>&1 || die "nghttp2 (h2load) build failed: $b/nghttp2.log"
    mkdir -p "$pfx/bin"
    cp "$b/nghttp2/src/h2load" "$pfx/bin/h2load"
    "$pfx/bin/h2load" --version >/dev/null || die "the built h2load does not run"
    rm -rf "$b"
    echo "$stamp" > "$pfx/.stamp"
fi
echo "h2load $top/h2load/bin/h2load nghttp2-$n2ver+ngtcp2-$nt2ver+nghttp3-$n3ver"

# --- nginx --------------------------------------------------------------------
# HTTP/3 needs nginx >= 1.25; trixie has 1.26.  nginx 1.26 finds no quictls API in
# OpenSSL 3.5 and uses its own OpenSSL compatibility layer (no 0-RTT).
ngver=$(debsrc_fetch_orig nginx 1.25.0 "trixie trixie-updates trixie-security forky sid" "$src/dl-nginx" 1.26.3-3+deb13u10) \
    || die "no nginx >= 1.25 source"
stamp="nginx $ngver | $ossl_id | recipe 1"
if ! fresh nginx "$stamp"; then
    log "building nginx $ngver with http_v3 on $openssl_prefix"
    b="$src/build-nginx"
    unpack "$(orig "$src/dl-nginx" nginx "$ngver")" "$b"
    rm -rf "$top/nginx"
    (cd "$b" && ./configure --prefix="$top/nginx" --with-http_v3_module --with-http_v2_module \
            --with-http_ssl_module --without-http_rewrite_module --without-http_gzip_module \
            --with-cc-opt="-I$openssl_prefix/include -O2" \
            --with-ld-opt="-L$openssl_prefix/lib -Wl,-rpath,$openssl_prefix/lib" &&
        make -j"$jobs" && make install) > "$src/nginx.log" 2>&1 || die "nginx build failed: $src/nginx.log"
    rm -rf "$b"
    echo "$stamp" > "$top/nginx/.stamp"
fi
echo "nginx $top/nginx/sbin/nginx nginx-$ngver"

# --- HAProxy ------------------------------------------------------------------
hapver=$(debsrc_fetch_orig haproxy 3.0.0 "trixie trixie-updates trixie-security" "$src/dl-haproxy" 3.0.11-1+deb13u4) \
    || die "no haproxy >= 3.0 source"
stamp="haproxy $hapver | $ossl_id | recipe 1"
if ! fresh haproxy "$stamp"; then
    log "building HAProxy $hapver with QUIC (OpenSSL compat) on $openssl_prefix"
    b="$src/build-haproxy"
    unpack "$(orig "$src/dl-haproxy" haproxy "$hapver")" "$b"
    rm -rf "$top/haproxy"
    mkdir -p "$top/haproxy/sbin"
    (cd "$b" && make -j"$jobs" TARGET=linux-glibc USE_OPENSSL=1 USE_QUIC=1 USE_QUIC_OPENSSL_COMPAT=1 \
            SSL_INC="$openssl_prefix/include" SSL_LIB="$openssl_prefix/lib" \
            ADDLIB="-Wl,-rpath,$openssl_prefix/lib") > "$src/haproxy.log" 2>&1 \
        || die "HAProxy build failed: $src/haproxy.log"
    cp "$b/haproxy" "$top/haproxy/sbin/haproxy"
    rm -rf "$b"
    echo "$stamp" > "$top/haproxy/.stamp"
fi
echo "haproxy $top/haproxy/sbin/haproxy haproxy-$hapver"
