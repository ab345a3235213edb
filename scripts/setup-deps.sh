#!/usr/bin/env bash
# Installs everything h3gate needs to build and test on Debian 12 (bookworm),
# and builds OpenSSL from Debian's source package when the system's OpenSSL is
# too old or lacks known QUIC server fixes.  Idempotent: a second run only
# checks.
#
# Which OpenSSL: the newest Debian source package that carries every fix in
# src/tls/cve.def (today 4.0.2-1 from experimental); without one, the newest
# that downloads (trixie's 3.5.x), with a warning naming what it lacks.
#
# Environment:
#   H3GATE_CACHE_DIR   where the OpenSSL build is cached (default: ~/.cache/h3gate)
#   H3GATE_OPENSSL     use this OpenSSL prefix instead of building one
#   H3GATE_OPENSSL_CANDIDATES  Debian versions to try besides those the index lists
#   H3GATE_OPENSSL_BRANCH  only this release branch (e.g. 3.5: CI's second build);
#                      leaves the cache's default (the openssl symlink) alone
#   H3GATE_NO_APT=1    skip package installation (packages already present)
#   H3GATE_TEST_DEPS=0 skip the packages only the tests need
#
# Prints, as its last line, the OpenSSL prefix to give CMake (empty = system).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/debsrc.sh"

cache_dir=${H3GATE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/h3gate}
log() { printf 'setup-deps: %s\n' "$*" >&2; }
die() { printf 'setup-deps: error: %s\n' "$*" >&2; exit 1; }
warn_loud() {
    printf 'setup-deps: ################################################################\n' >&2
    printf 'setup-deps: WARNING: %s\n' "$1" >&2
    shift
    printf 'setup-deps:          %s\n' "$@" >&2
    printf 'setup-deps: ################################################################\n' >&2
}

# OpenSSL source versions to try besides those the indexes list, newest first.
# The archive's index can list versions its pool no longer holds (seen: 4.0.3-1,
# 3.6.5-1, 3.5.9-1~deb13u1, 3.5.7-1~deb13u3), so each is tried in turn.
OPENSSL_CANDIDATES=${H3GATE_OPENSSL_CANDIDATES:-"4.0.2-1 3.6.3-1 3.5.9-1~deb13u1 3.5.8-1~deb13u1 3.5.7-1~deb13u2 3.5.7-1~deb13u1 3.5.5-1~deb13u1 3.5.4-1~deb13u1 3.5.1-1"}
# 4.0 is in experimental, 3.6 in sid, 3.5 in trixie.
OPENSSL_SUITES="experimental sid trixie trixie-security trixie-updates"
OPENSSL_BRANCH=${H3GATE_OPENSSL_BRANCH:-}
CVE_TABLE="$here/src/tls/cve.def"

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
    local base=(build-essential cmake pkg-config perl dpkg-dev libev-dev node-llhttp libnghttp2-dev)
    local bpo=(libnghttp3-dev)
    local test=(python3-pytest chromium nginx-light clang libclang-rt-14-dev clang-format nghttp2-client
                python3-h2 mandoc tshark curl)
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

# debian_at_least A B: A is Debian version B or a later revision that differs
# only in its final number (3.5.7-1~deb13u3 after 3.5.7-1~deb13u2).
debian_at_least() {
    local a=$1 b=$2 an bn
    an=${a##*[!0-9]} bn=${b##*[!0-9]}
    [ "$a" = "$b" ] && return 0
    [ -n "$an" ] && [ -n "$bn" ] && [ "${a%"$an"}" = "${b%"$bn"}" ] && [ "$((10#$an))" -ge "$((10#$bn))" ]
}

# openssl_missing DEBIAN-OR-UPSTREAM-VERSION: prints the CVEs of cve.def the
# version lacks (the same rules as src/tls/cve.c), one a line.
openssl_missing() {
    local v=$1 up=${1%%-*} branch fixed id f35 f36 f40 deb b
    branch=$(echo "$up" | cut -d. -f1,2)
    while IFS='|' read -r id f35 f36 f40 deb; do
        case $branch in
            3.5) fixed=$f35 ;;
            3.6) fixed=$f36 ;;
            4.0) fixed=$f40 ;;
            *) dpkg --compare-versions "$branch" gt 4.0 && continue; fixed=99 ;;
        esac
        [ "$fixed" = - ] && continue
        dpkg --compare-versions "$up" ge "$fixed" && continue
        for b in $deb; do
            debian_at_least "$v" "$b" && continue 2
        done
        echo "$id"
    done < <(awk -F'"' '/^H3G_CVE\(/ {print $2 "|" $4 "|" $6 "|" $8 "|" $10}' "$CVE_TABLE")
}

in_branch() { # version -> 0 if in H3GATE_OPENSSL_BRANCH (or none is asked for)
    [ -z "$OPENSSL_BRANCH" ] || [ "$(echo "${1%%-*}" | cut -d. -f1,2)" = "$OPENSSL_BRANCH" ]
}
# The choice goes by the upstream release: a Debian backport is invisible to
# whoever checks the version number (an operator, a scanner, `openssl version`).
openssl_wanted() { # Debian version -> 0 if in the branch and its release has every fix
    in_branch "$1" && [ -z "$(openssl_missing "${1%%-*}")" ]
}
openssl_complete() { # the same, counting Debian's backports: the fallback's first choice
    in_branch "$1" && [ -z "$(openssl_missing "$1")" ]
}

# Cached builds (openssl-X.Y.Z/BUILD-INFO) as "DEBIAN-VERSION PREFIX", newest first.
cached_openssl() {
    local d v
    for d in "$cache_dir"/openssl-*/; do
        d=${d%/}
        [ -f "$d/BUILD-INFO" ] && openssl_ok "$d" || continue
        v=$(sed -n 's/^debian-source-version=//p' "$d/BUILD-INFO")
        [ -n "$v" ] && echo "$v $d"
    done | sort -Vr
}

# pick_cached FILTER: prints the prefix of the newest cached build FILTER takes.
pick_cached() {
    local v d
    while read -r v d; do
        "$1" "$v" && { echo "$d"; return 0; }
    done < <(cached_openssl)
    return 1
}

build_openssl() { # Debian version (downloaded into $src_root/openssl-dl) -> prefix
    local got=$1 src_root="$cache_dir/src" up=${1%%-*}
    local prefix="$cache_dir/openssl-$up" flags="no-docs no-tests enable-unstable-qlog enable-sslkeylog"
    log "building OpenSSL $got (Debian source package, Debian patches applied) into $prefix"
    rm -rf "$src_root/openssl-$up"
    (cd "$src_root/openssl-dl" && dpkg-source --no-check -x "openssl_${got#*:}.dsc" "$src_root/openssl-$up" >/dev/null)
    # qlog and SSLKEYLOGFILE support are built in now so later features need no rebuild.
    # shellcheck disable=SC2086
    (cd "$src_root/openssl-$up" &&
        ./Configure linux-"$(uname -m)" --prefix="$prefix" --libdir=lib --openssldir="$prefix/ssl" \
            $flags -fPIC >"$src_root/openssl-$up.configure.log" 2>&1 &&
        nice make -j"$(nproc)" >"$src_root/openssl-$up.build.log" 2>&1 &&
        make install_sw install_ssldirs >>"$src_root/openssl-$up.build.log" 2>&1) \
        || die "OpenSSL build failed; see $src_root/openssl-$up.*.log"
    printf 'debian-source-version=%s\nbuilt=%s\nconfigure=%s\n' \
        "$got" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$flags" > "$prefix/BUILD-INFO"
    # dpkg-source -x leaves a copy of the upstream tarball next to the tree.
    rm -rf "$src_root/openssl-$up" "$src_root/openssl-dl" "$src_root/openssl_$up.orig.tar".*
    echo "$prefix"
}

fetch_openssl() { # filter -> Debian version downloaded into $cache_dir/src/openssl-dl
    # shellcheck disable=SC2086
    DEBSRC_ACCEPT=$1 debsrc_fetch openssl 3.5.1 "$OPENSSL_SUITES" "$cache_dir/src/openssl-dl" \
        $OPENSSL_CANDIDATES
}

fallback_note() { # Debian version -> the warning for a build without every fix
    local missing
    missing=$(openssl_missing "$1" | tr '\n' ' ')
    if [ -n "$missing" ]; then
        warn_loud "using OpenSSL $1, which lacks QUIC server fixes: $missing" \
            "(h3gate warns at start-up too; see src/tls/cve.def)"
    else
        log "OpenSSL $1: Debian's patches carry the QUIC server fixes its release lacks"
    fi
}

# The newest OpenSSL whose release has every known fix, cached or built; else
# (loudly) the newest with every fix counting Debian's patches, else the newest.  With a branch asked for, a cached build
# of it is enough: that is a deliberate second build, not the default.
choose_openssl() {
    local prefix got filter
    if prefix=$(pick_cached openssl_wanted) ||
        { [ -n "$OPENSSL_BRANCH" ] && prefix=$(pick_cached in_branch); }; then
        got=$(sed -n 's/^debian-source-version=//p' "$prefix/BUILD-INFO")
        log "reusing cached OpenSSL: $(tr '\n' ' ' < "$prefix/BUILD-INFO")"
        openssl_wanted "$got" || fallback_note "$got"
        echo "$prefix"; return
    fi
    log "fetching Debian's openssl source package (${OPENSSL_BRANCH:-newest} with every known QUIC fix)"
    if got=$(fetch_openssl openssl_wanted); then
        build_openssl "$got"; return
    fi
    warn_loud "no OpenSSL source package whose release has every known QUIC server fix" \
        "could be downloaded (tried the versions above); falling back to an older one"
    for filter in openssl_complete in_branch; do
        if prefix=$(pick_cached $filter) || { got=$(fetch_openssl $filter) && prefix=$(build_openssl "$got"); }; then
            fallback_note "$(sed -n 's/^debian-source-version=//p' "$prefix/BUILD-INFO")"
            echo "$prefix"; return
        fi
    done
    die "could not download any OpenSSL >= 3.5.1 source package; set H3GATE_OPENSSL to an installed OpenSSL >= 3.5.1"
}

find_openssl() {
    local prefix sys
    if [ -n "${H3GATE_OPENSSL:-}" ]; then
        openssl_ok "$H3GATE_OPENSSL" || die "H3GATE_OPENSSL=$H3GATE_OPENSSL is not an OpenSSL >= 3.5.1 prefix"
        echo "$H3GATE_OPENSSL"; return
    fi
    if openssl_ok "" && sys=$(pkg-config --modversion openssl) && openssl_wanted "$sys"; then
        log "using the system OpenSSL $sys"
        echo ""; return
    fi
    prefix=$(choose_openssl)
    # The symlink names the default build; a build of one branch leaves it alone.
    [ -z "$OPENSSL_BRANCH" ] && ln -sfn "$(basename "$prefix")" "$cache_dir/openssl"
    echo "$prefix"
}

# promtool (checks /metrics in the tests) from Debian's prometheus package,
# unpacked into the cache: installing the package would start a Prometheus.
fetch_promtool() {
    [ "${H3GATE_TEST_DEPS:-1}" = 1 ] || return 0
    local d="$cache_dir/promtool" tmp
    [ -x "$d/usr/bin/promtool" ] && return 0
    tmp=$(mktemp -d)
    if (cd "$tmp" && apt-get download -qq prometheus >&2 2>/dev/null) &&
        dpkg-deb -x "$tmp"/prometheus_*.deb "$tmp/x" && [ -x "$tmp/x/usr/bin/promtool" ]; then
        mkdir -p "$d/usr/bin" && cp "$tmp/x/usr/bin/promtool" "$d/usr/bin/"
        log "promtool unpacked into $d"
    else
        log "cannot download Debian's prometheus package: the promtool check will be skipped"
    fi
    rm -rf "$tmp"
}

install_packages
fetch_promtool
find_openssl
