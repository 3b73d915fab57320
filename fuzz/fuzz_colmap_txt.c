/*
 * fuzz_colmap_txt.c - libFuzzer entry point for COLMAP text models (cameras.txt, images.txt,
 * points3D.txt in one input; layout in colmap_split.h).
 */
#include "colmap_split.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_colmap(data, size, false);
    return 0;
}
