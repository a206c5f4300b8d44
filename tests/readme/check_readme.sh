#!/usr/bin/env bash
# ctest: every ```cpp block of README.md compiles as pasted, with g++ and with clang++ (clang++-14
# if installed, else clang++; required when CI is set; a sanitizer build checks g++ only),
# against this build's headers and library; a block with main() is linked, and each compiler's
# program is run against the test servers (DLOCK_URL = the plain server, DLOCK_CLUSTER_URL = a
# 3x1 cluster node) and must exit 0. The first block (the async example) must also end, with a non-zero
# status, when Redis is down.
#   check_readme.sh SOURCE_DIR BUILD_DIR WORK_DIR
set -euo pipefail
source_dir=$1 build=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
fail() { echo "check_readme: $*" >&2; exit 1; }
env_file=${DLOCK_SERVERS_ENV:?run through ctest}
value() { grep "^$1=" "$env_file" | cut -d= -f2-; }
DLOCK_URL=$(value PLAIN_URL)
DLOCK_CLUSTER_URL=$(value CLUSTER3X1_SEEDS | cut -d, -f1)
export DLOCK_URL DLOCK_CLUSTER_URL

# Blocks to block-N.cpp, in order.
awk -v dir="$work" '
    /^```cpp[[:space:]]*$/ { n++; file = dir "/block-" n ".cpp"; inside = 1; next }
    /^```/ && inside { inside = 0; close(file); next }
    inside { print > file }
' "$source_dir/README.md"
blocks=("$work"/block-*.cpp)
((${#blocks[@]} > 0)) || fail "no cpp block found in README.md"

compilers=(g++)
common=(-std=c++20 -I"$source_dir/include" -DASIO_DISABLE_STD_ALIGNED_ALLOC -Wall -Wextra -Werror)
# A sanitizer build's library needs the same sanitizer in what links it (g++ only: clang's
# runtime is another one). The plain builds check both compilers.
sanitize=$(sed -n 's/^DLOCK_SANITIZE:STRING=//p' "$build/CMakeCache.txt" 2>/dev/null || true)
if [[ -n $sanitize ]]; then
    common+=(-fsanitize="$sanitize" -fno-omit-frame-pointer -Wno-maybe-uninitialized)
    # As CMakeLists.txt: GCC's -Wtsan flags the fence in Asio's handler invocation.
    if [[ $sanitize == *thread* ]]; then common+=(-Wno-tsan); fi
else
    # The clang the project supports (14), else whichever clang++ is installed; a CI run must
    # have one, so that the README's promise (g++ and clang) is checked there every time.
    for clang in clang++-14 clang++; do
        if command -v "$clang" >/dev/null; then compilers+=("$clang") && break; fi
    done
    if ((${#compilers[@]} == 1)); then
        [[ -z ${CI:-} ]] || fail "no clang++ installed: the README blocks must compile with clang too"
        echo "check_readme: no clang++ installed, checking with g++ only" >&2
    fi
fi
libs=("$build/libdlock.a" -lhiredis -lssl -lcrypto -pthread)
for cxx in "${compilers[@]}"; do
    flags=("${common[@]}")
    [[ $cxx == clang* ]] && flags+=(-DASIO_HAS_CO_AWAIT)
    for block in "${blocks[@]}"; do
        name=$(basename "$block" .cpp)
        if grep -q '^int main' "$block"; then
            "$cxx" "${flags[@]}" -o "$work/$name-$cxx" "$block" "${libs[@]}" ||
                fail "README $name does not build with $cxx"
        else
            "$cxx" "${flags[@]}" -c -o "$work/$name-$cxx.o" "$block" ||
                fail "README $name does not compile with $cxx"
        fi
    done
done

ran=0
for program in "$work"/block-*; do
    [[ -x $program && -f $program ]] || continue
    timeout 60 "$program" || fail "$(basename "$program") exited $?"
    ran=$((ran + 1))
done
first=$work/block-1-g++
[[ -x $first ]] || fail "the first block (async example) has no main()"
set +e
DLOCK_URL=redis://127.0.0.1:1 timeout 30 "$first" 2>/dev/null
status=$?
set -e
((status != 0 && status != 124)) || fail "the async example with Redis down exited $status"
echo "check_readme: ${#blocks[@]} blocks compiled with ${compilers[*]}; $ran programs ran"
