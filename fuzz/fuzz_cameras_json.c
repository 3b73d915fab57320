/*
 * fuzz_cameras_json.c - libFuzzer entry point for Inria cameras.json.
 */
#include "camera.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static cs_context *ctx;
    if (!ctx) {
        cs_context_desc desc = {.threads = 1};
        if (cs_context_create(&desc, &ctx) != CS_OK) abort();
    }
    char *text = malloc(size ? size : 1); /* exact size: no NUL terminator to lean on */
    if (size) memcpy(text, data, size);
    cs_camera_set *set;
    if (cs__cameras_json_parse(ctx, "fuzz.json", text, size, &set) == CS_OK) {
        volatile float sink = 0;
        for (int64_t i = 0; i < cs_camera_set_count(set); i++)
            sink += cs_camera_set_camera(set, i)->t[0] + (float)strlen(cs_camera_set_name(set, i));
        (void)sink;
        cs_camera_set_destroy(set);
    }
    free(text);
    return 0;
}
