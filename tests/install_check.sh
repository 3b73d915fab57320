#!/bin/sh
# install_check.sh - installs csplat into a scratch prefix, builds examples/hello.c against the
# installed header with `pkg-config --cflags --libs csplat` (shared, then static), and runs it.
set -eu
prefix=$(mktemp -d /tmp/csplat-install.XXXXXX)
trap 'rm -rf "$prefix"' EXIT
make -s install PREFIX="$prefix" >/dev/null
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
cc -std=c11 -Wall -Werror examples/hello.c $(pkg-config --cflags --libs csplat) -o "$prefix/hello"
LD_LIBRARY_PATH="$prefix/lib" "$prefix/hello" >"$prefix/out.txt"
grep -q "csplat 0.1.0" "$prefix/out.txt"
cc -std=c11 -Wall -Werror examples/hello.c $(pkg-config --cflags csplat) \
    "$prefix/lib/libcsplat.a" $(pkg-config --static --libs csplat | sed 's/-lcsplat//') \
    -o "$prefix/hello-static"
"$prefix/hello-static" >/dev/null
"$prefix/bin/csplat" --version >/dev/null
echo "install-check: installed header, libraries, csplat.pc and CLI work (1 passed, 0 failed)"
