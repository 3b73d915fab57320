/*
 * colmap_split.h - shared by the two COLMAP fuzzers: one input holds a whole model.
 *
 * Layout: u16 cameras length, u16 images length (little-endian), then the cameras file, the
 * images file, and the points3D file (the rest; absent when empty). Lengths past the end are
 * clamped. Each part is copied into its own exact-size allocation so AddressSanitizer catches a
 * read past the end of any one file, not just past the end of the input.
 */
#ifndef CSPLAT_FUZZ_COLMAP_SPLIT_H
#define CSPLAT_FUZZ_COLMAP_SPLIT_H

#include "camera.h"

#include <stdlib.h>
#include <string.h>

static inline void fuzz_colmap(const uint8_t *data, size_t size, bool binary) {
    static cs_context *ctx;
    if (!ctx) {
        cs_context_desc desc = {.threads = 1};
        if (cs_context_create(&desc, &ctx) != CS_OK) abort();
    }
    if (size < 4) return;
    size_t len[3] = {(size_t)data[0] | (size_t)data[1] << 8,
                     (size_t)data[2] | (size_t)data[3] << 8};
    data += 4;
    size -= 4;
    if (len[0] > size) len[0] = size;
    if (len[1] > size - len[0]) len[1] = size - len[0];
    len[2] = size - len[0] - len[1];
    uint8_t *part[3];
    for (int i = 0, at = 0; i < 3; at += (int)len[i], i++) {
        part[i] = malloc(len[i] ? len[i] : 1);
        if (len[i]) memcpy(part[i], data + at, len[i]);
    }
    cs_camera_set *set;
    if (cs__colmap_parse(ctx, "fuzz", binary, part[0], len[0], part[1], len[1],
                         len[2] ? part[2] : NULL, len[2], "images", &set) == CS_OK) {
        /* Touch what a caller would read. */
        volatile float sink = 0;
        for (int64_t i = 0; i < cs_camera_set_count(set); i++)
            sink += cs_camera_set_camera(set, i)->fx + (float)strlen(cs_camera_set_name(set, i));
        const float *xyz;
        int64_t n = cs_camera_set_points(set, &xyz, NULL);
        if (n) sink += xyz[3 * n - 1];
        (void)sink;
        cs_camera_set_destroy(set);
    }
    for (int i = 0; i < 3; i++) free(part[i]);
}

#endif
