/*
 * camera.c - cameras and camera sets: the cs_camera_set object (an append-only list of cameras
 * with an image name and path each, plus optional sparse points), pose helpers shared by the
 * loaders, a PNG/JPEG header probe for image sizes, and cs_camera_set_load, which picks the
 * loader from the path and the file's content.
 *
 * Conventions (DESIGN.md): OpenCV camera axes (x right, y down, z forward); cs_camera holds the
 * world-to-camera rotation R (row-major) and translation t, x_cam = R x_world + t, so the camera
 * centre is c = -R^T t and row 2 of R is the optical axis in world coordinates.
 *
 * Dispatch of cs_camera_set_load(path):
 *   folder   COLMAP when it holds cameras.bin|txt, or sparse/0/ or sparse/ holding them (in that
 *            order); else transforms.json; else transforms_train.json (Blender).
 *   file     cameras.bin|txt, images.bin|txt, points3D.bin|txt: the COLMAP model in its folder;
 *            otherwise JSON sniffed by its first character: '[' Inria cameras.json, '{' a
 *            transforms.json (the three dialects are told apart in io_transforms.c).
 * COLMAP images are looked for in <dataset>/images, the dataset being the folder above sparse/0
 * or sparse/ (the layout of COLMAP's own workspaces and of the 3DGS datasets), else the model
 * folder itself.
 *
 * The image-size probe reads only headers (PNG IHDR, JPEG SOFn): the Blender dialect of
 * transforms.json has no width/height and 3DGS takes them from the images, but decoding 100
 * images just to learn their size would dominate loading time.
 *
 * Not done here: undistortion, resizing, and checking that COLMAP/cameras.json images exist
 * (those formats list registered images; whoever loads the pixels reports a missing file).
 */
#include "camera.h"

#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>

/* ---------------------------------------------------------------------------------------------
 * Camera sets.
 */

void cs__camera_center_d(const cs_camera *cam, double out[3]) {
    const float *R = cam->R, *t = cam->t;
    /* c = -R^T t, accumulated in double: t can be large relative to the scene's scale. */
    for (int j = 0; j < 3; j++)
        out[j] = -((double)R[j] * (double)t[0] + (double)R[3 + j] * (double)t[1] +
                   (double)R[6 + j] * (double)t[2]);
}

void cs_camera_center(const cs_camera *cam, float out[3]) {
    double c[3];
    cs__camera_center_d(cam, c);
    for (int j = 0; j < 3; j++) out[j] = (float)c[j];
}

cs_status cs_camera_set_create(cs_context *ctx, cs_camera_set **out) {
    *out = NULL;
    cs_camera_set *set = cs__calloc(1, sizeof *set);
    if (!set) return cs__alloc_error(ctx, "camera set", sizeof *set);
    set->ctx = ctx;
    set->source = CS_CAMERAS_MEMORY;
    *out = set;
    return CS_OK;
}

void cs_camera_set_destroy(cs_camera_set *set) {
    if (!set) return;
    for (int64_t i = 0; i < set->count; i++) {
        cs__free(set->names[i]);
        cs__free(set->paths[i]);
    }
    cs__free(set->cams);
    cs__free(set->names);
    cs__free(set->paths);
    cs__free(set->point_xyz);
    cs__free(set->point_rgb);
    cs__free(set);
}

/* Grow one array to cap elements of size bytes; on failure the old block stays valid. */
static bool grow(void **p, int64_t cap, size_t size) {
    size_t bytes;
    if (!cs__mul_size((size_t)cap, size, &bytes)) return false;
    void *q = cs__realloc(*p, bytes);
    if (!q) return false;
    *p = q;
    return true;
}

cs_status cs__camera_set_reserve(cs_camera_set *set, int64_t n) {
    if (n < 0 || set->count > INT64_MAX / 2 - n)
        return cs__error(set->ctx, CS_ERR_ARGUMENT, "camera set: %lld more cameras is too many",
                         (long long)n);
    int64_t need = set->count + n;
    if (need <= set->capacity) return CS_OK;
    int64_t cap = set->capacity ? set->capacity : 8;
    while (cap < need) cap *= 2;
    /* Each array is grown separately; a failure part-way leaves larger arrays and the old
     * capacity, which is still consistent. */
    if (!grow((void **)&set->cams, cap, sizeof *set->cams) ||
        !grow((void **)&set->names, cap, sizeof *set->names) ||
        !grow((void **)&set->paths, cap, sizeof *set->paths))
        return cs__alloc_error(set->ctx, "camera set", (size_t)cap * sizeof(cs_camera));
    set->capacity = cap;
    return CS_OK;
}

cs_status cs_camera_set_add(cs_camera_set *set, const cs_camera *cam, const char *name,
                            const char *image_path) {
    if (!set || !cam) return CS_ERR_ARGUMENT;
    cs_status st = cs__camera_set_reserve(set, 1);
    if (st != CS_OK) return st;
    char *n = cs__strdup(name ? name : "");
    char *p = image_path ? cs__strdup(image_path) : NULL;
    if (!n || (image_path && !p)) {
        cs__free(n);
        cs__free(p);
        return cs__alloc_error(set->ctx, "camera set", strlen(name ? name : "") + 1);
    }
    set->cams[set->count] = *cam;
    set->names[set->count] = n;
    set->paths[set->count] = p;
    set->count++;
    return CS_OK;
}

int64_t cs_camera_set_count(const cs_camera_set *set) {
    return set ? set->count : 0;
}

cs_camera_source cs_camera_set_source(const cs_camera_set *set) {
    return set->source;
}

const cs_camera *cs_camera_set_camera(const cs_camera_set *set, int64_t i) {
    return set && i >= 0 && i < set->count ? &set->cams[i] : NULL;
}

const char *cs_camera_set_name(const cs_camera_set *set, int64_t i) {
    return set && i >= 0 && i < set->count ? set->names[i] : NULL;
}

const char *cs_camera_set_image_path(const cs_camera_set *set, int64_t i) {
    return set && i >= 0 && i < set->count ? set->paths[i] : NULL;
}

int64_t cs_camera_set_points(const cs_camera_set *set, const float **xyz, const uint8_t **rgb) {
    if (xyz) *xyz = set ? set->point_xyz : NULL;
    if (rgb) *rgb = set ? set->point_rgb : NULL;
    return set ? set->point_count : 0;
}

cs_status cs_camera_set_save(cs_context *ctx, const cs_camera_set *set, const char *path) {
    if (!set || !path) return cs__error(ctx, CS_ERR_ARGUMENT, "camera set save: NULL argument");
    return cs__cameras_json_save(ctx, set, path);
}

/* ---------------------------------------------------------------------------------------------
 * Pose helpers.
 */

void cs__camera_set_w2c(cs_camera *cam, const double r[9], const double t[3]) {
    for (int i = 0; i < 9; i++) cam->R[i] = (float)r[i];
    for (int i = 0; i < 3; i++) cam->t[i] = (float)t[i];
}

void cs__camera_set_c2w(cs_camera *cam, const double r_c2w[9], const double c[3]) {
    double r[9], t[3];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) r[3 * i + j] = r_c2w[3 * j + i];
    for (int i = 0; i < 3; i++)
        t[i] = -(r[3 * i] * c[0] + r[3 * i + 1] * c[1] + r[3 * i + 2] * c[2]);
    cs__camera_set_w2c(cam, r, t);
}

bool cs__rotation_is_valid(const double r[9]) {
    for (int i = 0; i < 9; i++)
        if (!isfinite(r[i])) return false;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            /* (r^T r)_ij = column i . column j */
            double d = r[i] * r[j] + r[3 + i] * r[3 + j] + r[6 + i] * r[6 + j];
            if (fabs(d - (i == j ? 1.0 : 0.0)) > 1e-3) return false;
        }
    double det = r[0] * (r[4] * r[8] - r[5] * r[7]) - r[1] * (r[3] * r[8] - r[5] * r[6]) +
                 r[2] * (r[3] * r[7] - r[4] * r[6]);
    return det > 0;
}

/* ---------------------------------------------------------------------------------------------
 * Image sizes from headers.
 */

static uint32_t rd_u32be(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Walk JPEG marker segments from just after SOI to the first frame header (SOF0..SOF15 except
 * DHT C4, JPG C8 and DAC CC), seeking over segment bodies so EXIF blobs are never read. */
static cs_status jpeg_size(cs_context *ctx, const char *path, FILE *f, int *w, int *h) {
    for (;;) {
        int c = getc(f);
        if (c != 0xFF) break;
        int m;
        do m = getc(f);
        while (m == 0xFF);                             /* fill bytes */
        if (m == EOF || m == 0xD9 || m == 0xDA) break; /* EOI or scan before any frame header */
        if (m == 0x01 || (m >= 0xD0 && m <= 0xD8)) continue; /* markers without a length */
        uint8_t b[7];
        if (fread(b, 1, 2, f) != 2) break;
        unsigned len = (unsigned)b[0] << 8 | b[1];
        if (len < 2) break;
        bool sof = m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
        if (sof) {
            if (len < 7 || fread(b + 2, 1, 5, f) != 5) break;
            *h = (int)((unsigned)b[3] << 8 | b[4]);
            *w = (int)((unsigned)b[5] << 8 | b[6]);
            if (*w == 0 || *h == 0)
                return cs__error(ctx, CS_ERR_FORMAT, "%s: JPEG frame header has size %dx%d", path,
                                 *w, *h);
            return CS_OK;
        }
        if (fseek(f, (long)len - 2, SEEK_CUR) != 0) break;
    }
    return cs__error(ctx, CS_ERR_FORMAT, "%s: JPEG has no readable frame header", path);
}

cs_status cs__image_size(cs_context *ctx, const char *path, int *width, int *height) {
    *width = *height = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        return cs__error(ctx, e == ENOENT ? CS_ERR_NOT_FOUND : CS_ERR_IO, "%s: cannot open: %s",
                         path, strerror(e));
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return cs__error(ctx, CS_ERR_IO, "%s: not a regular file", path);
    }
    uint8_t b[24];
    size_t n = fread(b, 1, sizeof b, f);
    static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    cs_status s;
    if (n >= 2 && b[0] == 0xFF && b[1] == 0xD8) {
        s = fseek(f, 2, SEEK_SET) == 0 ? jpeg_size(ctx, path, f, width, height)
                                       : cs__error(ctx, CS_ERR_IO, "%s: cannot seek", path);
    } else if (n >= 8 && memcmp(b, png_sig, 8) == 0) {
        /* The PNG specification requires IHDR first: length 13, "IHDR", width, height (BE). */
        if (n < 24 || memcmp(b + 12, "IHDR", 4) != 0) {
            s = cs__error(ctx, CS_ERR_FORMAT, "%s: PNG without an IHDR chunk", path);
        } else {
            uint32_t w = rd_u32be(b + 16), h = rd_u32be(b + 20);
            s = w && h && w <= 0x7fffffffu && h <= 0x7fffffffu
                    ? CS_OK
                    : cs__error(ctx, CS_ERR_FORMAT, "%s: PNG size %ux%u is invalid", path, w, h);
            *width = (int)w;
            *height = (int)h;
        }
    } else {
        s = cs__error(ctx, CS_ERR_FORMAT, "%s: not a PNG or JPEG image", path);
    }
    fclose(f);
    if (s == CS_OK && (*width > CS_MAX_CAMERA_SIDE || *height > CS_MAX_CAMERA_SIDE))
        s = cs__error(ctx, CS_ERR_UNSUPPORTED, "%s: image size %dx%d exceeds %d pixels a side",
                      path, *width, *height, CS_MAX_CAMERA_SIDE);
    if (s != CS_OK) *width = *height = 0;
    return s;
}

cs_status cs__image_probe_file(void *user, cs_context *ctx, const char *path, int *width,
                               int *height) {
    (void)user;
    if (width) return cs__image_size(ctx, path, width, height);
    return cs__file_exists(path) ? CS_OK
                                 : cs__error(ctx, CS_ERR_NOT_FOUND, "%s: image missing", path);
}

cs_status cs__json_parse(cs_context *ctx, const char *name, const char *text, size_t len,
                         struct cJSON **out) {
    const char *end = NULL;
    *out = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (*out) return CS_OK;
    /* cJSON reports no separate out-of-memory status; a syntax error is by far the likely one. */
    size_t at = end && end >= text && end <= text + len ? (size_t)(end - text) : 0;
    return cs__error(ctx, CS_ERR_FORMAT, "%s: invalid JSON near byte %zu", name, at);
}

/* ---------------------------------------------------------------------------------------------
 * cs_camera_set_load: dispatch by path and content.
 */

static bool has_colmap_model(const char *dir) {
    static const char *const names[] = {"cameras.bin", "cameras.txt"};
    for (int i = 0; i < 2; i++) {
        char *p = cs__path_join(dir, names[i]);
        bool ok = p && cs__file_exists(p);
        cs__free(p);
        if (ok) return true;
    }
    return false;
}

/* <dataset>/images for a model at <dataset>/sparse/<k>, <dataset>/sparse, else <model>/images. */
static char *colmap_image_dir(const char *model_dir) {
    char *m = cs__strdup(model_dir);
    if (!m) return NULL;
    for (size_t n = strlen(m); n > 1 && m[n - 1] == '/'; n--) m[n - 1] = 0;
    char *dataset = NULL;
    if (strcmp(cs__path_basename(m), "sparse") == 0) {
        dataset = cs__path_dirname(m);
    } else {
        char *parent = cs__path_dirname(m);
        if (parent && strcmp(cs__path_basename(parent), "sparse") == 0)
            dataset = cs__path_dirname(parent);
        else if (parent)
            dataset = cs__strdup(m);
        cs__free(parent);
    }
    char *images = dataset ? cs__path_join(dataset, "images") : NULL;
    cs__free(dataset);
    cs__free(m);
    return images;
}

/* A symbolic link checked out where links are not supported becomes a small text file holding the
 * link's target (git's core.symlinks=false). When the images "folder" is such a file and its text
 * names an existing folder relative to it, use that folder, as the link would have. Returns the
 * path to use (images itself, or a new string replacing it). */
static char *follow_link_stub(char *images) {
    if (!cs__file_exists(images)) return images;
    FILE *f = fopen(images, "rb");
    if (!f) return images;
    char target[1024];
    size_t n = fread(target, 1, sizeof target - 1, f);
    bool whole = feof(f) != 0;
    fclose(f);
    if (!whole || n == 0) return images;
    target[n] = 0;
    while (n > 0 && (target[n - 1] == '\n' || target[n - 1] == '\r')) target[--n] = 0;
    if (memchr(target, 0, n) || strchr(target, '\n')) return images;
    char *dir = cs__path_dirname(images);
    char *resolved = dir ? cs__path_join(dir, target) : NULL;
    cs__free(dir);
    if (!resolved || !cs__dir_exists(resolved)) {
        cs__free(resolved);
        return images;
    }
    cs__free(images);
    return resolved;
}

static cs_status load_colmap(cs_context *ctx, const char *model_dir, cs_camera_set **out) {
    char *images = colmap_image_dir(model_dir);
    if (images) images = follow_link_stub(images);
    if (!images) return cs__alloc_error(ctx, model_dir, strlen(model_dir) + 8);
    cs_status st = cs__colmap_load(ctx, model_dir, images, out);
    cs__free(images);
    return st;
}

static cs_status load_json(cs_context *ctx, const char *path, cs_camera_set **out) {
    uint8_t *data;
    size_t len;
    cs_status st = cs__read_file(ctx, path, CS_MAX_CAMERA_FILE_BYTES, &data, &len);
    if (st != CS_OK) return st;
    size_t i = 0;
    if (len >= 3 && data[0] == 0xEF && data[1] == 0xBB && data[2] == 0xBF) i = 3; /* BOM */
    while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n'))
        i++;
    const char *text = (const char *)data + i;
    if (i < len && data[i] == '[') {
        st = cs__cameras_json_parse(ctx, path, text, len - i, out);
    } else if (i < len && data[i] == '{') {
        char *dir = cs__path_dirname(path);
        st = dir ? cs__transforms_parse(ctx, path, text, len - i, dir, cs__image_probe_file, NULL,
                                        out)
                 : cs__alloc_error(ctx, path, strlen(path));
        cs__free(dir);
    } else {
        st = cs__error(ctx, CS_ERR_FORMAT,
                       "%s: not a cameras.json (JSON list), transforms.json (JSON object) or "
                       "COLMAP model",
                       path);
    }
    cs__free(data);
    return st;
}

static cs_status load_folder(cs_context *ctx, const char *dir, cs_camera_set **out) {
    static const char *const models[] = {"", "sparse/0", "sparse"};
    for (int i = 0; i < 3; i++) {
        char *m = i ? cs__path_join(dir, models[i]) : cs__strdup(dir);
        if (!m) return cs__alloc_error(ctx, dir, strlen(dir) + 16);
        bool found = has_colmap_model(m);
        cs_status st = found ? load_colmap(ctx, m, out) : CS_OK;
        cs__free(m);
        if (found) return st;
    }
    static const char *const jsons[] = {"transforms.json", "transforms_train.json"};
    for (int i = 0; i < 2; i++) {
        char *j = cs__path_join(dir, jsons[i]);
        if (!j) return cs__alloc_error(ctx, dir, strlen(dir) + 24);
        bool found = cs__file_exists(j);
        cs_status st = found ? load_json(ctx, j, out) : CS_OK;
        cs__free(j);
        if (found) return st;
    }
    return cs__error(ctx, CS_ERR_NOT_FOUND,
                     "%s: no COLMAP model (cameras.bin/txt, sparse/0, sparse), transforms.json "
                     "or transforms_train.json",
                     dir);
}

cs_status cs_camera_set_load(cs_context *ctx, const char *path, cs_camera_set **out) {
    *out = NULL;
    if (!path) return cs__error(ctx, CS_ERR_ARGUMENT, "camera set load: NULL path");
    if (cs__dir_exists(path)) return load_folder(ctx, path, out);
    if (!cs__file_exists(path))
        return cs__error(ctx, CS_ERR_NOT_FOUND, "%s: no such file or folder", path);
    static const char *const colmap_files[] = {"cameras.bin", "cameras.txt",  "images.bin",
                                               "images.txt",  "points3D.bin", "points3D.txt"};
    for (int i = 0; i < 6; i++) {
        if (strcmp(cs__path_basename(path), colmap_files[i]) != 0) continue;
        char *dir = cs__path_dirname(path);
        cs_status st = dir ? load_colmap(ctx, dir, out) : cs__alloc_error(ctx, path, 1);
        cs__free(dir);
        return st;
    }
    return load_json(ctx, path, out);
}
