#!/usr/bin/env bash
# ctest: `cpack -G DEB` builds the package; its contents are checked, it is unpacked into a
# scratch root and its dlock runs (--version, and a lock on the test server in $DLOCK_URL).
# In CI as root (CI=true, uid 0), it is also installed with dpkg -i, used from /usr/bin, and
# removed again.
#   deb.sh BUILD_DIR WORK_DIR
set -euo pipefail
build=$1 work=$2
rm -rf "$work" && mkdir -p "$work"
fail() { echo "deb: $*" >&2; exit 1; }
DLOCK_URL=$(grep '^PLAIN_URL=' "${DLOCK_SERVERS_ENV:?run through ctest}" | cut -d= -f2-)
export DLOCK_URL

(cd "$build" && cpack -G DEB -B "$work" >"$work/cpack.log") || { cat "$work/cpack.log"; fail "cpack failed"; }
deb=$(ls "$work"/dlock_*.deb)
contents=$(dpkg-deb -c "$deb")
for file in ./usr/bin/dlock ./usr/share/man/man1/dlock.1 ./usr/share/bash-completion/completions/dlock \
            ./usr/include/dlock/lock.hpp ./usr/lib/libdlock.a ./usr/lib/pkgconfig/dlock.pc; do
    grep -q " $file\$" <<<"$contents" || fail "package lacks $file"
done
dpkg-deb -f "$deb" Depends | grep -q libhiredis || fail "Depends lacks hiredis: $(dpkg-deb -f "$deb" Depends)"

# A lock with the packaged binary, however the package got onto the machine.
use() {
    local dlock=$1 name
    name="deb-test-$$-$RANDOM"
    "$dlock" --version | grep -q '^dlock ' || fail "$dlock --version"
    [[ $("$dlock" run -n "$name" -c 'echo "$DLOCK_NAME"') == "$name" ]] || fail "$dlock run"
    "$dlock" status "$name" | grep -q '^free' || fail "$dlock status"
}
dpkg-deb -x "$deb" "$work/root"
use "$work/root/usr/bin/dlock"
if [[ ${CI:-} == true && $(id -u) == 0 ]]; then
    dpkg -i "$deb" >/dev/null
    use /usr/bin/dlock
    dpkg -r dlock >/dev/null
    echo "deb: installed with dpkg -i, used, removed"
fi
echo "deb: ok ($(basename "$deb"))"
