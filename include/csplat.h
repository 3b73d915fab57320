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
 * transforms.json frames whose image file is missing are skipped with one warning through the
 * log callback (COLMAP models and cameras.json list their images without a check). COLMAP images
 * are sorted by name and looked for in <dataset>/images; transforms.json frames keep the file's
 * order. Image paths are resolved relative to the dataset folder. */
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
/* The image name (COLMAP's image name, the file name of a transforms.json image, cameras.json's
 * img_name) or "" when none; NULL when i is out of range. */
const char *cs_camera_set_name(const cs_camera_set *set, int64_t i);
/* The image's resolved path, or NULL when the source names none or i is out of range. */
const char *cs_camera_set_image_path(const cs_camera_set *set, int64_t i);
/* Sparse points shipped with the cameras (COLMAP points3D); returns the count, 0 when none.
 * xyz is [n, 3] world, rgb [n, 3] 8-bit. Either out pointer may be NULL. */
int64_t cs_camera_set_points(const cs_camera_set *set, const float **xyz, const uint8_t **rgb);
/* Write an Inria cameras.json, atomically (cx, cy always; "model", "distortion" and "time" as
 * csplat extensions when set). CS_ERR_ARGUMENT for an empty set or non-finite values. */
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
 * Datasets: posed photos ready for training and evaluation. Images are loaded, undistorted to
 * pinhole (OpenCV models), composited over the background when they have alpha, and downscaled
 * by area averaging; cameras are adjusted to match. Held-out views: those of transforms_test.json
 * when the folder has one, else every 8th image in name order.
 */
typedef struct cs_dataset cs_dataset;

typedef struct cs_dataset_desc {
    int downscale;          /* integer factor >= 1; 0 = 1 */
    int hold_out;           /* non-zero: split off the held-out views (for --eval) */
    int background_set;     /* non-zero: use background below; else white for Blender data,
                               black otherwise */
    float background[3];
    int64_t max_images;     /* 0 = all; else the first max_images views in name order */
} cs_dataset_desc;

/* path: a dataset folder (COLMAP, transforms.json, Blender transforms_train/test.json) or a
 * cameras file understood by cs_camera_set_load. */
cs_status cs_dataset_load(cs_context *ctx, const char *path, const cs_dataset_desc *desc,
                          cs_dataset **out);
void cs_dataset_destroy(cs_dataset *ds);
/* All views, training and held-out. */
int64_t cs_dataset_count(const cs_dataset *ds);
const cs_camera *cs_dataset_camera(const cs_dataset *ds, int64_t i);
/* RGB image of view i at its camera's size. */
const cs_image *cs_dataset_image(const cs_dataset *ds, int64_t i);
const char *cs_dataset_name(const cs_dataset *ds, int64_t i);
int cs_dataset_is_held_out(const cs_dataset *ds, int64_t i);
void cs_dataset_background(const cs_dataset *ds, float out[3]);
/* Scene centre and extent as 3DGS defines them: the mean of the camera centres, and 1.1 times the
 * largest distance of a camera centre from it. */
void cs_dataset_extent(const cs_dataset *ds, float centre[3], float *radius);
/* Initial points: the source's sparse points (COLMAP), or 0 when it has none. */
int64_t cs_dataset_points(const cs_dataset *ds, const float **xyz, const uint8_t **rgb);

/* Write the built-in procedural dataset (a ray-traced scene of textured objects, NeRF-synthetic
 * layout: train/ and test/ RGBA PNGs of size x size, transforms_train.json, transforms_test.json)
 * into folder dir, created if needed. Used by `csplat demo` and by tests. */
cs_status cs_demo_dataset_write(cs_context *ctx, const char *dir, int train_views, int test_views,
                                int size);

/* ---------------------------------------------------------------------------------------------
 * Interchange formats: Niantic SPZ, PlayCanvas SOG and compressed PLY. cs_scene_load and
 * cs_scene_save handle them by content and extension (".spz", ".sog" bundled, "meta.json"
 * unbundled, "lod-meta.json" level-of-detail sets (loads level 0), ".compressed.ply"); the calls
 * below add the choices those formats offer.
 */
#define CS_MAX_LOD_LEVELS 32

/* What a scene file's header says, without decoding the Gaussians. */
typedef struct cs_scene_file_info {
    cs_format format;
    int version;       /* SPZ 1..4, SOG 2; 0 for formats without a version number */
    char detail[160];  /* e.g. "gzip, 12 fractional bits, antialiased" */
    int64_t count;     /* Gaussians the header declares (level 0 of a LOD set); -1 if unknown */
    int sh_degree;     /* as declared; -1 if unknown */
    int lod_levels;    /* levels of detail in a SOG lod-meta.json; 0 otherwise */
    int64_t lod_counts[CS_MAX_LOD_LEVELS]; /* Gaussians per level, finest first */
} cs_scene_file_info;

/* Read a scene file's header (and a SOG's meta.json / lod-meta.json) into *out. */
cs_status cs_scene_probe(cs_context *ctx, const char *path, cs_scene_file_info *out);

/* SPZ writing options; a zeroed struct (or NULL) writes version 3, not antialiased. */
typedef struct cs_spz_options {
    int version;     /* 2 (8-bit xyz quaternions), 3 (smallest-three, gzip) or 4 (zstd streams) */
    int antialiased; /* sets the header flag: the scene was trained with Mip-Splatting's filter */
} cs_spz_options;

cs_status cs_scene_save_spz(cs_context *ctx, const cs_scene *scene, const char *path,
                            const cs_spz_options *options);

/* SOG writing options; a zeroed struct (or NULL) writes as PlayCanvas splat-transform does:
 * Morton order, 256-entry codebooks, an SH palette of up to 64K entries, 16-bit positions. */
typedef struct cs_sog_options {
    int sh_iterations; /* k-means iterations for the SH palette; 0 = 10 */
    int self_organize; /* 1: lay Gaussians out by Parallel Linear Assignment Sorting so image
                          neighbours are similar in every attribute, and store each in the
                          equivalent frame that codes smallest (smaller files) */
    float quality;     /* self_organize only: 0 = default 0.5; 0..1 trades size for fidelity
                          (SH value precision up to 5..8 bits, less where the SH palette is
                          coarse anyway; sorting effort; rotations and opacity 8 bits from
                          0.75, 7 below, rotations 6 below 0.25; positions 15/16 bits) */
} cs_sog_options;

/* Write a SOG: a bundled zip when path ends in ".sog", else meta.json plus .webp files in
 * path's folder. Each file appears whole or not at all; meta.json is written last. */
cs_status cs_scene_save_sog(cs_context *ctx, const cs_scene *scene, const char *path,
                            const cs_sog_options *options);

/* Load level `level` (0 = finest) of a SOG level-of-detail set (lod-meta.json). */
cs_status cs_scene_load_lod(cs_context *ctx, const char *path, int level, cs_scene **out);

/* ---------------------------------------------------------------------------------------------
 * Rendering: the exact 3DGS tile rasterizer (EWA projection, SH colour, 16x16 tiles, depth order,
 * front-to-back alpha compositing), threaded over the context's pool, with AVX2+FMA (and an
 * AVX-512 compositing kernel) when the CPU has them. The renderer owns its scratch memory, which grows to the largest frame and is reused, so a
 * warm renderer does not allocate per frame. One renderer per thread of use.
 *
 *     cs_renderer *r;
 *     cs_renderer_desc rd = {0};                   // zero means defaults
 *     cs_renderer_create(ctx, &rd, &r);
 *     cs_image rgb;
 *     cs_image_alloc(ctx, cam->width, cam->height, 3, &rgb);
 *     cs_render_options opt = {.background = {1, 1, 1}};
 *     cs_renderer_render(r, scene, cam, &opt, &rgb, NULL, NULL);
 *
 * The rules (see docs/DESIGN.md) are those of the reference 3DGS rasterizer: near plane z > 0.2;
 * Jacobian x/z, y/z clamped to +-1.3 tan(fov/2) with tan(fov/2) = width / (2 fx) (height, fy);
 * 2D covariance + 0.3 px^2; radius ceil(3 sqrt(lambda_max)); a Gaussian reaches the pixels of the
 * 16x16 tiles its radius square touches; per pixel alpha = min(0.99, opacity exp(-d^T conic d / 2))
 * with d = mean2D - (x + 0.5, y + 0.5), skipped below 1/255; compositing stops before the Gaussian
 * that would take the transmittance T below 1e-4; rgb = sum c alpha T + T background. Cameras are
 * rendered as pinhole cameras: the distortion fields of cs_camera are ignored.
 */
typedef struct cs_renderer cs_renderer;

typedef struct cs_renderer_desc {
    /* Non-zero: use the portable scalar kernels even when the CPU has SIMD. The environment
     * variable CSPLAT_SCALAR=1, read at creation, does the same; CSPLAT_SIMD=avx2 caps the
     * kernels at AVX2 on a CPU with AVX-512. */
    int force_scalar;
} cs_renderer_desc;

typedef struct cs_render_options {
    float background[3];  /* linear RGB added as T * background; zero = black */
    /* SH bands evaluated, 1..4 (bands = degree + 1: 1 = DC only, 4 = degree 3); 0 = every band
     * the scene holds; more than the scene holds is clamped. */
    int sh_bands;
    float scale_modifier; /* multiplies every scale (3DGS's scaling_modifier); 0 = 1 */
} cs_render_options;

/* Per-stage timings and counts of a renderer's last successful render. */
typedef struct cs_render_stats {
    double ms_project;       /* projection, covariance, conic, radius, tile rectangle */
    double ms_sh;            /* SH colour of the Gaussians that survived projection */
    double ms_sort;          /* radix sort of the visible Gaussians by depth */
    double ms_bin;           /* tile intersection and the per-tile lists */
    double ms_raster;        /* per-tile compositing and the image writes */
    double ms_total;         /* the whole call */
    int64_t gaussians;       /* in the scene */
    int64_t visible;         /* past the near plane and touching at least one tile */
    int64_t intersections;   /* (tile, Gaussian) pairs rasterized */
    int threads;             /* threads of the context */
    int simd;                /* kernels: 0 scalar, 1 AVX2+FMA, 2 AVX2 with the AVX-512 raster */
    const char *backend;     /* "cpu", "cpu-avx2", "cpu-avx512" (static storage) */
} cs_render_stats;

/* desc may be NULL (defaults). */
cs_status cs_renderer_create(cs_context *ctx, const cs_renderer_desc *desc, cs_renderer **out);
void cs_renderer_destroy(cs_renderer *renderer);

/* Render scene through cam into the caller's images; any of rgb (3 channels), alpha (1 channel,
 * 1 - final T) and depth (1 channel, expected view depth sum(w z) / sum(w) with w = alpha T, 0
 * where nothing was drawn) may be NULL. Each given image must be cam->width x cam->height with
 * its channel count, else CS_ERR_ARGUMENT. opts may be NULL (defaults). The scene is read-only;
 * results are identical for any thread count. */
cs_status cs_renderer_render(cs_renderer *renderer, const cs_scene *scene, const cs_camera *cam,
                             const cs_render_options *opts, cs_image *rgb, cs_image *alpha,
                             cs_image *depth);

/* Timings and counts of the last successful render (zeroed before the first). */
void cs_renderer_get_stats(const cs_renderer *renderer, cs_render_stats *out);

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
    CS_GSI_MEDIUM,  /* position 1/4 pixel, Cholesky 7, colour 6 bits (the default) */
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


/* ---------------------------------------------------------------------------------------------
 * Training: fit a scene to a dataset's training views, as the reference 3DGS trainer does
 * (Kerbl et al. 2023; graphdeco-inria/gaussian-splatting train.py with its default arguments):
 * one random training view per iteration (a fresh random order each epoch), loss
 * 0.8 L1 + 0.2 (1 - SSIM), analytic gradients, Adam with the reference's per-parameter learning
 * rates and exponential position decay over 30,000 iterations, SH degree raised every 1,000
 * iterations, densification (clone, split, prune) every 100 iterations from 500 to 15,000 and an
 * opacity reset every 3,000. Initial Gaussians come from the dataset's sparse points (COLMAP) or,
 * without any, from random points in the region the training cameras see.
 *
 *     cs_dataset *ds;
 *     cs_dataset_desc dd = {.downscale = 2, .hold_out = 1};
 *     cs_dataset_load(ctx, "nerf_synthetic_lego", &dd, &ds);
 *     cs_trainer *t;
 *     cs_trainer_desc td = {.seed = 1};              // zero means defaults
 *     cs_trainer_create(ctx, ds, &td, &t);
 *     for (int i = 0; i < 30000; i++) cs_trainer_step(t, NULL);
 *     cs_scene_save(ctx, cs_trainer_scene(t), "scene.ply");
 *     cs_eval_result er;
 *     cs_evaluate(ctx, cs_trainer_scene(t), ds, NULL, NULL, &er);   // held-out PSNR, SSIM
 *     cs_trainer_destroy(t);
 *     cs_dataset_destroy(ds);
 *
 * Runs are deterministic: the same dataset, desc and thread count give bit-identical scenes,
 * and a run resumed from a checkpoint continues exactly as the uninterrupted one.
 */
typedef struct cs_trainer cs_trainer;

typedef struct cs_trainer_desc {
    uint64_t seed;          /* random seed: view order, initial points, split samples */
    int64_t max_gaussians;  /* cap on the Gaussian count; 0 = none */
    int64_t random_points;  /* initial random points when the dataset has none; 0 = 100,000 */
    int sh_bands;           /* SH bands trained, 1..4 (degree + 1); 0 = 4 */
    /* Non-zero: also prune Gaussians whose screen radius passed 20 px since the last
     * densification (the paper's rule; the reference code's test never fires, see densify.c).
     * 0 = the reference's behaviour. */
    int prune_screen_size;
} cs_trainer_desc;

/* What one iteration did. */
typedef struct cs_train_step_info {
    int64_t iteration;      /* iterations done, this one included (1-based, as 3DGS counts) */
    int64_t view;           /* dataset index of the view trained on */
    double loss, l1, ssim;  /* of this iteration's render against its view */
    double psnr;            /* of the same (unclamped render, dB) */
    int64_t gaussians;      /* after the iteration */
    int64_t cloned, split, pruned; /* by densification in this iteration */
    double ms_forward, ms_loss, ms_backward, ms_optimizer, ms_densify, ms_total;
} cs_train_step_info;

/* The dataset is borrowed: it must outlive the trainer and not change. Its training views (not
 * held out) are used; CS_ERR_ARGUMENT when it has none. desc may be NULL (defaults). */
cs_status cs_trainer_create(cs_context *ctx, const cs_dataset *ds, const cs_trainer_desc *desc,
                            cs_trainer **out);
void cs_trainer_destroy(cs_trainer *trainer);
/* One iteration; info may be NULL. After a failure (out of memory) the trainer is in an
 * undefined state: destroy it (a checkpoint restores a run). */
cs_status cs_trainer_step(cs_trainer *trainer, cs_train_step_info *info);
/* The scene being trained (owned by the trainer; valid until the next step or destroy). */
const cs_scene *cs_trainer_scene(const cs_trainer *trainer);
/* Iterations done. */
int64_t cs_trainer_iteration(const cs_trainer *trainer);
/* Write the whole training state (parameters, Adam moments, densification statistics,
 * iteration, random state, view order) atomically. */
cs_status cs_trainer_save_checkpoint(cs_trainer *trainer, const char *path);
/* Replace the trainer's state by a checkpoint's. The trainer must have been created with the
 * same dataset and desc (CS_ERR_ARGUMENT otherwise); with the same thread count, the run then
 * continues bit-identically to the one that wrote it. */
cs_status cs_trainer_load_checkpoint(cs_trainer *trainer, const char *path);

/* ---------------------------------------------------------------------------------------------
 * Evaluation: render every held-out view of a dataset over its background, clamp to [0, 1] and
 * compare with the photo: PSNR (dB, from the mean squared error over pixels and channels) and
 * mean SSIM per view, averaged over the views as 3DGS's metrics.py does.
 */
typedef struct cs_eval_view {
    int64_t index;          /* dataset view */
    const char *name;       /* its name */
    double psnr, ssim;
    const cs_image *render; /* the clamped render (valid during the callback) */
    const cs_image *truth;  /* the dataset's image */
} cs_eval_view;

/* Called once per held-out view in dataset order; a status other than CS_OK stops the
 * evaluation and is returned. */
typedef cs_status (*cs_eval_fn)(void *user, const cs_eval_view *view);

typedef struct cs_eval_result {
    double psnr, ssim;  /* means over the views */
    int64_t views;
} cs_eval_result;

/* fn may be NULL. CS_ERR_ARGUMENT when the dataset has no held-out views. */
cs_status cs_evaluate(cs_context *ctx, const cs_scene *scene, const cs_dataset *ds,
                      cs_eval_fn fn, void *user, cs_eval_result *out);

#ifdef __cplusplus
}
#endif

#endif /* CSPLAT_H */
