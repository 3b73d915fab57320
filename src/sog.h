/*
 * sog.h - internal declarations shared by the interchange-format files: SPZ (io_spz.c), SOG
 * (io_sog.c, sog_zip.c, sog_quant.c, sog_webp.c), PlayCanvas compressed PLY (io_plycompressed.c)
 * and the self-organizing SOG compressor (compress_sogs.c). Never installed.
 *
 * Shapes follow cs_scene_params: means [N,3], log_scales [N,3], quats [N,4] wxyz, opacities [N]
 * (logits), sh [N,K,3]. An "order" is a permutation: order[i] is the index of the Gaussian stored
 * at position i of a file.
 */
#ifndef CSPLAT_SOG_H
#define CSPLAT_SOG_H

#include "internal.h"

#include <math.h>

/* ---------------------------------------------------------------------------------------------
 * Numeric helpers used by every lossy codec.
 */
static inline float cs__sigmoidf(float x) {
    return 1.0f / (1.0f + expf(-x));
}

/* logit(p) with p clamped to [1e-6, 1 - 1e-6]: an 8-bit opacity of 0 or 255 decodes to a finite
 * logit (+-13.8) instead of +-inf, which every renderer treats the same as 0 or 1. */
static inline float cs__logitf(float p) {
    const float eps = 1e-6f;
    p = p < eps ? eps : (p > 1.0f - eps ? 1.0f - eps : p);
    return logf(p / (1.0f - p));
}

/* round(x) (halves away from zero, as C++ std::round in the reference encoders) clamped to
 * [0, 255]; NaN gives 0. */
static inline uint8_t cs__u8_round(float x) {
    if (!(x > 0.0f)) return 0;
    if (x >= 255.0f) return 255;
    return (uint8_t)roundf(x);
}

/* A unit quaternion from q (any order, 4 floats); a zero or non-finite q becomes (1, 0, 0, 0) in
 * the caller's order with the identity's real part first. Returns false for that fallback. */
bool cs__quat_normalize(const float q[4], float out[4]);

/* The same covariance R S^2 R^T from another frame: of the 24 frames R G (G a rotation of the
 * cube, mapping axes onto axes up to sign) with their scales permuted to match, the one whose
 * quaternion has the largest real part, made positive. Then w is the largest component and
 * |x|, |y|, |z| <= (sqrt 2 - 1) w (else a 90 degree turn would raise w), so a smallest-three
 * code always drops w and its three stored values use the middle 59% of their range.
 * q: unit (w, x, y, z); scales: any per-axis values (log scales). */
void cs__cube_canonical(const float q[4], const float scales[3], float q_out[4],
                        float scales_out[3]);

/* ---------------------------------------------------------------------------------------------
 * Header probes behind cs_scene_probe (probe.c); each fills format-specific fields of *info.
 */
cs_status cs__spz_probe(cs_context *ctx, const char *name, const uint8_t *data, size_t len,
                        cs_scene_file_info *info);
cs_status cs__sog_probe(cs_context *ctx, const char *path, cs_scene_file_info *info);
cs_status cs__plycompressed_probe(cs_context *ctx, const char *name, const uint8_t *data,
                                  size_t len, cs_scene_file_info *info);

/* ---------------------------------------------------------------------------------------------
 * Orderings (sog_util.c).
 */
/* Morton (Z-order) permutation of the means over their bounding box, 10 bits per axis; ties keep
 * the input order, so the result is deterministic. Non-finite means sort last. */
cs_status cs__morton_order(cs_context *ctx, const float *means, int64_t n, uint32_t *order);

/* ---------------------------------------------------------------------------------------------
 * Zip container for bundled .sog files (sog_zip.c): STORED entries are written; STORED and
 * DEFLATE entries are read. No ZIP64, no encryption, no multi-disk archives.
 */
typedef struct cs_zip_entry {
    char *name;
    uint16_t method; /* 0 stored, 8 deflate */
    uint32_t crc;
    size_t csize, usize; /* compressed and uncompressed sizes */
    size_t data_offset;  /* of the entry's data in the archive */
} cs_zip_entry;

typedef struct cs_zip {
    const uint8_t *data; /* the whole archive (borrowed) */
    size_t len;
    cs_zip_entry *entries;
    int count;
} cs_zip;

/* Index an archive held in memory (borrowed until cs__zip_close). */
cs_status cs__zip_open(cs_context *ctx, const char *name, const uint8_t *data, size_t len,
                       cs_zip *out);
/* The entry named `entry`, or NULL. */
const cs_zip_entry *cs__zip_find(const cs_zip *zip, const char *entry);
/* Uncompress an entry (at most max_bytes) and check its CRC-32. *data is freed with cs__free. */
cs_status cs__zip_extract(cs_context *ctx, const char *name, const cs_zip *zip,
                          const cs_zip_entry *e, size_t max_bytes, uint8_t **data, size_t *len);
void cs__zip_close(cs_zip *zip);

/* One file to store in an archive. */
typedef struct cs_zip_file {
    const char *name;
    const uint8_t *data;
    size_t len;
    bool deflate; /* writing: DEFLATE the entry (kept STORED when that is not smaller) */
} cs_zip_file;

/* Write a complete archive to an open output file: STORED entries, DEFLATE where asked. */
cs_status cs__zip_write(cs_context *ctx, cs_outfile *of, const cs_zip_file *files, int n);

/* ---------------------------------------------------------------------------------------------
 * Codebooks (sog_quant.c). Both are deterministic: no random seeds, results independent of the
 * context's thread count.
 */
/* A k-entry scalar codebook for n values (k-means in 1D, solved exactly per Lloyd step on the
 * sorted values) and each value's nearest entry. codebook [k] ascending; labels [n]. Non-finite
 * values are labelled with the nearest finite end. k <= 256. */
cs_status cs__codebook_1d(cs_context *ctx, const float *values, size_t n, int k, float *codebook,
                          uint8_t *labels);

/* k-means of n points of dim floats into at most k centroids [k, dim] with labels [n]: exactly
 * the distinct points when there are at most k of them, else k seeds spread along a depth-first
 * tree order of the distinct points refined by `iterations` windowed Lloyd steps (sog_quant.c).
 * Centroids come in that tree order (similar ones adjacent). *k_out receives their number. */
cs_status cs__kmeans(cs_context *ctx, const float *points, int64_t n, int dim, int k,
                     int iterations, float *centroids, uint32_t *labels, int *k_out);

/* ---------------------------------------------------------------------------------------------
 * Lossless WebP images (sog_webp.c) through libwebp. Pixels are RGBA8 [h, w, 4].
 */
/* Decode into a freshly allocated RGBA buffer, refusing images with more than max_pixels. */
cs_status cs__webp_decode(cs_context *ctx, const char *name, const uint8_t *data, size_t len,
                          size_t max_pixels, uint8_t **rgba, int *width, int *height);
/* Encode losslessly, bit-exact (RGB kept under alpha 0). effort 0..9 trades time for size.
 * *out is freed with cs__free. */
cs_status cs__webp_encode(cs_context *ctx, const char *name, const uint8_t *rgba, int width,
                          int height, int effort, uint8_t **out, size_t *out_len);

/* ---------------------------------------------------------------------------------------------
 * SOG v2 (io_sog.c).
 */
/* How to lay out and encode a SOG: the Gaussian order (NULL = Morton order), the texture size
 * (0 = splat-transform's rule), the SH palette's size, k-means iterations and value codebook, the
 * position precision and the WebP effort. */
typedef struct cs_sog_plan {
    const uint32_t *order;    /* [count] or NULL */
    int width, height;        /* 0 = ceil(sqrt(N)/4)*4 by ceil(N/width/4)*4 */
    int sh_palette;           /* 0 = min(64, 2^floor(log2(N/1024))) * 1024 */
    int sh_iterations;        /* 0 = 10 */
    int webp_effort;          /* 0..9; 0 = 4 */
    int position_bits;        /* 16 (0 = 16); fewer zero the low bits of means_l */
    int quat_bits;            /* 8 (0 = 8); fewer put quaternion components on 2^bits levels */
    int opacity_bits;         /* 8 (0 = 8); the same for opacity */
    bool canonical_rotations; /* store each Gaussian in its cube-canonical frame */
    int sh_codebook;          /* distinct SH palette values, 2..256 (0 = 256) */
    /* > 0: use the smallest value codebook (16 .. sh_codebook entries) whose squared error,
     * summed over the Gaussians, is at most this fraction of the palette's own k-means error
     * (no fewer entries when the palette is exact). */
    float sh_codebook_ratio;
} cs_sog_plan;

cs_status cs__sog_save_plan(cs_context *ctx, const cs_scene *scene, const char *path,
                            const cs_sog_plan *plan);

/* The files of an unpacked SOG held in memory (the fuzzers' and zip reader's entry point). */
typedef struct cs_sog_files {
    const char *name;       /* for messages */
    const cs_zip *zip;      /* entries come from here when set ... */
    const char *dir;        /* ... else from files in this folder */
    const cs_zip_file *mem; /* ... else from this list */
    int mem_count;
} cs_sog_files;

cs_status cs__sog_decode(cs_context *ctx, const cs_sog_files *files, const char *meta_name,
                         cs_scene **out);

/* ---------------------------------------------------------------------------------------------
 * Self-organizing layout (compress_sogs.c): Parallel Linear Assignment Sorting of feature
 * vectors [n, dim] onto a grid `width` cells wide, filled row-major: cells 0..n-1 hold the
 * Gaussians and the rest of the last row is padding that never moves (a SOG reader takes the
 * first n pixels). order[g] is the feature index placed at cell g. effort 0..1 trades time for
 * smoothness; the result depends only on the inputs, not on the thread count.
 */
/* csplat compress: PLAS layout plus the quality-dependent plan, then cs__sog_save_plan. */
cs_status cs__sogs_compress(cs_context *ctx, const cs_scene *scene, const char *path,
                            const cs_sog_options *options);

cs_status cs__plas_sort(cs_context *ctx, const float *features, int64_t n, int dim, int width,
                        float effort, uint32_t *order);

#endif
