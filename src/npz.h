/*
 * npz.h - internal reader of NumPy .npz archives (a ZIP of .npy arrays), see io_npz.c.
 *
 * Arrays are copied out of the archive into one allocation each, so `data` is aligned for any
 * supported dtype (malloc alignment) and stays valid until cs__npz_destroy. Data is little-endian
 * C order as numpy stores it; on a little-endian host it can be read in place through a cast.
 */
#ifndef CSPLAT_NPZ_H
#define CSPLAT_NPZ_H

#include "internal.h"

typedef struct cs_npz_array {
    char name[64]; /* entry name without ".npy" */
    char dtype[8]; /* numpy descr, e.g. "<f4", "|u1", "<i8" */
    int ndim;
    int64_t shape[8];
    int64_t count;       /* product of shape (1 for a scalar) */
    const uint8_t *data; /* count * itemsize bytes, little-endian, C order; owned by the cs_npz */
} cs_npz_array;

typedef struct cs_npz cs_npz;

/* Read and parse path (whole file, at most CS_MAX_SCENE_FILE_BYTES). */
cs_status cs__npz_load(cs_context *ctx, const char *path, cs_npz **out);
/* Parse an archive held in memory; name is used in messages. The input is not kept. */
cs_status cs__npz_parse(cs_context *ctx, const char *name, const uint8_t *data, size_t len,
                        cs_npz **out);
int cs__npz_count(const cs_npz *npz);
/* Array i (0 <= i < count), in the order stored in the archive; NULL when out of range. */
const cs_npz_array *cs__npz_get(const cs_npz *npz, int i);
/* The first array called name (without ".npy"); NULL if absent. */
const cs_npz_array *cs__npz_find(const cs_npz *npz, const char *name);
/* Copy an array converted to float (any numeric dtype); count floats written to out. */
cs_status cs__npz_to_float(cs_context *ctx, const cs_npz_array *a, float *out);
void cs__npz_destroy(cs_npz *npz);

#endif /* CSPLAT_NPZ_H */
