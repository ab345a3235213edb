#!/usr/bin/env bash
# The `packaging` ctest: `cmake --install` into a temporary DESTDIR puts every
# file where a distribution package would, and each one is checked with the
# tool that reads it: mandoc for the man pages, systemd-analyze for the unit,
# systemd-sysusers for its user, h3gate -t for the example config.  Then the
# man pages are checked against the sources: every directive the config
# parser matches and every long option `h3gate --help` prints is documented.
#
# Environment (tests/CMakeLists.txt sets it from the build's configuration):
#   H3G_BUILD_DIR H3G_SOURCE_DIR CMAKE      the build, the sources, cmake
#   H3G_SBINDIR H3G_MANDIR H3G_DOCDIR H3G_SYSCONFDIR H3G_UNITDIR H3G_SYSUSERSDIR
#                                           absolute install directories
# H3G_KEEP=1 keeps the temporary directory for a look afterwards.
set -uo pipefail

fails=0
fail() { printf 'FAIL: %s\n' "$*"; fails=$((fails + 1)); }
ok() { printf 'ok: %s\n' "$*"; }
die() { printf 'FAIL: %s\n' "$*"; exit 1; }

for v in H3G_BUILD_DIR H3G_SOURCE_DIR CMAKE H3G_SBINDIR H3G_MANDIR H3G_DOCDIR H3G_SYSCONFDIR \
    H3G_UNITDIR H3G_SYSUSERSDIR; do
    [ -n "${!v:-}" ] || die "$v is not set (run through ctest)"
done
for tool in mandoc systemd-analyze systemd-sysusers openssl; do
    command -v "$tool" >/dev/null || die "$tool not found (scripts/setup-deps.sh installs it)"
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/h3g-packaging.XXXXXX") || die "mktemp"
if [ "${H3G_KEEP:-0}" = 1 ]; then
    echo "keeping $tmp"
else
    trap 'rm -rf "$tmp"' EXIT
fi
dest=$tmp/destdir
src=$H3G_SOURCE_DIR

# --- 1. install ------------------------------------------------------------
if ! DESTDIR=$dest "$CMAKE" --install "$H3G_BUILD_DIR" >"$tmp/install.log" 2>&1; then
    cat "$tmp/install.log"
    die "cmake --install failed"
fi
ok "cmake --install into $dest"

bin=$dest$H3G_SBINDIR/h3gate
man8=$dest$H3G_MANDIR/man8/h3gate.8
man5=$dest$H3G_MANDIR/man5/h3gate.conf.5
example=$dest$H3G_DOCDIR/examples/h3gate.conf.example
unit=$dest$H3G_UNITDIR/h3gate.service
sysusers=$dest$H3G_SYSUSERSDIR/h3gate.conf
logrotate=$dest$H3G_SYSCONFDIR/logrotate.d/h3gate
conf=$H3G_SYSCONFDIR/h3gate/h3gate.conf

if [ -x "$bin" ]; then ok "installed $H3G_SBINDIR/h3gate"; else fail "no executable $bin"; fi
for f in "$man8" "$man5" "$example" "$unit" "$sysusers" "$logrotate"; do
    if [ -f "$f" ] && [ -s "$f" ]; then ok "installed ${f#"$dest"}"; else fail "not installed: ${f#"$dest"}"; fi
done
# The operator's config file is never installed (or overwritten).
if [ ! -e "$dest$conf" ]; then ok "no $conf installed"; else fail "$conf must not be installed"; fi
for pair in "$man8:man/h3gate.8" "$man5:man/h3gate.conf.5" "$example:dist/h3gate.conf.example" \
    "$sysusers:dist/h3gate.sysusers"; do
    cmp -s "${pair%%:*}" "$src/${pair#*:}" || fail "${pair%%:*} differs from ${pair#*:}"
done
for f in "$unit" "$logrotate"; do
    ! grep -n '@[A-Za-z_]*@' "$f" || fail "${f#"$dest"}: unsubstituted @VARIABLE@"
done

# --- 2. man pages ------------------------------------------------------------
for page in "$man8" "$man5"; do
    out=$(mandoc -T lint -W warning "$page" 2>&1)
    rc=$?
    if [ $rc -ne 0 ] || [ -n "$out" ]; then
        printf '%s\n' "$out"
        fail "mandoc -T lint -W warning ${page#"$dest"} (exit $rc)"
    else
        ok "mandoc lint ${page#"$dest"}"
    fi
done

# --- 3. the systemd unit and its user ----------------------------------------
# The unit, as installed, names the installed binary and the config file.
grep -qx "ExecStart=$H3G_SBINDIR/h3gate -c $conf" "$unit" || fail "ExecStart is not '$H3G_SBINDIR/h3gate -c $conf'"
grep -qx "ExecStartPre=$H3G_SBINDIR/h3gate -t -c $conf" "$unit" || fail "ExecStartPre does not check $conf"
# shellcheck disable=SC2016 # a literal $MAINPID
grep -qx 'ExecReload=/bin/kill -HUP $MAINPID' "$unit" || fail "ExecReload does not send SIGHUP to \$MAINPID"
grep -qx 'Type=notify' "$unit" || fail "the unit is not Type=notify"
# systemd-analyze verify in a root holding the installed tree and the host's
# units (the targets it depends on): it resolves ExecStart= and the other
# commands inside the root, and Documentation=man: through MANPATH.  It
# exits 0 after some complaints ("Unknown key", "Failed to parse"), so any
# output fails too.
vroot=$tmp/verify-root
cp -al "$dest" "$vroot" || die "cp"
for d in /usr/lib/systemd/system /lib/systemd/system; do
    if [ -d "$d" ]; then
        mkdir -p "$vroot$d"
        cp -an "$d/." "$vroot$d/" 2>/dev/null
    fi
done
out=$(MANPATH=$dest$H3G_MANDIR systemd-analyze verify --root="$vroot" "$H3G_UNITDIR/h3gate.service" 2>&1)
rc=$?
if [ $rc -ne 0 ] || [ -n "$out" ]; then
    printf '%s\n' "$out"
    fail "systemd-analyze verify h3gate.service (exit $rc)"
else
    ok "systemd-analyze verify h3gate.service"
fi
# The sysusers.d file creates the user and group the unit and logrotate use.
user=$(sed -n 's/^User=//p' "$unit")
group=$(sed -n 's/^Group=//p' "$unit")
if [ -z "$user" ] || [ -z "$group" ]; then fail "the unit has no User= and Group="; fi
mkdir -p "$vroot/etc"
if out=$(systemd-sysusers --root="$vroot" "$vroot$H3G_SYSUSERSDIR/h3gate.conf" 2>&1) &&
    grep -q "^$user:x:[0-9]*:[0-9]*:.*:/usr/sbin/nologin$" "$vroot/etc/passwd" &&
    grep -q "^$group:x:" "$vroot/etc/group"; then
    ok "systemd-sysusers creates $user:$group"
else
    printf '%s\n' "$out"
    fail "systemd-sysusers did not create the unit's User= and Group="
fi
grep -qE "^[[:space:]]*su $user $group$" "$logrotate" || fail "logrotate does not rotate as $user $group"
grep -q 'systemctl kill -s USR1 --kill-whom=main h3gate.service' "$logrotate" ||
    fail "logrotate does not send SIGUSR1 to h3gate"
if command -v logrotate >/dev/null; then
    # logrotate -d parses and plans without touching anything; point it at
    # a directory of our own (and at root if the user does not exist here).
    mkdir -p "$tmp/log" && echo x >"$tmp/log/access.log"
    sed -e "s#^/var/log/h3gate/#$tmp/log/#" "$logrotate" >"$tmp/logrotate.conf"
    getent passwd "$user" >/dev/null || sed -i "s/ $user $group/ root root/" "$tmp/logrotate.conf"
    if out=$(logrotate -d -s "$tmp/logrotate.state" "$tmp/logrotate.conf" 2>&1) &&
        ! grep -qi '^error' <<<"$out"; then
        ok "logrotate -d accepts the snippet"
    else
        printf '%s\n' "$out"
        fail "logrotate -d rejects the snippet"
    fi
else
    echo "note: logrotate not installed, its snippet was checked by grep only"
fi

# --- 4. the example config ---------------------------------------------------
# A copy whose /etc/h3gate/ and /srv/ paths lead into the temporary
# directory, with a certificate and key for every cert/key pair it names and
# every root it serves.
ex=$tmp/example
mkdir -p "$ex"
sed -e "s#/etc/h3gate/#$ex/etc/h3gate/#g" -e "s#/srv/#$ex/srv/#g" "$example" >"$ex/h3gate.conf"
mapfile -t certs < <(sed -n 's/^[[:space:]]*cert[[:space:]]\+\([^;[:space:]]*\);.*/\1/p' "$ex/h3gate.conf")
mapfile -t keys < <(sed -n 's/^[[:space:]]*key[[:space:]]\+\([^;[:space:]]*\);.*/\1/p' "$ex/h3gate.conf")
if [ ${#certs[@]} -eq 0 ] || [ ${#certs[@]} -ne ${#keys[@]} ]; then
    fail "the example should have as many cert as key lines (${#certs[@]}, ${#keys[@]})"
fi
for i in "${!certs[@]}"; do
    case ${certs[$i]}${keys[$i]} in "$ex"/*"$ex"/*) ;; *) fail "example: ${certs[$i]} is not under /etc/h3gate/ or /srv/" ;; esac
    mkdir -p "$(dirname "${certs[$i]}")" "$(dirname "${keys[$i]}")"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj "/CN=example-$i" -keyout "${keys[$i]}" -out "${certs[$i]}" >/dev/null 2>&1 ||
        die "openssl req failed"
done
while read -r dir; do
    case $dir in "$ex"/*) mkdir -p "$dir" ;; *) fail "example: root $dir is not under /srv/" ;; esac
done < <(sed -n 's/^[[:space:]]*\(root\|acme_challenge_root\)[[:space:]]\+\([^;[:space:]]*\);.*/\2/p' "$ex/h3gate.conf")
if out=$("$bin" -t -c "$ex/h3gate.conf" 2>&1); then
    ok "h3gate -t accepts the example (${#certs[@]} certificates): $out"
else
    printf '%s\n' "$out"
    fail "h3gate -t -c rejects the example config"
fi
# ... and -t is a real check: one unknown directive more, and it fails.
{ cat "$ex/h3gate.conf"; echo "no_such_directive on;"; } >"$ex/broken.conf"
if "$bin" -t -c "$ex/broken.conf" >/dev/null 2>&1; then
    fail "h3gate -t accepts an unknown directive"
fi

# --- 5. the man pages cover the sources ------------------------------------
# Every name the config parser compares a directive with (clang-format may
# break the call across lines, hence the joined text).
# The limits are the entries of the limits table ({"name", ...).
mapfile -t directives < <({ tr -s ' \t\n' ' ' <"$src/src/config/config_file.c" |
    grep -o 'strcmp( \?n->name, \?"[a-z_0-9]*")' | sed 's/.*"\(.*\)")/\1/'
    grep -o '^ *{"[a-z_0-9]*", ' "$src/src/config/settings.c" | sed 's/.*{"\(.*\)", /\1/'; } |
    sort -u)
[ ${#directives[@]} -ge 50 ] || fail "only ${#directives[@]} directives found in config_file.c and settings.c: pattern broken?"
missing=()
for d in "${directives[@]}"; do
    grep -qE "^\.It Ic $d( |\$)" "$man5" || missing+=("$d")
done
if [ ${#missing[@]} -eq 0 ]; then
    ok "h3gate.conf.5 documents all ${#directives[@]} directives of config_file.c and settings.c"
else
    fail "h3gate.conf.5 lacks an '.It Ic NAME' entry for: ${missing[*]}"
fi
# Each number, size and duration setting's default and upper bound, as
# `h3gate --settings` prints them from the parser's own table, are what the
# man page's entry for it (in its context) says.
settings=$("$bin" --settings) || fail "h3gate --settings failed"
entry_of() { # name context -> the entry's text, joined, without mdoc macros
    awk -v n="$1" '
        $0 ~ "^\\.It Ic " n "( |$)" { if (t != "") print t; t = " "; next }
        /^\.(It|El)( |$)/ { if (t != "") print t; t = ""; next }
        t != "" { t = t " " $0 }
        END { if (t != "") print t }' "$man5" |
        sed -e 's/\.\(Li\|Ic\|Cm\|Ar\|br\) \?//g' -e 's/  */ /g' |
        case $2 in
            top) grep "Context: top level" ;;
            *) grep "Context: \(.* \)\?$2" ;;
        esac
}
nsettings=0
while read -r name context kind range def; do
    case $name in '#'*) continue ;; esac
    nsettings=$((nsettings + 1))
    max=${range#*..}
    text=$(entry_of "$name" "$context")
    if [ -z "$text" ]; then
        fail "h3gate.conf.5 has no entry for $name in context $context"
        continue
    fi
    grep -qE "Default: $def([ .,;)]|\$)" <<<"$text" ||
        fail "h3gate.conf.5: $name ($context) does not say 'Default: $def': $text"
    [ "$max" = - ] || grep -qw -- "$max" <<<"$text" ||
        fail "h3gate.conf.5: $name ($context) does not give its bound $max: $text"
done <<<"$settings"
[ $nsettings -ge 20 ] || fail "only $nsettings settings in h3gate --settings: output broken?"
ok "h3gate.conf.5 gives the default and bound of all $nsettings settings of --settings"

# Every option `h3gate --help` prints, long and short.
help=$("$bin" --help) || fail "h3gate --help failed"
mapfile -t longopts < <(grep -oE -- '--[a-z][a-z0-9-]*' <<<"$help" | sed 's/^--//' | sort -u)
mapfile -t shortopts < <(grep -oE -- '(^|[ ,])-[a-zA-Z]([ ,]|$)' <<<"$help" | tr -d ' ,-' | sort -u)
[ ${#longopts[@]} -ge 20 ] || fail "only ${#longopts[@]} long options in --help: pattern broken?"
missing=()
for o in "${longopts[@]}"; do
    grep -qE "^\.It .*Fl -$o( |\$)" "$man8" || missing+=("--$o")
done
for o in "${shortopts[@]}"; do
    grep -qE "^\.It (.* )?Fl $o( |\$)" "$man8" || missing+=("-$o")
done
if [ ${#missing[@]} -eq 0 ]; then
    ok "h3gate.8 documents all ${#longopts[@]} long and ${#shortopts[@]} short options of --help"
else
    fail "h3gate.8 lacks an '.It Fl ...' entry for: ${missing[*]}"
fi

if [ $fails -ne 0 ]; then
    echo "$fails check(s) failed"
    exit 1
fi
echo "all packaging checks passed"
