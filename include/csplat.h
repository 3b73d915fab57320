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
                          neighbours are similar in every attribute (smaller files) */
    float quality;     /* self_organize only: 0 = default 0.5; 0..1 trades size for fidelity
                          (SH value precision 5..8 bits, sorting effort, positions 15/16 bits) */
} cs_sog_options;

/* Write a SOG: a bundled zip when path ends in ".sog", else meta.json plus .webp files in
 * path's folder. Each file appears whole or not at all; meta.json is written last. */
cs_status cs_scene_save_sog(cs_context *ctx, const cs_scene *scene, const char *path,
                            const cs_sog_options *options);

/* Load level `level` (0 = finest) of a SOG level-of-detail set (lod-meta.json). */
cs_status cs_scene_load_lod(cs_context *ctx, const char *path, int level, cs_scene **out);

/* ---------------------------------------------------------------------------------------------
 * Rendering: the exact 3DGS tile rasterizer (EWA projection, SH colour, 16x16 tiles, depth order,
 * front-to-back alpha compositing), threaded over the context's pool, AVX2+FMA when the CPU has
 * it. The renderer owns its scratch memory, which grows to the largest frame and is reused, so a
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
    /* Non-zero: use the portable scalar kernels even when the CPU has AVX2+FMA. The environment
     * variable CSPLAT_SCALAR=1, read at creation, does the same. */
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
    int simd;                /* 1 when the AVX2+FMA kernels ran, 0 for the scalar ones */
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

#ifdef __cplusplus
}
#endif

#endif /* CSPLAT_H */
