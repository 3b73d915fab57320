#!/bin/sh
# view_check.sh [CLI] - end-to-end check of `csplat view`'s scripted mode: under xvfb-run it
# renders N frames along the default orbit and saves the last at full resolution; that PNG must
# be byte-identical to frame N-1 of `csplat render SCENE --orbit N` at the same size (both use
# tools/orbit.c's path and render's lens scaled to the width, the renderer and the same PNG
# writer): view at 480x270 against render --scale 0.5 of its 960x540 lens. The scene is
# generated here: an ASCII Inria PLY of 300 Gaussians from a fixed linear congruential sequence.
#
# Skips (exit 0, with a message) when xvfb-run is absent or `csplat render` has no --orbit.
set -eu
cli=${1:-build/csplat}
frames=6

if ! command -v xvfb-run >/dev/null 2>&1; then
    echo "view-check: SKIP: xvfb-run is not installed (Debian package xvfb)"
    exit 0
fi
if ! "$cli" render --help 2>/dev/null | grep -q -- '--orbit'; then
    echo "view-check: SKIP: '$cli render' has no --orbit"
    exit 0
fi

tmp=$(mktemp -d /tmp/csplat-view-check.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

awk -v n=300 'BEGIN {
    s = 12345
    print "ply"; print "format ascii 1.0"; print "element vertex " n
    split("x y z f_dc_0 f_dc_1 f_dc_2 opacity scale_0 scale_1 scale_2 rot_0 rot_1 rot_2 rot_3",
          names, " ")
    for (k = 1; k <= 14; k++) print "property float " names[k]
    print "end_header"
    for (i = 0; i < n; i++) {
        line = ""
        for (k = 1; k <= 14; k++) {
            s = (1103515245 * s + 12345) % 2147483648
            u = s / 2147483648
            if (k <= 3) v = 2 * u - 1                 # position in [-1, 1]^3
            else if (k <= 6) v = 3 * u - 1.5          # DC colour coefficient
            else if (k == 7) v = 4 * u - 1            # opacity logit
            else if (k <= 10) v = -4 + 1.5 * u        # log-scale: 0.018 .. 0.082
            else v = 2 * u - 1                        # quaternion (normalised on use)
            line = line (k > 1 ? " " : "") sprintf("%.6f", v)
        }
        print line
    }
}' >"$tmp/scene.ply"

xvfb-run -a "$cli" view "$tmp/scene.ply" --frames $frames --screenshot "$tmp/view.png" \
    --width 480 --height 270 >"$tmp/view.log" 2>&1 || {
    cat "$tmp/view.log"
    echo "view-check: FAIL: csplat view --frames exited non-zero"
    exit 1
}
"$cli" render "$tmp/scene.ply" --orbit $frames --scale 0.5 -o "$tmp/orbit" \
    >"$tmp/render.log" 2>&1 || {
    cat "$tmp/render.log"
    echo "view-check: FAIL: csplat render --orbit exited non-zero"
    exit 1
}
last="$tmp/orbit/$(printf 'frame_%04d.png' $((frames - 1)))"
if ! cmp -s "$tmp/view.png" "$last"; then
    echo "view-check: FAIL: the viewer's last frame differs from render --orbit's" \
        "$(basename "$last")"
    exit 1
fi
echo "view-check: view --frames $frames equals render --orbit $frames frame $((frames - 1))" \
    "($(cat "$tmp/view.log")) (1 passed, 0 failed)"
