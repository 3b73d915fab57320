/*
 * fuzz_splat.c - libFuzzer entry point for the .splat parser (cs__codec_splat.parse) on arbitrary
 * bytes; a parsed scene goes through the statistics pass. Seeds: fuzz/seeds/fuzz_splat.
 */
#include "formats.h"
#include "internal.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static cs_context *ctx;
    if (!ctx) {
        cs_context_desc desc = {.threads = 1};
        if (cs_context_create(&desc, &ctx) != CS_OK) abort();
    }
    cs_scene *scene = NULL;
    if (cs__codec_splat.parse(ctx, "fuzz.splat", data, size, &scene) == CS_OK) {
        cs_scene_stats stats;
        if (cs_scene_count(scene) != (int64_t)(size / 32) ||
            cs_scene_compute_stats(ctx, scene, &stats) != CS_OK)
            abort();
        cs_scene_destroy(scene);
    } else if (scene) {
        abort();
    }
    return 0;
}
