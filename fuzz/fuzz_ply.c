/*
 * fuzz_ply.c - libFuzzer entry point for the Inria PLY parser (cs__codec_ply.parse) on arbitrary
 * bytes. A parsed scene also goes through the statistics pass, which reads every parameter, so
 * ASan sees any scene the parser left inconsistent. Seeds: fuzz/seeds/fuzz_ply (binary degree 0
 * and 1, ASCII, an extra element with lists).
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
    if (cs__codec_ply.parse(ctx, "fuzz.ply", data, size, &scene) == CS_OK) {
        cs_scene_stats stats;
        if (cs_scene_compute_stats(ctx, scene, &stats) != CS_OK) abort();
        cs_scene_destroy(scene);
    } else if (scene) {
        abort(); /* a failed parse must not hand out a scene */
    }
    return 0;
}
