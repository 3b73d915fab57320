/*
 * csplat.h - the public interface of libcsplat, a Gaussian-splatting engine in C11.
 *
 * csplat loads and saves 3D Gaussian scenes (Inria .ply, .splat), loads camera sets (COLMAP,
 * transforms.json, Inria cameras.json), reads and writes images (PNG, JPEG), and renders scenes
 * with an exact tile-based rasterizer. Everything public is prefixed cs_ / CS_.
 *
 * Usage:
 *
 *     #include <csplat.h>
 *     #include <stdio.h>
 *
 *     int main(void) {
 *         cs_context *ctx;
 *         cs_scene *scene;
 *         cs_context_desc desc = {0};            // zero means defaults: all cores, no logging
 *         if (cs_context_create(&desc, &ctx) != CS_OK) return 1;
 *         if (cs_scene_load(ctx, "point_cloud.ply", &scene) != CS_OK) {
 *             fprintf(stderr, "%s\n", cs_context_last_error(ctx));
 *             cs_context_destroy(ctx);
 *             return 1;
 *         }
 *         cs_scene_params p = cs_scene_get_params(scene);
 *         printf("%lld Gaussians, SH degree %d, first at (%g, %g, %g)\n",
 *                (long long)p.count, p.sh_degree, p.means[0], p.means[1], p.means[2]);
 *         cs_scene_save(ctx, scene, "scene.splat");  // format chosen by the extension
 *         cs_scene_destroy(scene);
 *         cs_context_destroy(ctx);
 *         return 0;
 *     }
 *
 * Build against the installed library with `cc app.c $(pkg-config --cflags --libs csplat)`.
 *
 * Conventions (every loader converts into these; see docs in the repository):
 * - Camera space is OpenCV's: x right, y down, z forward. A camera is world-to-camera [R | t]
 *   plus fx, fy, cx, cy, width, height. Pixel (x, y) is sampled at its centre (x+0.5, y+0.5).
 * - Scene parameters are stored as the Inria PLY stores them: position, log-scale, quaternion
 *   w,x,y,z (not necessarily normalised), opacity logit, real SH coefficients with
 *   rgb = max(0, SH(dir) + 0.5).
 * - Images are linear floats in [0, 1], row-major [height, width, channels].
 *
 * Contracts: every fallible call returns a cs_status and leaves a message naming the file and the
 * problem in cs_context_last_error(). The library never exits and never prints; it logs through
 * the optional callback. destroy(NULL) is a no-op. The caller owns its inputs; the library copies
 * what it keeps. Output files are written to a temporary file and renamed, so they appear whole
 * or not at all.
 */
#ifndef CSPLAT_H
#define CSPLAT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CS_VERSION_MAJOR 0
#define CS_VERSION_MINOR 1
#define CS_VERSION_PATCH 0

/* ---------------------------------------------------------------------------------------------
 * Status codes: one table yields the enum and the text (append-only).
 */
#define CS_STATUS_LIST(X)                                                                         \
    X(CS_OK, "ok")                                                                                \
    X(CS_ERR_ARGUMENT, "invalid argument")                                                        \
    X(CS_ERR_IO, "input/output error")                                                            \
    X(CS_ERR_FORMAT, "malformed input")                                                           \
    X(CS_ERR_UNSUPPORTED, "unsupported")                                                          \
    X(CS_ERR_NOMEM, "out of memory")                                                              \
    X(CS_ERR_NO_DEVICE, "no device")                                                              \
    X(CS_ERR_NOT_FOUND, "not found")

typedef enum cs_status {
#define CS_STATUS_ENUM_(name, text) name,
    CS_STATUS_LIST(CS_STATUS_ENUM_)
#undef CS_STATUS_ENUM_
    CS_STATUS_COUNT_
} cs_status;

/* The fixed text of a status ("malformed input"); never NULL. */
const char *cs_status_string(cs_status status);

/* "0.1.0" */
const char *cs_version(void);

/* ---------------------------------------------------------------------------------------------
 * Context: threads, logging, last error. One context per thread of use; objects created from a
 * context must not outlive it.
 */
typedef struct cs_context cs_context;

typedef enum cs_log_level { CS_LOG_DEBUG, CS_LOG_INFO, CS_LOG_WARN, CS_LOG_ERROR } cs_log_level;

typedef void (*cs_log_fn)(void *user, cs_log_level level, const char *message);

typedef struct cs_context_desc {
    int threads;      /* worker threads including the caller; 0 = number of online cores */
    cs_log_fn log;    /* optional; NULL drops log messages */
    void *log_user;   /* passed to log */
} cs_context_desc;

/* desc may be NULL (all defaults). Fails only on out of memory or a bad thread count. */
cs_status cs_context_create(const cs_context_desc *desc, cs_context **out);
void cs_context_destroy(cs_context *ctx);
/* The message of the last failure in this context ("" when none). Valid until the next call. */
const char *cs_context_last_error(const cs_context *ctx);
int cs_context_threads(const cs_context *ctx);

/* ---------------------------------------------------------------------------------------------
 * File formats of scenes (append-only).
 */
typedef enum cs_format {
    CS_FORMAT_UNKNOWN,
    CS_FORMAT_PLY,   /* Inria 3DGS .ply (binary little-endian or ASCII) */
    CS_FORMAT_SPLAT, /* antimatter15 .splat, 32-byte records */
    CS_FORMAT_SPZ,   /* Niantic SPZ */
    CS_FORMAT_SOG,   /* PlayCanvas SOG */
    CS_FORMAT_COMPRESSED_PLY /* PlayCanvas compressed .ply */
} cs_format;

/* Format chosen from a path's extension (".ply", ".splat", ...); CS_FORMAT_UNKNOWN if none. */
cs_format cs_format_from_path(const char *path);
/* "ply", "splat", ...; "unknown" for CS_FORMAT_UNKNOWN. */
const char *cs_format_name(cs_format format);

/* ---------------------------------------------------------------------------------------------
 * Scenes: N Gaussians stored structure-of-arrays in one block.
 */
typedef struct cs_scene cs_scene;

/* A view of a scene's parameter arrays (owned by the scene; valid until it is destroyed).
 * K = (sh_degree + 1)^2 SH coefficients per colour channel. */
typedef struct cs_scene_params {
    int64_t count;     /* N */
    int sh_degree;     /* 0..3 */
    int sh_coeffs;     /* K */
    float *means;      /* [N, 3] world position */
    float *log_scales; /* [N, 3] natural log of the standard deviations */
    float *quats;      /* [N, 4] rotation quaternion w, x, y, z (normalised on use) */
    float *opacities;  /* [N] opacity logit; opacity = sigmoid(logit) */
    float *sh;         /* [N, K, 3] SH coefficients, coefficient-major, RGB interleaved */
} cs_scene_params;

/* A scene of count Gaussians (0 allowed), all parameters zero except quats = (1, 0, 0, 0). */
cs_status cs_scene_create(cs_context *ctx, int64_t count, int sh_degree, cs_scene **out);
void cs_scene_destroy(cs_scene *scene);
int64_t cs_scene_count(const cs_scene *scene);
int cs_scene_sh_degree(const cs_scene *scene);
cs_scene_params cs_scene_get_params(cs_scene *scene);
/* The format the scene was loaded from (CS_FORMAT_UNKNOWN if created in memory). */
cs_format cs_scene_source_format(const cs_scene *scene);

/* Load a scene, the format detected from the file's content (then its extension). */
cs_status cs_scene_load(cs_context *ctx, const char *path, cs_scene **out);
/* Save a scene in the format named by path's extension, atomically. */
cs_status cs_scene_save(cs_context *ctx, const cs_scene *scene, const char *path);
/* Save in an explicit format, atomically. */
cs_status cs_scene_save_format(cs_context *ctx, const cs_scene *scene, const char *path,
                               cs_format format);

/* Summary statistics of a scene, as `csplat info` prints them. */
typedef struct cs_scene_stats {
    int64_t count;
    int sh_degree;
    double bounds_min[3], bounds_max[3]; /* over finite means; 0 when none */
    double opacity_min, opacity_mean, opacity_max; /* of sigmoid(logit) */
    double scale_min, scale_median, scale_max;     /* of exp(max log-scale) per Gaussian */
    int64_t non_finite;                            /* Gaussians with any NaN/Inf parameter */
} cs_scene_stats;

cs_status cs_scene_compute_stats(cs_context *ctx, const cs_scene *scene, cs_scene_stats *out);

/* ---------------------------------------------------------------------------------------------
 * Cameras (a plain struct) and camera sets (loaded from COLMAP, transforms.json, cameras.json).
 */
typedef enum cs_camera_model {
    CS_CAMERA_PINHOLE,       /* no distortion */
    CS_CAMERA_SIMPLE_RADIAL, /* k1 */
    CS_CAMERA_RADIAL,        /* k1, k2 */
    CS_CAMERA_OPENCV         /* k1, k2, p1, p2, k3 (k3 may be 0) */
} cs_camera_model;

typedef struct cs_camera {
    float R[9];             /* world-to-camera rotation, row-major; OpenCV axes */
    float t[3];             /* world-to-camera translation: x_cam = R x_world + t */
    float fx, fy, cx, cy;   /* pixels */
    int width, height;      /* pixels */
    cs_camera_model model;
    float dist[5];          /* k1, k2, p1, p2, k3 (unused entries 0) */
    float time;             /* D-NeRF frame time in [0, 1]; 0 for static data */
} cs_camera;

/* Camera centre in world space: -R^T t. */
void cs_camera_center(const cs_camera *cam, float out[3]);

typedef struct cs_camera_set cs_camera_set;

/* Source kinds a camera set was loaded from (append-only). */
typedef enum cs_camera_source {
    CS_CAMERAS_MEMORY,
    CS_CAMERAS_INRIA_JSON,
    CS_CAMERAS_COLMAP_BIN,
    CS_CAMERAS_COLMAP_TXT,
    CS_CAMERAS_TRANSFORMS_BLENDER,
    CS_CAMERAS_TRANSFORMS_NGP,
    CS_CAMERAS_TRANSFORMS_NERFSTUDIO
} cs_camera_source;

/* Load cameras from:
 * - an Inria cameras.json file;
 * - a transforms*.json file (Blender/NeRF, instant-ngp, nerfstudio; D-NeRF time);
 * - a COLMAP model folder (cameras/images/points3D, .bin or .txt), or a dataset folder holding
 *   sparse/0 or sparse; a dataset folder holding transforms.json or transforms_train.json.
 * Frames whose image file is missing are skipped with one warning through the log callback.
 * Image paths are resolved relative to the dataset folder. */
cs_status cs_camera_set_load(cs_context *ctx, const char *path, cs_camera_set **out);
/* An empty set, to be filled with cs_camera_set_add. */
cs_status cs_camera_set_create(cs_context *ctx, cs_camera_set **out);
/* Append a copy of cam; name and image_path may be NULL. */
cs_status cs_camera_set_add(cs_camera_set *set, const cs_camera *cam, const char *name,
                            const char *image_path);
void cs_camera_set_destroy(cs_camera_set *set);
int64_t cs_camera_set_count(const cs_camera_set *set);
cs_camera_source cs_camera_set_source(const cs_camera_set *set);
/* Camera i (0 <= i < count); NULL when out of range. */
const cs_camera *cs_camera_set_camera(const cs_camera_set *set, int64_t i);
/* The image name (file name without folder, as cameras.json's img_name) or "" when none. */
const char *cs_camera_set_name(const cs_camera_set *set, int64_t i);
/* The image's resolved path, or NULL when the source names none. */
const char *cs_camera_set_image_path(const cs_camera_set *set, int64_t i);
/* Sparse points shipped with the cameras (COLMAP points3D); returns the count, 0 when none.
 * xyz is [n, 3] world, rgb [n, 3] 8-bit. Either out pointer may be NULL. */
int64_t cs_camera_set_points(const cs_camera_set *set, const float **xyz, const uint8_t **rgb);
/* Write an Inria cameras.json, atomically. */
cs_status cs_camera_set_save(cs_context *ctx, const cs_camera_set *set, const char *path);

/* ---------------------------------------------------------------------------------------------
 * Images: plain struct; data is [height, width, channels] linear floats in [0, 1].
 */
typedef struct cs_image {
    int width, height, channels; /* channels 1..4 */
    float *data;
} cs_image;

/* Allocate a zeroed image (free with cs_image_free). */
cs_status cs_image_alloc(cs_context *ctx, int width, int height, int channels, cs_image *out);
void cs_image_free(cs_image *image);
/* Load a PNG (8/16-bit; gray, gray+alpha, RGB, RGBA; palette expanded) or JPEG (baseline,
 * progressive, grayscale). Channels are kept as stored (1, 2, 3 or 4). */
cs_status cs_image_load(cs_context *ctx, const char *path, cs_image *out);
/* Write a PNG with bit_depth 8 or 16, atomically; values are clamped to [0, 1]. */
cs_status cs_image_save_png(cs_context *ctx, const cs_image *image, const char *path,
                            int bit_depth);

/* ---------------------------------------------------------------------------------------------
 * 2D Gaussian images (`csplat image`): a photo represented by N anisotropic 2D Gaussians, fitted
 * by gradient descent, rendered at any scale, stored compactly in .gsi files.
 *
 *     cs_gimage *g;
 *     cs_gimage_fit_desc fd = {.count = 10000};            // zero means defaults
 *     if (cs_gimage_fit(ctx, &photo, &fd, NULL, NULL, &g) != CS_OK) ...;
 *     cs_gsi_options so = {.quality = CS_GSI_MEDIUM};      // zero: medium, zstd on
 *     cs_gimage_save(ctx, g, "photo.gsi", &so);
 *     cs_image big;
 *     cs_gimage_render_desc rd = {.scale = 2.5f};
 *     cs_gimage_render(ctx, g, &rd, &big);                 // free with cs_image_free
 *
 * Gaussian i has a position (x, y) in pixels of the fitted image (pixel centres at +0.5), a
 * Cholesky factor L = [[exp(c0), 0], [c1, exp(c2)]] of its covariance Sigma = L L^T (so Sigma is
 * positive definite for any finite c), and a colour (1 or 3 channels). Its weight at a point is
 * w = exp(-q / 2), q = d^T Sigma^-1 d, and 0 beyond q > 9 (the 3-sigma ellipse). A pixel's
 * colour under the rule CS_GIMAGE_TOPK is sum(w c) / (sum(w) + 1e-6) over its 10 largest weights;
 * under CS_GIMAGE_SUM it is sum(w c) over all, clamped to [0, 1] only on output.
 */
typedef struct cs_gimage cs_gimage;

typedef enum cs_gimage_rule {
    CS_GIMAGE_TOPK, /* normalized blend of the K = 10 largest weights (Image-GS) */
    CS_GIMAGE_SUM   /* plain accumulated sum (GaussianImage) */
} cs_gimage_rule;

typedef enum cs_gimage_loss {
    CS_GIMAGE_LOSS_L1_SSIM, /* L1 + 0.1 * (1 - SSIM) */
    CS_GIMAGE_LOSS_L2       /* mean squared error */
} cs_gimage_loss;

/* A view of the parameter arrays (owned by the image; valid until it is destroyed). */
typedef struct cs_gimage_params {
    int64_t count;  /* N */
    int channels;   /* C: 1 (gray) or 3 (RGB) */
    float *xy;      /* [N, 2] position in pixels of the fitted image */
    float *chol;    /* [N, 3] c0, c1, c2: L = [[exp(c0), 0], [c1, exp(c2)]] */
    float *colour;  /* [N, C] */
} cs_gimage_params;

/* What a file or an image holds, as `csplat image info` prints it. */
typedef struct cs_gimage_info {
    int width, height, channels;  /* of the fitted image */
    int64_t count;
    cs_gimage_rule rule;
    int bits_position, bits_cholesky, bits_colour; /* quantization; 32 = float; 0 = not saved */
    int zstd;                                      /* payload compressed with zstd */
    int64_t file_bytes;                            /* size of the .gsi it came from, else 0 */
    double bits_per_pixel;                         /* file_bytes * 8 / (width * height), else 0 */
} cs_gimage_info;

/* A zeroed image of count Gaussians (positions 0, L = identity, colour 0) for width x height
 * pixels and 1 or 3 channels, to be filled through cs_gimage_get_params. */
cs_status cs_gimage_create(cs_context *ctx, int width, int height, int channels,
                           cs_gimage_rule rule, int64_t count, cs_gimage **out);
void cs_gimage_destroy(cs_gimage *g);
cs_gimage_params cs_gimage_get_params(cs_gimage *g);
void cs_gimage_get_info(const cs_gimage *g, cs_gimage_info *out);

/* Quantization of a .gsi: bit depths per attribute group, from a preset or explicit. A preset
 * fixes the position step in pixels, so its position depth follows the image size (a 768-pixel
 * side at 1/4 pixel needs 12 bits). */
typedef enum cs_gsi_quality {
    CS_GSI_MEDIUM,  /* position 1/4 pixel, Cholesky 6, colour 6 bits (the default) */
    CS_GSI_LOW,     /* 1/2 pixel, 5, 5 */
    CS_GSI_HIGH,    /* 1/8 pixel, 8, 8 */
    CS_GSI_LOSSLESS /* 32-bit floats throughout */
} cs_gsi_quality;

typedef struct cs_gsi_options {
    cs_gsi_quality quality;          /* used for every bits_* left 0 */
    int bits_position, bits_cholesky, bits_colour; /* 1..16, or 32 = float; 0 = from quality */
    int no_zstd;                     /* 1: store the payload uncompressed */
} cs_gsi_options;

/* The bit depths opt selects for an image of width x height (opt may be NULL: medium).
 * CS_ERR_ARGUMENT for a depth other than 1..16 or 32. bits[0..2] = position, Cholesky, colour. */
cs_status cs_gsi_options_bits(cs_context *ctx, const cs_gsi_options *opt, int width, int height,
                              int bits[3]);

typedef struct cs_gimage_fit_desc {
    int64_t count;        /* Gaussian budget; 0 = 10000. Clamped to the pixel count (warning). */
    int iters;            /* maximum iterations; 0 = 600 */
    cs_gimage_rule rule;
    cs_gimage_loss loss;
    float init_fraction;  /* share of the budget placed at the start; 0 = 0.7 */
    int add_interval;     /* iterations between refinements; 0 = iters / 10 (at least 25) */
    float gradient_share; /* share of initial positions sampled by gradient magnitude; 0 = 0.8,
                             negative = none (all uniform) */
    int plateau;          /* 0: stop when the loss stops improving; -1: never stop early */
    uint64_t seed;        /* random placement; the same seed gives the same bits, whatever the
                             thread count */
    /* Quantization: when quant is set or finetune_iters > 0, the result is snapped to the grid
     * of quant's bit depths (NULL: medium), after finetune_iters Adam steps with
     * quantize-dequantize in the forward pass (straight-through gradients), and pixels the
     * quantized model leaves uncovered (TOPK) are patched; cs_gimage_save with the same depths
     * then stores exactly these values. */
    int finetune_iters;
    const cs_gsi_options *quant;
} cs_gimage_fit_desc;

/* Reported about every 50 iterations and at the end. */
typedef struct cs_gimage_progress {
    int iter, iters;     /* iterations done, maximum */
    int64_t count;       /* Gaussians in use */
    double loss, psnr;   /* of the last iteration; PSNR of the clamped render, dB */
    double seconds;      /* since the fit began */
    int finetune;        /* 1 during the quantization-aware fine-tune */
} cs_gimage_progress;

/* Return non-zero to stop the fit early (the result so far is kept). */
typedef int (*cs_gimage_progress_fn)(void *user, const cs_gimage_progress *p);

/* Fit Gaussians to target (1..4 channels; a second or fourth channel, alpha, is ignored; 3 and 4
 * give RGB, 1 and 2 gray). desc may be NULL; progress may be NULL. */
cs_status cs_gimage_fit(cs_context *ctx, const cs_image *target, const cs_gimage_fit_desc *desc,
                        cs_gimage_progress_fn progress, void *user, cs_gimage **out);

typedef struct cs_gimage_render_desc {
    int width, height;  /* output size; both 0 = the fitted size times scale */
    float scale;        /* used when width and height are 0; 0 = 1 */
    /* Region of the output to render (output pixels); crop_w = crop_h = 0 renders all. The
     * result is crop_w x crop_h and equals that region of the full render exactly. */
    int crop_x, crop_y, crop_w, crop_h;
} cs_gimage_render_desc;

/* Render at any size. Scaling maps output pixel centres onto the fitted image; when an axis
 * shrinks by s < 1 each Gaussian is widened by the output pixel's footprint (a Gaussian filter
 * of the variance of the output pixel's box, less the source pixel's own: (1/s^2 - 1)/12 source
 * pixels^2) and keeps its integral, so detail finer than the output's pixels averages out
 * instead of aliasing. Values are clamped to [0, 1] (NaN from non-finite parameters to 0).
 * *out is allocated here (free with cs_image_free); its channels are the image's. */
cs_status cs_gimage_render(cs_context *ctx, const cs_gimage *g, const cs_gimage_render_desc *desc,
                           cs_image *out);

/* .gsi files (docs/gsi.md): versioned header, quantized attributes, optional zstd. opt may be
 * NULL (medium, zstd). */
cs_status cs_gimage_save(cs_context *ctx, const cs_gimage *g, const char *path,
                         const cs_gsi_options *opt);
cs_status cs_gimage_load(cs_context *ctx, const char *path, cs_gimage **out);
/* The same in memory: *data is allocated here, free it with cs_gimage_buffer_free. */
cs_status cs_gimage_encode(cs_context *ctx, const cs_gimage *g, const cs_gsi_options *opt,
                           uint8_t **data, size_t *len);
cs_status cs_gimage_decode(cs_context *ctx, const uint8_t *data, size_t len, cs_gimage **out);
void cs_gimage_buffer_free(uint8_t *data);

/* PSNR (dB, of values clamped to [0, 1]; 100 when equal) and mean SSIM (11x11 Gaussian window,
 * sigma 1.5, over channels) of two images of the same size and channels. Either output may be
 * NULL. */
cs_status cs_image_quality(cs_context *ctx, const cs_image *a, const cs_image *b, double *psnr,
                           double *ssim);

#ifdef __cplusplus
}
#endif

#endif /* CSPLAT_H */
