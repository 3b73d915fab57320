/*
 * fuzz_npz.c - libFuzzer entry point for the NumPy .npz reader (cs__npz_parse): ZIP directory,
 * ZIP64 fields, local headers, inflate with its size cap, .npy headers. Every parsed array is
 * read in full and converted to float, so ASan checks that data really holds count * itemsize
 * bytes.
 */
#include "npz.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static cs_context *ctx;
    if (!ctx) {
        cs_context_desc desc = {.threads = 1};
        if (cs_context_create(&desc, &ctx) != CS_OK) abort();
    }
    cs_npz *npz;
    if (cs__npz_parse(ctx, "fuzz.npz", data, size, &npz) != CS_OK) {
        CS_ASSERT(npz == NULL);
        return 0;
    }
    for (int i = 0; i < cs__npz_count(npz); i++) {
        const cs_npz_array *a = cs__npz_get(npz, i);
        CS_ASSERT(a && a->count >= 0 && a->ndim >= 0 && a->ndim <= 8);
        CS_ASSERT(cs__npz_find(npz, a->name) != NULL);
        /* count * itemsize bytes were allocated, so count is bounded by the input. */
        float *f = malloc((size_t)(a->count ? a->count : 1) * sizeof *f);
        if (!f) continue;
        CS_ASSERT(cs__npz_to_float(ctx, a, f) == CS_OK);
        free(f);
    }
    cs__npz_destroy(npz);
    return 0;
}
