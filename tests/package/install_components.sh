#!/usr/bin/env bash
# ctest: `cmake --install` by component into scratch prefixes (each component brings its own
# files and no others), then a consumer built with nothing but
# `pkg-config --cflags --libs dlock` against the staged library.
#   install_components.sh BUILD_DIR SOURCE_DIR WORK_DIR CXX [CXXFLAGS]
set -euo pipefail
build=$1 source=$2 work=$3 cxx=$4 extra=${5:-}
rm -rf "$work" && mkdir -p "$work"

fail() { echo "install_components: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$work/cli" --component cli >/dev/null
cmake --install "$build" --prefix "$work/lib" --component library >/dev/null

for file in bin/dlock share/man/man1/dlock.1 share/bash-completion/completions/dlock; do
    [[ -f $work/cli/$file ]] || fail "component cli lacks $file"
    [[ ! -e $work/lib/$file ]] || fail "component library has $file"
done
for file in include/dlock/lock.hpp include/dlock/inspect.hpp lib/libdlock.a \
            lib/pkgconfig/dlock.pc lib/cmake/dlock/dlockConfig.cmake share/doc/dlock/LICENSE \
            share/doc/dlock/CHANGELOG.md; do
    [[ -f $work/lib/$file ]] || fail "component library lacks $file"
    [[ ! -e $work/cli/$file ]] || fail "component cli has $file"
done

# One version everywhere: the binary, the man page, pkg-config, the changelog's latest entry.
version=$("$work/cli/bin/dlock" --version | grep -o '[0-9][0-9.]*' | head -1)
grep -q "\"dlock $version\"" "$work/cli/share/man/man1/dlock.1" || fail "man page is not $version"
grep -q "^## $version " "$work/lib/share/doc/dlock/CHANGELOG.md" || fail "CHANGELOG has no $version"
bash -n "$work/cli/share/bash-completion/completions/dlock"

export PKG_CONFIG_PATH=$work/lib/lib/pkgconfig
[[ $(pkg-config --modversion dlock) == "$version" ]] || fail "dlock.pc is not $version"
# shellcheck disable=SC2046,SC2086
"$cxx" $extra -o "$work/consumer" "$source/tests/consumer/main.cpp" \
    "$source/tests/consumer/sync_only.cpp" $(pkg-config --cflags --libs dlock)
"$work/consumer" >/dev/null
echo "install_components: ok (dlock $version; pkg-config consumer built with $cxx)"
