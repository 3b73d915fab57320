/*
 * camera.h - internal declarations of the camera part of libcsplat: the camera-set object, pose
 * helpers shared by the loaders, the image-header probe, and one from-memory parse function per
 * camera format (the fuzzers' entry points).
 *
 * Every loader converts into the conventions of cs_camera (include/csplat.h): OpenCV camera axes
 * (x right, y down, z forward), world-to-camera R (row-major) and t with x_cam = R x_world + t.
 * Pose arithmetic is done in double and rounded to float once, when a camera is stored.
 *
 * Files: camera.c (the set, pose helpers, image-header probe, cs_camera_set_load dispatch),
 * io_colmap.c (COLMAP .bin/.txt), io_transforms.c (transforms.json), io_cameras_json.c (Inria).
 */
#ifndef CSPLAT_CAMERA_H
#define CSPLAT_CAMERA_H

#include "internal.h"

/* Largest image side any camera loader accepts, in pixels: keeps width * height * channels far
 * from overflow downstream and rejects garbage sizes in malformed files. */
#define CS_MAX_CAMERA_SIDE (1 << 20)

/* Largest camera file (JSON or COLMAP model file) read into memory. */
#define CS_MAX_CAMERA_FILE_BYTES ((size_t)1 << 30)

struct cs_camera_set {
    cs_context *ctx; /* for the errors of cs_camera_set_add */
    cs_camera_source source;
    int64_t count, capacity;
    cs_camera *cams; /* [capacity] */
    char **names;    /* [capacity] owned; "" when none (never NULL for i < count) */
    char **paths;    /* [capacity] owned; NULL when the source names no image */
    int64_t point_count;
    float *point_xyz;   /* [point_count, 3] world */
    uint8_t *point_rgb; /* [point_count, 3] */
};

/* Room for at least n more cameras without reallocating. */
cs_status cs__camera_set_reserve(cs_camera_set *set, int64_t n);

/* Camera centre -R^T t in double. */
void cs__camera_center_d(const cs_camera *cam, double out[3]);

/* Pose helpers (double in, float out).
 * cs__camera_set_w2c: cam->R = r (world-to-camera, row-major, OpenCV axes), cam->t = t.
 * cs__camera_set_c2w: from a camera-to-world rotation (OpenCV axes, row-major) and the camera
 * centre c: R = r^T, t = -R c. */
void cs__camera_set_w2c(cs_camera *cam, const double r[9], const double t[3]);
void cs__camera_set_c2w(cs_camera *cam, const double r_c2w[9], const double c[3]);
/* True when r is a finite proper rotation: |r^T r - I| <= 1e-3 per entry and det(r) > 0. The
 * tolerance accepts poses printed with 7 digits; it rejects scaled or mirrored matrices, which a
 * transpose would not invert. */
bool cs__rotation_is_valid(const double r[9]);

/* Width and height of a PNG (IHDR) or JPEG (first SOFn marker) from its header only; nothing is
 * decoded. CS_ERR_NOT_FOUND when the file does not exist, CS_ERR_FORMAT when it is neither, or
 * its header is truncated or out of range, CS_ERR_IO when it cannot be read. */
cs_status cs__image_size(cs_context *ctx, const char *path, int *width, int *height);

/* How transforms.json parsing asks about a frame's image: CS_OK when it exists (and, when
 * width/height are non-NULL, its size), CS_ERR_NOT_FOUND when it is missing (the frame is
 * skipped), anything else is an error that stops the load. The loader uses the file system; the
 * fuzzer substitutes an in-memory answer. */
typedef cs_status (*cs_image_probe_fn)(void *user, cs_context *ctx, const char *path, int *width,
                                       int *height);
/* The file-system probe: stat for existence, cs__image_size for the size. */
cs_status cs__image_probe_file(void *user, cs_context *ctx, const char *path, int *width,
                               int *height);

/* Parse JSON text (not necessarily NUL-terminated) named name; CS_ERR_FORMAT with the byte
 * offset of the first syntax error. Free with cJSON_Delete. */
struct cJSON;
cs_status cs__json_parse(cs_context *ctx, const char *name, const char *text, size_t len,
                         struct cJSON **out);

/* COLMAP model from memory. binary selects the .bin or .txt layout; model_dir only names the
 * files in messages ("<model_dir>/images.bin"); points may be NULL (no points3D file); image_dir
 * prefixes image paths (<image_dir>/<name>). Images are sorted by name. */
cs_status cs__colmap_parse(cs_context *ctx, const char *model_dir, bool binary,
                           const uint8_t *cameras, size_t cameras_len, const uint8_t *images,
                           size_t images_len, const uint8_t *points, size_t points_len,
                           const char *image_dir, cs_camera_set **out);
/* COLMAP model from a folder holding cameras/images[/points3D] (.bin preferred over .txt). */
cs_status cs__colmap_load(cs_context *ctx, const char *model_dir, const char *image_dir,
                          cs_camera_set **out);

/* transforms.json text (not necessarily NUL-terminated) named name; file paths are resolved
 * against base_dir and checked with probe. */
cs_status cs__transforms_parse(cs_context *ctx, const char *name, const char *text, size_t len,
                               const char *base_dir, cs_image_probe_fn probe, void *probe_user,
                               cs_camera_set **out);

/* Inria cameras.json text (not necessarily NUL-terminated) named name. */
cs_status cs__cameras_json_parse(cs_context *ctx, const char *name, const char *text, size_t len,
                                 cs_camera_set **out);
/* Write set as an Inria cameras.json, atomically. */
cs_status cs__cameras_json_save(cs_context *ctx, const cs_camera_set *set, const char *path);

#endif /* CSPLAT_CAMERA_H */
