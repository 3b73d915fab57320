/*
 * fuzz_jpeg.c - libFuzzer entry point for JPEG decoding (cs__image_decode, the code behind
 * cs_image_load): libjpeg-turbo driven through our error manager, which must turn every error
 * and premature end into a status without leaks, prints or exits.
 *
 * The pixel limit is lowered so a crafted header cannot ask for gigabytes within libFuzzer's
 * memory limit (JPEG has no size/data relation to check up front: a progressive scan can cover
 * any number of blocks in a few bytes).
 */
#include "image.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static cs_context *ctx;
    if (!ctx) {
        cs_context_desc desc = {.threads = 1};
        if (cs_context_create(&desc, &ctx) != CS_OK) abort();
        cs__image_set_max_pixels((int64_t)1 << 22);
    }
    cs_image img;
    if (cs__image_decode(ctx, "fuzz.jpg", data, size, &img) == CS_OK) {
        size_t n = (size_t)img.width * (size_t)img.height * (size_t)img.channels;
        volatile float sum = 0.0f;
        for (size_t i = 0; i < n; i++) sum += img.data[i];
        CS_ASSERT(img.channels == 1 || img.channels == 3);
        cs_image_free(&img);
    } else {
        CS_ASSERT(img.data == NULL);
    }
    return 0;
}
