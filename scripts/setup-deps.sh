#!/usr/bin/env bash
# Installs everything h3gate needs to build and test on Debian 12 (bookworm),
# and builds OpenSSL >= 3.5.1 from Debian's source package when the system's
# OpenSSL is too old.  Idempotent: a second run only checks.
#
# Environment:
#   H3GATE_CACHE_DIR   where the OpenSSL build is cached (default: ~/.cache/h3gate)
#   H3GATE_OPENSSL     use this OpenSSL prefix instead of building one
#   H3GATE_NO_APT=1    skip package installation (packages already present)
#   H3GATE_TEST_DEPS=0 skip the packages only the tests need
#
# Prints, as its last line, the OpenSSL prefix to give CMake (empty = system).
set -euo pipefail
. "$(dirname "$0")/debsrc.sh"

cache_dir=${H3GATE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/h3gate}
log() { printf 'setup-deps: %s\n' "$*" >&2; }
die() { printf 'setup-deps: error: %s\n' "$*" >&2; exit 1; }

# OpenSSL source versions to try, newest first.  The archive's index can list
# versions its pool no longer holds, so each is tried in turn.
OPENSSL_CANDIDATES=${H3GATE_OPENSSL_CANDIDATES:-"3.5.9-1~deb13u1 3.5.8-1~deb13u1 3.5.7-1~deb13u2 3.5.7-1~deb13u1 3.5.5-1~deb13u1 3.5.4-1~deb13u1 3.5.1-1"}
OPENSSL_SUITES="trixie trixie-security trixie-updates"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

install_packages() {
    [ "${H3GATE_NO_APT:-0}" = 1 ] && return 0
    command -v apt-get >/dev/null || die "apt-get not found: install the packages listed in docs/building.md by hand"
    local mirror bp=/etc/apt/sources.list.d/h3gate-bookworm-backports.sources
    mirror=$(debsrc_mirror)
    if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
        log "adding bookworm-backports ($bp)"
        as_root tee "$bp" >/dev/null <<EOS
Types: deb deb-src
URIs: $mirror
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOS
        as_root apt-get update -qq
    elif [ ! -d /var/lib/apt/lists ] || [ -z "$(ls /var/lib/apt/lists 2>/dev/null | grep backports || true)" ]; then
        as_root apt-get update -qq
    fi
    local base=(build-essential cmake pkg-config perl dpkg-dev libev-dev node-llhttp)
    local bpo=(libnghttp3-dev)
    local test=(python3-pytest chromium nginx-light clang libclang-rt-14-dev clang-format)
    local test_bpo=(python3-pycurl libcurl3-gnutls)
    local want=("${base[@]}") want_bpo=("${bpo[@]}")
    if [ "${H3GATE_TEST_DEPS:-1}" = 1 ]; then
        want+=("${test[@]}"); want_bpo+=("${test_bpo[@]}")
    fi
    local missing=()
    for p in "${want[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
    # nghttp3 must be >= 1.8 and libcurl >= 8.14 (its HTTP/3): both come from backports.
    local need_bpo=0
    dpkg --compare-versions "$(dpkg-query -W -f='${Version}' libnghttp3-dev 2>/dev/null || echo 0)" ge 1.8 || need_bpo=1
    if [ "${H3GATE_TEST_DEPS:-1}" = 1 ]; then
        dpkg --compare-versions "$(dpkg-query -W -f='${Version}' libcurl3-gnutls 2>/dev/null || echo 0)" ge 8.14 || need_bpo=1
        dpkg -s python3-pycurl >/dev/null 2>&1 || need_bpo=1
    fi
    if [ ${#missing[@]} -gt 0 ] || [ $need_bpo = 1 ]; then
        log "installing packages: ${missing[*]} ${want_bpo[*]}"
        export DEBIAN_FRONTEND=noninteractive
        if [ ${#missing[@]} -gt 0 ]; then
            as_root apt-get install -y -qq "${missing[@]}" >&2 || { as_root apt-get update -qq; as_root apt-get install -y -qq "${missing[@]}" >&2; }
        fi
        as_root apt-get install -y -qq -t bookworm-backports "${want_bpo[@]}" >&2
    fi
}

openssl_ok() { # prefix-or-empty -> 0 if >= 3.5.1 with QUIC
    local pc
    if [ -n "$1" ]; then pc="$1/lib/pkgconfig"; else pc=""; fi
    PKG_CONFIG_PATH="$pc" pkg-config --atleast-version=3.5.1 openssl 2>/dev/null
}

build_openssl() {
    local src_root="$cache_dir/src" got
    mkdir -p "$src_root"
    log "fetching Debian's openssl source package (>= 3.5.1)"
    # shellcheck disable=SC2086
    got=$(debsrc_fetch openssl 3.5.1 "$OPENSSL_SUITES" "$src_root/openssl-dl" $OPENSSL_CANDIDATES) \
        || die "could not download any OpenSSL >= 3.5.1 source package; set H3GATE_OPENSSL to an installed OpenSSL >= 3.5.1"
    local up=${got%%-*} prefix="$cache_dir/openssl-${got%%-*}"
    log "building OpenSSL $got (Debian source package, Debian patches applied) into $prefix"
    rm -rf "$src_root/openssl-$up"
    (cd "$src_root/openssl-dl" && dpkg-source --no-check -x "openssl_${got#*:}.dsc" "$src_root/openssl-$up" >/dev/null)
    # qlog and SSLKEYLOGFILE support are built in now so later features need no rebuild.
    (cd "$src_root/openssl-$up" &&
        ./Configure linux-"$(uname -m)" --prefix="$prefix" --libdir=lib --openssldir="$prefix/ssl" \
            no-docs no-tests enable-unstable-qlog enable-sslkeylog -fPIC >"$src_root/openssl-$up.configure.log" 2>&1 &&
        make -j"$(nproc)" >"$src_root/openssl-$up.build.log" 2>&1 &&
        make install_sw install_ssldirs >>"$src_root/openssl-$up.build.log" 2>&1) \
        || die "OpenSSL build failed; see $src_root/openssl-$up.*.log"
    printf 'debian-source-version=%s\nbuilt=%s\nconfigure=no-docs no-tests enable-unstable-qlog enable-sslkeylog\n' \
        "$got" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" > "$prefix/BUILD-INFO"
    ln -sfn "openssl-$up" "$cache_dir/openssl"
    rm -rf "$src_root/openssl-$up" "$src_root/openssl-dl"
}

find_openssl() {
    if [ -n "${H3GATE_OPENSSL:-}" ]; then
        openssl_ok "$H3GATE_OPENSSL" || die "H3GATE_OPENSSL=$H3GATE_OPENSSL is not an OpenSSL >= 3.5.1 prefix"
        echo "$H3GATE_OPENSSL"; return
    fi
    if openssl_ok ""; then
        log "using the system OpenSSL $(pkg-config --modversion openssl)"
        echo ""; return
    fi
    if [ -f "$cache_dir/openssl/BUILD-INFO" ] && openssl_ok "$cache_dir/openssl"; then
        log "reusing cached OpenSSL: $(tr '\n' ' ' < "$cache_dir/openssl/BUILD-INFO")"
        readlink -f "$cache_dir/openssl"; return
    fi
    build_openssl
    readlink -f "$cache_dir/openssl"
}

install_packages
find_openssl
