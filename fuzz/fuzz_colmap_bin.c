/*
 * fuzz_colmap_bin.c - libFuzzer entry point for COLMAP binary models (cameras.bin, images.bin,
 * points3D.bin in one input; layout in colmap_split.h).
 */
#include "colmap_split.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_colmap(data, size, true);
    return 0;
}
