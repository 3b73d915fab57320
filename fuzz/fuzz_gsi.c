/*
 * fuzz_gsi.c - libFuzzer entry point for the .gsi reader (cs__gsi_parse, the code behind
 * cs_gimage_load and cs_gimage_decode).
 *
 * Whatever parses must also be usable: it is rendered into a small 19x13 output (prepare, bin
 * and the tile kernel on arbitrary quantized parameters; skipped above 100,000 Gaussians so a
 * zstd bomb of valid Gaussians cannot stall the run) and re-encoded at its own bit depths, which
 * must succeed and decode again to the same count. Seeds: fuzz/seeds/fuzz_gsi (both rules, gray
 * and RGB, zstd and raw, float and 1..16-bit planes, an empty image; version 1 and, named
 * *_v2.gsi, version 2 with YCoCg colour and per-plane frames).
 */
#include "image2d.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static cs_context *ctx;
    if (!ctx) {
        cs_context_desc desc = {.threads = 1};
        if (cs_context_create(&desc, &ctx) != CS_OK) abort();
    }
    cs_gimage *g = NULL;
    if (cs__gsi_parse(ctx, "fuzz.gsi", data, size, &g) != CS_OK) {
        CS_ASSERT(g == NULL && cs_context_last_error(ctx)[0]);
        return 0;
    }
    cs_gimage_info info;
    cs_gimage_get_info(g, &info);
    CS_ASSERT(info.file_bytes == (int64_t)size);
    if (info.count <= 100000) {
        cs_image img;
        cs_gimage_render_desc rd = {.width = 19, .height = 13};
        if (cs_gimage_render(ctx, g, &rd, &img) == CS_OK) {
            for (int i = 0; i < 19 * 13 * info.channels; i++)
                CS_ASSERT(img.data[i] >= 0.0f && img.data[i] <= 1.0f);
            cs_image_free(&img);
        }
    }
    cs_gsi_options opt = {.bits_position = info.bits_position,
                          .bits_cholesky = info.bits_cholesky,
                          .bits_colour = info.bits_colour,
                          .no_zstd = !info.zstd};
    uint8_t *bytes;
    size_t len;
    if (info.count <= 100000 && cs_gimage_encode(ctx, g, &opt, &bytes, &len) == CS_OK) {
        cs_gimage *again;
        CS_ASSERT(cs_gimage_decode(ctx, bytes, len, &again) == CS_OK);
        CS_ASSERT(cs_gimage_get_params(again).count == info.count);
        cs_gimage_destroy(again);
        cs_gimage_buffer_free(bytes);
    }
    cs_gimage_destroy(g);
    return 0;
}
