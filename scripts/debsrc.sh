# Sourced by the set-up scripts: fetch a Debian source package from a suite the
# machine's apt does not use, without touching the machine's apt configuration.
#
#   debsrc_fetch PKG MIN_VERSION "SUITES" DEST_DIR [CANDIDATES...]
# Leaves PKG's .dsc (and tarballs) in DEST_DIR and prints the version fetched.
# Versions the index lists are tried newest first (the archive's pool does not
# hold every version its index lists), then the given candidates.  When
# DEBSRC_ACCEPT names a shell function, only versions it accepts (called with
# the Debian version, returns 0) are reused or tried.

debsrc_mirror() {
    local m
    m=$(grep -hoE '^URIs:[[:space:]]*[^[:space:]]+' /etc/apt/sources.list.d/*.sources 2>/dev/null \
        | awk '{print $2}' | grep -v security | head -n1 || true)
    if [ -z "$m" ]; then
        m=$(grep -hoE '^deb[[:space:]]+[^[:space:]]+' /etc/apt/sources.list 2>/dev/null \
            | awk '{print $2}' | grep -v security | head -n1 || true)
    fi
    echo "${m:-http://deb.debian.org/debian}"
}

debsrc_write_list() { # file mirror "suites"
    local s
    : > "$1"
    for s in $3; do
        case $s in
            *-security) echo "deb-src ${2%/debian}/debian-security $s main" >> "$1" ;;
            *) echo "deb-src $2 $s main" >> "$1" ;;
        esac
    done
}

debsrc_fetch() {
    debsrc__get dsc "$@"
}

# debsrc_fetch_orig PKG MIN_VERSION "SUITES" DEST_DIR [CANDIDATES...]
# Like debsrc_fetch, but settles for the upstream tarball (PKG_UPSTREAM.orig.tar.*)
# when the archive's pool has lost the .dsc or the Debian part of a version while
# still holding its upstream tarball (seen for nghttp2, nghttp3, nginx and haproxy
# in trixie and sid).  apt checks each file against the signed index's hashes
# before keeping it, so a tarball found here is the one Debian signed.  Debian's
# patches are then not available: callers build upstream source and say so.
# Prints the upstream version fetched.
debsrc_fetch_orig() {
    debsrc__get orig "$@"
}

debsrc__accept() { # Debian version -> 0 if DEBSRC_ACCEPT (if set) takes it
    [ -z "${DEBSRC_ACCEPT:-}" ] || "$DEBSRC_ACCEPT" "$1"
}

debsrc__upstream() { # Debian version -> upstream version
    local up=${1#*:}
    up=${up%-*}
    echo "${up%%+dfsg*}"
}

debsrc__have_orig() { # dest pkg upstream
    ls "$1/${2}_$3".orig.tar.* 2>/dev/null | grep -qv '\.asc$'
}

# debsrc__get dsc|orig PKG MIN_VERSION "SUITES" DEST_DIR [CANDIDATES...]
debsrc__get() {
    local mode=$1 pkg=$2 min=$3 suites=$4 dest=$5
    shift 5
    local cache=${H3GATE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/h3gate}
    local key lists sl mirror v up listed cands=() tried=()
    key=$(echo "$suites" | tr ' ' '_')
    lists="$cache/apt-lists-$key"
    sl="$cache/sources-$key.list"
    mirror=$(debsrc_mirror)
    mkdir -p "$lists/partial" "$dest"
    debsrc_write_list "$sl" "$mirror" "$suites"
    local aptopts=(-o "Dir::Etc::sourcelist=$sl" -o Dir::Etc::sourceparts=- -o "Dir::State::Lists=$lists"
                   -o APT::Sandbox::User=root)
    # An existing download is reused.
    if [ "$mode" = dsc ]; then
        for v in $(ls "$dest"/"${pkg}"_*.dsc 2>/dev/null | sed "s|.*/${pkg}_||; s|\.dsc$||" | sort -Vr); do
            if dpkg --compare-versions "${v%%-*}" ge "$min" && debsrc__accept "$v"; then
                echo "$v"
                return 0
            fi
        done
    else
        for v in $(ls "$dest"/"${pkg}"_*.orig.tar.* 2>/dev/null | grep -v '\.asc$' \
                   | sed "s|.*/${pkg}_||; s|\.orig\.tar\..*$||" | sort -Vr); do
            if dpkg --compare-versions "$v" ge "$min"; then echo "$v"; return 0; fi
        done
    fi
    apt-get "${aptopts[@]}" update -qq >&2 || echo "debsrc: warning: some source indexes could not be fetched" >&2
    listed=$(apt-cache "${aptopts[@]}" showsrc "$pkg" 2>/dev/null | awk '/^Version:/{print $2}' || true)
    for v in $listed "$@"; do
        case " ${cands[*]-} " in *" $v "*) ;; *) cands+=("$v") ;; esac
    done
    for v in $(printf '%s\n' "${cands[@]}" | sort -Vr); do
        if [ "$mode" = dsc ]; then up=${v%%-*}; else up=$(debsrc__upstream "$v"); fi
        dpkg --compare-versions "$up" ge "$min" || continue
        debsrc__accept "$v" || continue
        tried+=("$v")
        if (cd "$dest" && apt-get "${aptopts[@]}" source --download-only "$pkg=$v" >/dev/null 2>&1); then
            [ "$mode" = dsc ] && { echo "$v"; return 0; }
        fi
        # The download stops at the first file the pool lacks; what came before stays.
        if [ "$mode" = orig ] && debsrc__have_orig "$dest" "$pkg" "$up"; then
            echo "$up"
            return 0
        fi
        echo "debsrc: $pkg $v is listed but $([ "$mode" = orig ] && echo "its upstream tarball" || echo "it") could not be downloaded; trying the next candidate" >&2
    done
    echo "debsrc: error: could not download $pkg >= $min from $suites (tried: ${tried[*]-none})" >&2
    return 1
}
