/*
 * view_overlay.h - the viewer's on-screen text (tools/view_overlay.c): one line of printable ASCII
 * drawn with a built-in 5x7 bitmap font into an RGBA8 buffer, white on a translucent dark box.
 * No font library (SDL2_ttf is not a dependency) and no window-system calls.
 */
#ifndef CSPLAT_VIEW_OVERLAY_H
#define CSPLAT_VIEW_OVERLAY_H

#include <stdint.h>

/* Size in pixels of the box holding `text` with glyphs magnified by `scale` (>= 1). */
void overlay_measure(const char *text, int scale, int *width, int *height);
/* Fill rgba ([height, width, 4] bytes R, G, B, A, as measured) with the box and the text.
 * Characters outside ' '..'~' draw as '?'. */
void overlay_draw(const char *text, int scale, uint8_t *rgba, int width, int height);

#endif
