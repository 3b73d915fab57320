#!/bin/sh
# splat_transform.sh - cross-checks csplat's SPZ, SOG and compressed-PLY codecs against the
# reference tool, PlayCanvas splat-transform (npm @playcanvas/splat-transform), both ways:
#   csplat writes cs.{spz,sog,compressed.ply}, cs_dir/meta.json and cs.compress.sog (`csplat
#   compress`), splat-transform decodes them;
#   splat-transform writes st.{spz,sog,compressed.ply} and st_dir/meta.json, csplat decodes them.
# splat-transform's decode of every file (NAME.st.ply) goes next to it, and the test binary's
# interop_splat_transform_files test compares csplat's decode with it (float rounding only) and
# each file with the source (within its format's quantisation).
#
# Source scene: level 5 of ../shared/data/playcanvas_playbot_sog (3000 Gaussians, SH degree 2)
# when present, else 2000 generated Gaussians (SH degree 3) written as an ASCII PLY by awk.
#
# Skips with a message (exit 0) when npm or node is missing or the package cannot be installed.
# The package goes to $SPLAT_TRANSFORM_PREFIX (default /tmp/csplat-splat-transform), never into
# the repository. Run from the repository root after `make`:
#   sh tests/interop/splat_transform.sh
# Environment: CSPLAT_CLI (build/csplat), CSPLAT_TESTS (build/csplat_tests),
# SPLAT_TRANSFORM_VERSION (2.7.1: the newest release that runs on Node 18-20),
# CSPLAT_DATA (../shared/data).
set -eu

CLI=${CSPLAT_CLI:-build/csplat}
TESTS=${CSPLAT_TESTS:-build/csplat_tests}
VERSION=${SPLAT_TRANSFORM_VERSION:-2.7.1}
PREFIX=${SPLAT_TRANSFORM_PREFIX:-/tmp/csplat-splat-transform}
DATA=${CSPLAT_DATA:-../shared/data}

skip() {
    echo "splat_transform.sh: SKIP: $*"
    exit 0
}

[ -x "$CLI" ] && [ -x "$TESTS" ] || { echo "splat_transform.sh: build first (make)"; exit 1; }
command -v npm >/dev/null 2>&1 || skip "npm not found"
command -v node >/dev/null 2>&1 || skip "node not found"
ST="$PREFIX/node_modules/.bin/splat-transform"
if [ ! -x "$ST" ]; then
    mkdir -p "$PREFIX"
    echo "splat_transform.sh: installing @playcanvas/splat-transform@$VERSION into $PREFIX"
    npm install --prefix "$PREFIX" --no-audit --no-fund --loglevel=error \
        "@playcanvas/splat-transform@$VERSION" >"$PREFIX/install.log" 2>&1 ||
        skip "cannot install @playcanvas/splat-transform@$VERSION (see $PREFIX/install.log)"
fi
"$ST" --version >/dev/null 2>&1 || skip "splat-transform does not run here ($(node --version))"

WORK=$(mktemp -d /tmp/csplat-interop.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# splat-transform NAME OUT: quiet, overwrite, CPU only (its SOG k-means can use a GPU).
st() {
    "$ST" -q -w -g cpu "$@" >"$WORK/splat-transform.log" 2>&1 || { cat "$WORK/splat-transform.log"; return 1; }
}

if [ -f "$DATA/playcanvas_playbot_sog/5_0/meta.json" ]; then
    "$CLI" convert "$DATA/playcanvas_playbot_sog/5_0/meta.json" "$WORK/source.ply"
else
    awk 'BEGIN {
        srand(7); n = 2000
        printf "ply\nformat ascii 1.0\nelement vertex %d\n", n
        split("x y z scale_0 scale_1 scale_2 rot_0 rot_1 rot_2 rot_3 opacity f_dc_0 f_dc_1 f_dc_2", p, " ")
        for (i = 1; i <= 14; i++) printf "property float %s\n", p[i]
        for (i = 0; i < 45; i++) printf "property float f_rest_%d\n", i
        printf "end_header\n"
        for (g = 0; g < n; g++) {
            x = 4 * rand() - 2; y = 4 * rand() - 2; z = 4 * rand() - 2
            printf "%.6f %.6f %.6f", x, y, z
            for (i = 0; i < 3; i++) printf " %.6f", -5 + 4 * rand()
            for (i = 0; i < 4; i++) printf " %.6f", 2 * rand() - 1
            printf " %.6f", 8 * rand() - 4
            for (i = 0; i < 3; i++) printf " %.6f", 3 * rand() - 1.5
            for (i = 0; i < 45; i++) printf " %.6f", 1.6 * rand() - 0.8
            printf "\n"
        }
    }' >"$WORK/source_ascii.ply"
    "$CLI" convert "$WORK/source_ascii.ply" "$WORK/source.ply"
fi

mkdir -p "$WORK/cs_dir" "$WORK/st_dir"
for f in spz sog compressed.ply; do
    "$CLI" convert "$WORK/source.ply" "$WORK/cs.$f"
    st "$WORK/source.ply" "$WORK/st.$f"
done
"$CLI" compress "$WORK/source.ply" "$WORK/cs.compress.sog"
"$CLI" convert "$WORK/source.ply" "$WORK/cs_dir/meta.json"
st "$WORK/source.ply" "$WORK/st_dir/meta.json"
for f in "$WORK"/cs.* "$WORK"/st.* "$WORK/cs_dir/meta.json" "$WORK/st_dir/meta.json"; do
    case "$f" in *.st.ply) continue ;; esac
    st "$f" "$f.st.ply"
done
echo "splat_transform.sh: splat-transform $("$ST" --version 2>&1 | head -n 1), files in $WORK"
CSPLAT_INTEROP_DIR="$WORK" "$TESTS" interop_splat_transform_files
