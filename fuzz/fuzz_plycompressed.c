/*
 * fuzz_plycompressed.c - libFuzzer entry point for the PlayCanvas compressed PLY parser
 * (cs__codec_compressed_ply.parse) on arbitrary bytes, plus its detector. A parsed scene goes
 * through the statistics pass. Seeds: fuzz/seeds/fuzz_plycompressed (SH degree 0 and 1, the
 * 12-property chunk layout).
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
    (void)cs__codec_compressed_ply.detect(data, size);
    cs_scene *scene = NULL;
    if (cs__codec_compressed_ply.parse(ctx, "fuzz.compressed.ply", data, size, &scene) == CS_OK) {
        cs_scene_stats stats;
        if (cs_scene_compute_stats(ctx, scene, &stats) != CS_OK) abort();
        cs_scene_destroy(scene);
    } else if (scene) {
        abort();
    }
    return 0;
}
