/*
 * fuzz_png.c - libFuzzer entry point for PNG decoding (cs__image_decode, the code behind
 * cs_image_load).
 *
 * Chunk CRCs are recomputed on a copy of the input before decoding, so mutations reach libpng's
 * chunk and row handling instead of stopping at the CRC check (libpng's own fuzzer turns CRC
 * checking off for the same reason; ours stays on in the library). The pixel limit is lowered so a
 * crafted header cannot ask for gigabytes within libFuzzer's memory limit.
 */
#include "image.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fix_chunk_crcs(uint8_t *d, size_t n) {
    size_t p = 8; /* after the signature */
    while (p < n && n - p >= 12) {
        uint32_t len =
            (uint32_t)d[p] << 24 | (uint32_t)d[p + 1] << 16 | (uint32_t)d[p + 2] << 8 | d[p + 3];
        if (len > n - p - 12) break;
        uint32_t crc = (uint32_t)crc32(0, d + p + 4, len + 4);
        uint8_t *c = d + p + 8 + len;
        c[0] = (uint8_t)(crc >> 24);
        c[1] = (uint8_t)(crc >> 16);
        c[2] = (uint8_t)(crc >> 8);
        c[3] = (uint8_t)crc;
        p += 12 + (size_t)len;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static cs_context *ctx;
    if (!ctx) {
        cs_context_desc desc = {.threads = 1};
        if (cs_context_create(&desc, &ctx) != CS_OK) abort();
        cs__image_set_max_pixels((int64_t)1 << 22);
    }
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    memcpy(copy, data, size);
    if (size > 8) fix_chunk_crcs(copy, size);
    cs_image img;
    if (cs__image_decode(ctx, "fuzz.png", copy, size, &img) == CS_OK) {
        /* Touch every sample so ASan checks the whole allocation. */
        size_t n = (size_t)img.width * (size_t)img.height * (size_t)img.channels;
        volatile float sum = 0.0f;
        for (size_t i = 0; i < n; i++) sum += img.data[i];
        CS_ASSERT(img.channels >= 1 && img.channels <= 4);
        cs_image_free(&img);
    } else {
        CS_ASSERT(img.data == NULL);
    }
    free(copy);
    return 0;
}
