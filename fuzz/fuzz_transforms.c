/*
 * fuzz_transforms.c - libFuzzer entry point for transforms.json (all three dialects).
 *
 * The image probe is simulated instead of touching the disk: a path "exists" when a hash of it
 * is not 0 mod 4, has a size derived from the hash, and one in 16 gives an unreadable header.
 * So the fuzzer reaches the code after the image checks (intrinsics, Blender sizes, skipping,
 * the all-frames-missing error) without a folder of images.
 */
#include "camera.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static cs_status fake_probe(void *user, cs_context *ctx, const char *path, int *w, int *h) {
    (void)user;
    unsigned hash = 2166136261u;
    for (const char *c = path; *c; c++) hash = (hash ^ (unsigned char)*c) * 16777619u;
    if (hash % 4 == 0) return cs__error(ctx, CS_ERR_NOT_FOUND, "%s: missing", path);
    if (!w) return CS_OK;
    if (hash % 16 == 1) return cs__error(ctx, CS_ERR_FORMAT, "%s: unreadable header", path);
    *w = 1 + (int)(hash >> 8) % 4096;
    *h = 1 + (int)(hash >> 20) % 4096;
    return CS_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static cs_context *ctx;
    if (!ctx) {
        cs_context_desc desc = {.threads = 1};
        if (cs_context_create(&desc, &ctx) != CS_OK) abort();
    }
    char *text = malloc(size ? size : 1); /* exact size: no NUL terminator to lean on */
    if (size) memcpy(text, data, size);
    cs_camera_set *set;
    if (cs__transforms_parse(ctx, "fuzz.json", text, size, "/nonexistent-fuzz-dir", fake_probe,
                             NULL, &set) == CS_OK) {
        volatile float sink = 0;
        for (int64_t i = 0; i < cs_camera_set_count(set); i++)
            sink += cs_camera_set_camera(set, i)->fx + (float)strlen(cs_camera_set_name(set, i));
        (void)sink;
        cs_camera_set_destroy(set);
    }
    free(text);
    return 0;
}
