/*
 * fuzz_spz.c - libFuzzer entry point for the SPZ parser (cs__codec_spz.parse) on arbitrary bytes:
 * gzip-wrapped versions 1-3 and plain version-4 containers with zstd streams. A parsed scene goes
 * through the statistics pass (reads every parameter). Seeds: fuzz/seeds/fuzz_spz (versions 1-4,
 * SH degree 0 and 1).
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
    if (cs__codec_spz.parse(ctx, "fuzz.spz", data, size, &scene) == CS_OK) {
        cs_scene_stats stats;
        if (cs_scene_compute_stats(ctx, scene, &stats) != CS_OK) abort();
        cs_scene_destroy(scene);
    } else if (scene) {
        abort(); /* a failed parse must not hand out a scene */
    }
    return 0;
}
