/*
 * image.h - internal image decoding entry point (src/io_image.c), shared with the fuzzers.
 */
#ifndef CSPLAT_IMAGE_H
#define CSPLAT_IMAGE_H

#include "internal.h"

/* Largest image decoded or allocated by default: 2^28 pixels (16384 x 16384; 4 GiB as RGBA
 * floats). Larger headers are refused before any pixel memory is allocated. */
#define CS_IMAGE_MAX_PIXELS ((int64_t)1 << 28)
/* Largest image file read into memory. */
#define CS_IMAGE_MAX_FILE_BYTES ((size_t)1 << 30)

/* Decode a PNG or JPEG held in memory, detected by its signature; name is used in messages.
 * On failure *out is zeroed and nothing is left allocated. */
cs_status cs__image_decode(cs_context *ctx, const char *name, const uint8_t *data, size_t len,
                           cs_image *out);

/* Lower (or restore with 0) the pixel limit of decoding and allocation, process-wide. For
 * fuzzers, which must not allocate gigabytes for a small crafted header. */
void cs__image_set_max_pixels(int64_t max_pixels);

#endif /* CSPLAT_IMAGE_H */
