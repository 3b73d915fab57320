/*
 * fuzz_sog.c - libFuzzer entry point for the SOG reader. The first byte picks the path:
 *   even: the bytes are a bundled .sog (zip) for cs__codec_sog.parse: the zip directory, CRC
 *         checks, inflate, then everything below;
 *   odd:  the rest is up to 8 files, each a u16 little-endian length then its bytes, named in
 *         order meta.json, means_l.webp, means_u.webp, quats.webp, scales.webp, sh0.webp,
 *         shN_centroids.webp, shN_labels.webp, decoded by cs__sog_decode directly, so mutations
 *         reach meta.json parsing and the WebP decoder without a zip's CRC in the way.
 * A decoded scene goes through the statistics pass. Seeds: fuzz/seeds/fuzz_sog.
 */
#include "formats.h"
#include "sog.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static cs_context *ctx;
    if (!ctx) {
        cs_context_desc desc = {.threads = 1};
        if (cs_context_create(&desc, &ctx) != CS_OK) abort();
    }
    if (size < 1) return 0;
    cs_scene *scene = NULL;
    cs_status st;
    if (data[0] % 2 == 0) {
        st = cs__codec_sog.parse(ctx, "fuzz.sog", data + 1, size - 1, &scene);
    } else {
        static const char *const names[8] = {"meta.json",  "means_l.webp",       "means_u.webp",
                                             "quats.webp", "scales.webp",        "sh0.webp",
                                             "shN_centroids.webp", "shN_labels.webp"};
        cs_zip_file files[8];
        int n = 0;
        size_t at = 1;
        while (n < 8 && size - at >= 2) {
            size_t len = (size_t)(data[at] | data[at + 1] << 8);
            at += 2;
            if (len > size - at) len = size - at;
            files[n] = (cs_zip_file){names[n], data + at, len};
            at += len;
            n++;
        }
        cs_sog_files f = {.name = "fuzz", .mem = files, .mem_count = n};
        st = cs__sog_decode(ctx, &f, "meta.json", &scene);
    }
    if (st == CS_OK) {
        cs_scene_stats stats;
        if (cs_scene_compute_stats(ctx, scene, &stats) != CS_OK) abort();
        cs_scene_destroy(scene);
    } else if (scene) {
        abort();
    }
    return 0;
}
