/*
 * io_colmap.c - COLMAP sparse models: cameras, images and points3D, binary (.bin) and text (.txt).
 *
 * Layout (COLMAP src/colmap/scene/reconstruction_io.cc; all little-endian):
 *   cameras.bin   u64 n; n x { u32 camera_id, i32 model_id, u64 width, u64 height,
 *                              f64 params[model's count] }
 *   images.bin    u64 n; n x { u32 image_id, f64 qw qx qy qz, f64 tx ty tz, u32 camera_id,
 *                              name (NUL-terminated), u64 n2d, n2d x { f64 x, f64 y, i64 id } }
 *   points3D.bin  u64 n; n x { u64 point_id, f64 x y z, u8 r g b, f64 error, u64 track_len,
 *                              track_len x { u32 image_id, u32 point2d_idx } }
 *   cameras.txt   CAMERA_ID MODEL WIDTH HEIGHT PARAMS...
 *   images.txt    IMAGE_ID QW QX QY QZ TX TY TZ CAMERA_ID NAME, then one line of POINTS2D (may be
 *                 empty: it is read as a line, never skipped as blank, as COLMAP does)
 *   points3D.txt  POINT3D_ID X Y Z R G B ERROR TRACK...
 * '#' lines are comments. The pose (q, t) is world-to-camera in OpenCV axes, which is csplat's
 * convention as is: R = rotation of the unit quaternion (w, x, y, z), x_cam = R x_world + t.
 *
 * Camera models (COLMAP src/colmap/sensor/models.h ids): SIMPLE_PINHOLE 0 (f, cx, cy),
 * PINHOLE 1 (fx, fy, cx, cy), SIMPLE_RADIAL 2 (f, cx, cy, k1), RADIAL 3 (f, cx, cy, k1, k2),
 * OPENCV 4 (fx, fy, cx, cy, k1, k2, p1, p2). Other models are refused with their name
 * (CS_ERR_UNSUPPORTED): csplat renders pinhole images, and fisheye models cannot be undistorted
 * into one without losing the field of view.
 *
 * Results: images sorted by name (then image id), so the set's order does not depend on the
 * order COLMAP registered them; names as COLMAP stores them (relative to the images folder);
 * points3D's xyz and colour (error and tracks are skipped). The points3D file is optional.
 *
 * Safety: every count is checked against the bytes that remain before anything is allocated
 * (a count of 2^60 is a clean CS_ERR_FORMAT), and parsing never reads outside the buffers; the
 * text parser works on [p, end) without relying on a NUL terminator.
 */
#include "camera.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const model_names[] = {"SIMPLE_PINHOLE",
                                          "PINHOLE",
                                          "SIMPLE_RADIAL",
                                          "RADIAL",
                                          "OPENCV",
                                          "OPENCV_FISHEYE",
                                          "FULL_OPENCV",
                                          "FOV",
                                          "SIMPLE_RADIAL_FISHEYE",
                                          "RADIAL_FISHEYE",
                                          "THIN_PRISM_FISHEYE"};
enum { SUPPORTED_MODELS = 5, KNOWN_MODELS = 11 };
static const int model_param_count[SUPPORTED_MODELS] = {3, 4, 4, 5, 8};

typedef struct colmap_camera {
    uint32_t id;
    cs_camera cam; /* intrinsics only */
} colmap_camera;

typedef struct colmap_image {
    const char *name; /* into the input buffer; not NUL-terminated in text files */
    size_t name_len;
    uint32_t id, camera_id;
    double q[4], t[3];
} colmap_image;

typedef struct model {
    cs_context *ctx;
    const char *dir, *ext; /* for messages: "<dir>/cameras<ext>" */
    colmap_camera *cams;
    int64_t ncams;
    colmap_image *imgs;
    int64_t nimgs;
    float *xyz;
    uint8_t *rgb;
    int64_t npoints;
} model;

static void model_free(model *m) {
    cs__free(m->cams);
    cs__free(m->imgs);
    cs__free(m->xyz);
    cs__free(m->rgb);
}

/* Intrinsics of one camera from its model and parameters, validated. */
static cs_status set_intrinsics(model *m, uint32_t id, int model_id, uint64_t w, uint64_t h,
                                const double *p, cs_camera *cam) {
    memset(cam, 0, sizeof *cam);
    if (w < 1 || w > CS_MAX_CAMERA_SIDE || h < 1 || h > CS_MAX_CAMERA_SIDE)
        return cs__error(m->ctx, CS_ERR_FORMAT,
                         "%s/cameras%s: camera %u: size %llux%llu is out of range", m->dir, m->ext,
                         id, (unsigned long long)w, (unsigned long long)h);
    cam->width = (int)w;
    cam->height = (int)h;
    double fx, fy, cx, cy, d[4] = {0, 0, 0, 0};
    switch (model_id) {
    case 0: /* SIMPLE_PINHOLE f cx cy */
    case 2: /* SIMPLE_RADIAL f cx cy k1 */
    case 3: /* RADIAL f cx cy k1 k2 */
        fx = fy = p[0];
        cx = p[1];
        cy = p[2];
        if (model_id >= 2) d[0] = p[3];
        if (model_id == 3) d[1] = p[4];
        cam->model = model_id == 0   ? CS_CAMERA_PINHOLE
                     : model_id == 2 ? CS_CAMERA_SIMPLE_RADIAL
                                     : CS_CAMERA_RADIAL;
        break;
    default: /* PINHOLE fx fy cx cy; OPENCV fx fy cx cy k1 k2 p1 p2 */
        fx = p[0];
        fy = p[1];
        cx = p[2];
        cy = p[3];
        if (model_id == 4)
            for (int i = 0; i < 4; i++) d[i] = p[4 + i];
        cam->model = model_id == 1 ? CS_CAMERA_PINHOLE : CS_CAMERA_OPENCV;
        break;
    }
    bool finite = isfinite(cx) && isfinite(cy);
    for (int i = 0; i < 4; i++) finite = finite && isfinite(d[i]);
    if (!(fx > 0 && fy > 0 && isfinite(fx) && isfinite(fy)) || !finite)
        return cs__error(m->ctx, CS_ERR_FORMAT,
                         "%s/cameras%s: camera %u: invalid %s parameters (focal %g, %g)", m->dir,
                         m->ext, id, model_names[model_id], fx, fy);
    cam->fx = (float)fx;
    cam->fy = (float)fy;
    cam->cx = (float)cx;
    cam->cy = (float)cy;
    for (int i = 0; i < 4; i++) cam->dist[i] = (float)d[i];
    return CS_OK;
}

static cs_status unsupported_model(model *m, uint32_t id, const char *name) {
    return cs__error(m->ctx, CS_ERR_UNSUPPORTED,
                     "%s/cameras%s: camera %u: camera model %s is "
                     "not supported (SIMPLE_PINHOLE, PINHOLE, SIMPLE_RADIAL, RADIAL, OPENCV)",
                     m->dir, m->ext, id, name);
}

/* Allocate n records of size bytes for file stem, zeroed. */
static cs_status alloc_records(model *m, const char *stem, uint64_t n, size_t size, void **out) {
    size_t bytes;
    if (!cs__mul_size((size_t)n, size, &bytes))
        return cs__error(m->ctx, CS_ERR_FORMAT, "%s/%s%s: %llu records overflow memory", m->dir,
                         stem, m->ext, (unsigned long long)n);
    *out = cs__calloc(1, bytes);
    return *out ? CS_OK : cs__alloc_error(m->ctx, stem, bytes);
}

/* ---------------------------------------------------------------------------------------------
 * Binary files. A cursor that refuses to read past the end.
 */
typedef struct bin {
    const uint8_t *p;
    size_t left;
} bin;

static bool take(bin *b, size_t n, const uint8_t **at) {
    if (n > b->left) return false;
    *at = b->p;
    b->p += n;
    b->left -= n;
    return true;
}

/* The record count at the start of a file, checked against the bytes left at min_size each. */
static cs_status bin_count(model *m, const char *stem, bin *b, size_t min_size, uint64_t *n) {
    const uint8_t *at;
    if (!take(b, 8, &at))
        return cs__error(m->ctx, CS_ERR_FORMAT, "%s/%s.bin: truncated header", m->dir, stem);
    *n = cs__rd_u64le(at);
    if (*n > b->left / min_size)
        return cs__error(m->ctx, CS_ERR_FORMAT,
                         "%s/%s.bin: header says %llu records but the file holds at most %zu",
                         m->dir, stem, (unsigned long long)*n, b->left / min_size);
    return CS_OK;
}

static cs_status bin_truncated(model *m, const char *stem, uint64_t i) {
    return cs__error(m->ctx, CS_ERR_FORMAT, "%s/%s.bin: truncated in record %llu", m->dir, stem,
                     (unsigned long long)i);
}

static cs_status parse_cameras_bin(model *m, const uint8_t *data, size_t len) {
    bin b = {data, len};
    uint64_t n;
    cs_status st = bin_count(m, "cameras", &b, 24 + 3 * 8, &n);
    if (st == CS_OK) st = alloc_records(m, "cameras", n, sizeof *m->cams, (void **)&m->cams);
    for (uint64_t i = 0; st == CS_OK && i < n; i++) {
        const uint8_t *hdr, *prm;
        if (!take(&b, 24, &hdr)) return bin_truncated(m, "cameras", i);
        uint32_t id = cs__rd_u32le(hdr), model_id = cs__rd_u32le(hdr + 4);
        if (model_id >= SUPPORTED_MODELS) {
            if (model_id < KNOWN_MODELS) return unsupported_model(m, id, model_names[model_id]);
            return cs__error(m->ctx, CS_ERR_FORMAT,
                             "%s/cameras.bin: camera %u: unknown camera model id %d", m->dir, id,
                             (int32_t)model_id);
        }
        int np = model_param_count[model_id];
        if (!take(&b, (size_t)np * 8, &prm)) return bin_truncated(m, "cameras", i);
        double p[8];
        for (int k = 0; k < np; k++) p[k] = cs__rd_f64le(prm + 8 * k);
        m->cams[i].id = id;
        st = set_intrinsics(m, id, (int)model_id, cs__rd_u64le(hdr + 8), cs__rd_u64le(hdr + 16), p,
                            &m->cams[i].cam);
        m->ncams = (int64_t)i + 1;
    }
    return st;
}

static cs_status parse_images_bin(model *m, const uint8_t *data, size_t len) {
    bin b = {data, len};
    uint64_t n;
    /* id, 7 doubles, camera id, an empty name's NUL, the 2D point count */
    cs_status st = bin_count(m, "images", &b, 4 + 56 + 4 + 1 + 8, &n);
    if (st == CS_OK) st = alloc_records(m, "images", n, sizeof *m->imgs, (void **)&m->imgs);
    for (uint64_t i = 0; st == CS_OK && i < n; i++) {
        const uint8_t *at;
        if (!take(&b, 64, &at)) return bin_truncated(m, "images", i);
        colmap_image *im = &m->imgs[i];
        im->id = cs__rd_u32le(at);
        for (int k = 0; k < 4; k++) im->q[k] = cs__rd_f64le(at + 4 + 8 * k);
        for (int k = 0; k < 3; k++) im->t[k] = cs__rd_f64le(at + 36 + 8 * k);
        im->camera_id = cs__rd_u32le(at + 60);
        const uint8_t *nul = memchr(b.p, 0, b.left);
        if (!nul)
            return cs__error(m->ctx, CS_ERR_FORMAT,
                             "%s/images.bin: image %u: name is not terminated", m->dir, im->id);
        im->name = (const char *)b.p;
        im->name_len = (size_t)(nul - b.p);
        take(&b, im->name_len + 1, &at);
        if (!take(&b, 8, &at)) return bin_truncated(m, "images", i);
        uint64_t n2d = cs__rd_u64le(at);
        if (n2d > b.left / 24)
            return cs__error(m->ctx, CS_ERR_FORMAT,
                             "%s/images.bin: image %u: %llu 2D points exceed the file", m->dir,
                             im->id, (unsigned long long)n2d);
        take(&b, (size_t)n2d * 24, &at);
        m->nimgs = (int64_t)i + 1;
    }
    return st;
}

static cs_status check_point(model *m, uint64_t i, const double xyz[3]) {
    if (isfinite(xyz[0]) && isfinite(xyz[1]) && isfinite(xyz[2])) return CS_OK;
    return cs__error(m->ctx, CS_ERR_FORMAT, "%s/points3D%s: point %llu has a non-finite position",
                     m->dir, m->ext, (unsigned long long)i);
}

static cs_status alloc_points(model *m, uint64_t n) {
    cs_status st = alloc_records(m, "points3D", n, 3 * sizeof(float), (void **)&m->xyz);
    if (st == CS_OK) st = alloc_records(m, "points3D", n, 3, (void **)&m->rgb);
    return st;
}

static cs_status parse_points_bin(model *m, const uint8_t *data, size_t len) {
    bin b = {data, len};
    uint64_t n;
    cs_status st = bin_count(m, "points3D", &b, 8 + 24 + 3 + 8 + 8, &n);
    if (st == CS_OK) st = alloc_points(m, n);
    for (uint64_t i = 0; st == CS_OK && i < n; i++) {
        const uint8_t *at;
        if (!take(&b, 51, &at)) return bin_truncated(m, "points3D", i);
        double xyz[3];
        for (int k = 0; k < 3; k++) {
            xyz[k] = cs__rd_f64le(at + 8 + 8 * k);
            m->xyz[3 * i + k] = (float)xyz[k];
            m->rgb[3 * i + k] = at[32 + k];
        }
        uint64_t track = cs__rd_u64le(at + 43);
        if (track > b.left / 8)
            return cs__error(m->ctx, CS_ERR_FORMAT,
                             "%s/points3D.bin: point %llu: track length %llu exceeds the file",
                             m->dir, (unsigned long long)i, (unsigned long long)track);
        take(&b, (size_t)track * 8, &at);
        st = check_point(m, i, xyz);
        m->npoints = (int64_t)i + 1;
    }
    return st;
}

/* ---------------------------------------------------------------------------------------------
 * Text files: lines of whitespace-separated tokens over [p, end), no NUL terminator needed.
 */
typedef struct text {
    const char *p, *end;
    int line; /* number of the line last returned, 1-based */
} text;

typedef struct span {
    const char *p, *end;
} span;

/* The next line, raw (may be empty); false at the end of the input. */
static bool next_raw_line(text *t, span *l) {
    if (t->p >= t->end) return false;
    const char *nl = memchr(t->p, '\n', (size_t)(t->end - t->p));
    l->p = t->p;
    l->end = nl ? nl : t->end;
    t->p = nl ? nl + 1 : t->end;
    t->line++;
    return true;
}

static bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* The next line that holds data (not blank, not a '#' comment). */
static bool next_data_line(text *t, span *l) {
    while (next_raw_line(t, l)) {
        const char *q = l->p;
        while (q < l->end && is_space(*q)) q++;
        if (q < l->end && *q != '#') return true;
    }
    return false;
}

/* Upper bound on the records of a text file: its data lines. */
static uint64_t count_data_lines(const char *data, size_t len) {
    text t = {data, data + len, 0};
    span l;
    uint64_t n = 0;
    while (next_data_line(&t, &l)) n++;
    return n;
}

static bool next_token(span *l, span *tok) {
    while (l->p < l->end && is_space(*l->p)) l->p++;
    if (l->p >= l->end) return false;
    tok->p = l->p;
    while (l->p < l->end && !is_space(*l->p)) l->p++;
    tok->end = l->p;
    return true;
}

static bool token_double(span *l, double *v) {
    span tok;
    char buf[64];
    if (!next_token(l, &tok)) return false;
    size_t n = (size_t)(tok.end - tok.p);
    if (n >= sizeof buf) return false;
    memcpy(buf, tok.p, n);
    buf[n] = 0;
    char *e;
    *v = strtod(buf, &e);
    return e == buf + n && isfinite(*v);
}

static bool token_u64(span *l, uint64_t max, uint64_t *v) {
    span tok;
    if (!next_token(l, &tok)) return false;
    uint64_t x = 0;
    for (const char *c = tok.p; c < tok.end; c++) {
        if (*c < '0' || *c > '9' || x > (max - (uint64_t)(*c - '0')) / 10) return false;
        x = x * 10 + (uint64_t)(*c - '0');
    }
    *v = x;
    return true;
}

static cs_status text_error(model *m, const char *stem, const text *t, const char *what) {
    return cs__error(m->ctx, CS_ERR_FORMAT, "%s/%s.txt:%d: %s", m->dir, stem, t->line, what);
}

static cs_status parse_cameras_txt(model *m, const char *data, size_t len) {
    uint64_t n = count_data_lines(data, len);
    cs_status st = alloc_records(m, "cameras", n, sizeof *m->cams, (void **)&m->cams);
    text t = {data, data + len, 0};
    span l, tok;
    while (st == CS_OK && next_data_line(&t, &l)) {
        uint64_t id, w, h;
        if (!token_u64(&l, UINT32_MAX, &id) || !next_token(&l, &tok))
            return text_error(m, "cameras", &t, "expected CAMERA_ID MODEL WIDTH HEIGHT PARAMS");
        int model_id = -1;
        size_t tn = (size_t)(tok.end - tok.p);
        for (int k = 0; k < KNOWN_MODELS; k++)
            if (strlen(model_names[k]) == tn && memcmp(model_names[k], tok.p, tn) == 0)
                model_id = k;
        if (model_id < 0 || model_id >= SUPPORTED_MODELS) {
            char name[64];
            snprintf(name, sizeof name, "%.*s", (int)(tn < 63 ? tn : 63), tok.p);
            return unsupported_model(m, (uint32_t)id, name);
        }
        if (!token_u64(&l, UINT64_MAX, &w) || !token_u64(&l, UINT64_MAX, &h))
            return text_error(m, "cameras", &t, "bad WIDTH or HEIGHT");
        double p[8];
        for (int k = 0; k < model_param_count[model_id]; k++)
            if (!token_double(&l, &p[k]))
                return text_error(m, "cameras", &t, "missing or non-numeric camera parameter");
        if (next_token(&l, &tok))
            return text_error(m, "cameras", &t, "more parameters than the camera model has");
        colmap_camera *c = &m->cams[m->ncams++];
        c->id = (uint32_t)id;
        st = set_intrinsics(m, c->id, model_id, w, h, p, &c->cam);
    }
    return st;
}

static cs_status parse_images_txt(model *m, const char *data, size_t len) {
    uint64_t n = count_data_lines(data, len);
    cs_status st = alloc_records(m, "images", n, sizeof *m->imgs, (void **)&m->imgs);
    text t = {data, data + len, 0};
    span l, tok;
    while (st == CS_OK && next_data_line(&t, &l)) {
        colmap_image *im = &m->imgs[m->nimgs];
        uint64_t id, cam;
        bool ok = token_u64(&l, UINT32_MAX, &id);
        for (int k = 0; ok && k < 4; k++) ok = token_double(&l, &im->q[k]);
        for (int k = 0; ok && k < 3; k++) ok = token_double(&l, &im->t[k]);
        ok = ok && token_u64(&l, UINT32_MAX, &cam) && next_token(&l, &tok);
        if (!ok)
            return text_error(m, "images", &t,
                              "expected IMAGE_ID QW QX QY QZ TX TY TZ CAMERA_ID NAME");
        im->id = (uint32_t)id;
        im->camera_id = (uint32_t)cam;
        im->name = tok.p;
        im->name_len = (size_t)(tok.end - tok.p);
        m->nimgs++;
        next_raw_line(&t, &l); /* POINTS2D: not used */
    }
    return st;
}

static cs_status parse_points_txt(model *m, const char *data, size_t len) {
    uint64_t n = count_data_lines(data, len);
    cs_status st = alloc_points(m, n);
    text t = {data, data + len, 0};
    span l;
    while (st == CS_OK && next_data_line(&t, &l)) {
        uint64_t id, rgb[3];
        double xyz[3], err;
        bool ok = token_u64(&l, UINT64_MAX, &id);
        for (int k = 0; ok && k < 3; k++) ok = token_double(&l, &xyz[k]);
        for (int k = 0; ok && k < 3; k++) ok = token_u64(&l, 255, &rgb[k]);
        if (!ok || !token_double(&l, &err))
            return text_error(m, "points3D", &t, "expected POINT3D_ID X Y Z R G B ERROR TRACK");
        int64_t i = m->npoints++;
        for (int k = 0; k < 3; k++) {
            m->xyz[3 * i + k] = (float)xyz[k];
            m->rgb[3 * i + k] = (uint8_t)rgb[k];
        }
    }
    return st;
}

/* ---------------------------------------------------------------------------------------------
 * Assembly.
 */

static int cmp_camera(const void *a, const void *b) {
    uint32_t x = ((const colmap_camera *)a)->id, y = ((const colmap_camera *)b)->id;
    return x < y ? -1 : x > y;
}

static int cmp_image(const void *a, const void *b) {
    const colmap_image *x = a, *y = b;
    size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
    int c = memcmp(x->name, y->name, n);
    if (c) return c;
    if (x->name_len != y->name_len) return x->name_len < y->name_len ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Rotation of the unit quaternion q / |q| (w, x, y, z), row-major (COLMAP's qvec2rotmat). */
static bool quat_to_rotation(const double q[4], double r[9]) {
    double n = sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]);
    if (!(n > 1e-8) || !isfinite(n)) return false;
    double w = q[0] / n, x = q[1] / n, y = q[2] / n, z = q[3] / n;
    r[0] = 1 - 2 * (y * y + z * z);
    r[1] = 2 * (x * y - w * z);
    r[2] = 2 * (x * z + w * y);
    r[3] = 2 * (x * y + w * z);
    r[4] = 1 - 2 * (x * x + z * z);
    r[5] = 2 * (y * z - w * x);
    r[6] = 2 * (x * z - w * y);
    r[7] = 2 * (y * z + w * x);
    r[8] = 1 - 2 * (x * x + y * y);
    return true;
}

/* Append image im (with camera intrinsics cam) to set; the name is copied. */
static cs_status add_image(model *m, cs_camera_set *set, const colmap_image *im,
                           const colmap_camera *cam, const char *image_dir) {
    double r[9];
    if (!quat_to_rotation(im->q, r) || !isfinite(im->t[0]) || !isfinite(im->t[1]) ||
        !isfinite(im->t[2]))
        return cs__error(m->ctx, CS_ERR_FORMAT, "%s/images%s: image %u: invalid pose", m->dir,
                         m->ext, im->id);
    cs_camera c = cam->cam;
    cs__camera_set_w2c(&c, r, im->t);
    char *name = cs__malloc(im->name_len + 1);
    if (!name) return cs__alloc_error(m->ctx, "images", im->name_len + 1);
    memcpy(name, im->name, im->name_len);
    name[im->name_len] = 0;
    char *path = cs__path_join(image_dir, name);
    if (!path) {
        cs__free(name);
        return cs__alloc_error(m->ctx, "images", im->name_len + strlen(image_dir) + 2);
    }
    /* Room was reserved for every image. */
    set->cams[set->count] = c;
    set->names[set->count] = name;
    set->paths[set->count] = path;
    set->count++;
    return CS_OK;
}

static cs_status assemble(model *m, bool binary, const char *image_dir, cs_camera_set **out) {
    qsort(m->cams, (size_t)m->ncams, sizeof *m->cams, cmp_camera);
    for (int64_t i = 1; i < m->ncams; i++)
        if (m->cams[i].id == m->cams[i - 1].id)
            return cs__error(m->ctx, CS_ERR_FORMAT, "%s/cameras%s: camera id %u appears twice",
                             m->dir, m->ext, m->cams[i].id);
    if (m->nimgs == 0)
        return cs__error(m->ctx, CS_ERR_FORMAT, "%s/images%s: no registered images", m->dir,
                         m->ext);
    qsort(m->imgs, (size_t)m->nimgs, sizeof *m->imgs, cmp_image);
    cs_camera_set *set;
    cs_status st = cs_camera_set_create(m->ctx, &set);
    if (st != CS_OK) return st;
    set->source = binary ? CS_CAMERAS_COLMAP_BIN : CS_CAMERAS_COLMAP_TXT;
    st = cs__camera_set_reserve(set, m->nimgs);
    for (int64_t i = 0; st == CS_OK && i < m->nimgs; i++) {
        colmap_camera key = {.id = m->imgs[i].camera_id};
        const colmap_camera *cam =
            bsearch(&key, m->cams, (size_t)m->ncams, sizeof *m->cams, cmp_camera);
        st = cam ? add_image(m, set, &m->imgs[i], cam, image_dir)
                 : cs__error(m->ctx, CS_ERR_FORMAT,
                             "%s/images%s: image %u: camera id %u is not in cameras%s", m->dir,
                             m->ext, m->imgs[i].id, m->imgs[i].camera_id, m->ext);
    }
    if (st != CS_OK) {
        cs_camera_set_destroy(set);
        return st;
    }
    set->point_count = m->npoints;
    set->point_xyz = m->xyz;
    set->point_rgb = m->rgb;
    m->xyz = NULL;
    m->rgb = NULL;
    *out = set;
    return CS_OK;
}

cs_status cs__colmap_parse(cs_context *ctx, const char *model_dir, bool binary,
                           const uint8_t *cameras, size_t cameras_len, const uint8_t *images,
                           size_t images_len, const uint8_t *points, size_t points_len,
                           const char *image_dir, cs_camera_set **out) {
    *out = NULL;
    model m = {.ctx = ctx, .dir = model_dir, .ext = binary ? ".bin" : ".txt"};
    cs_status st;
    if (binary) {
        st = parse_cameras_bin(&m, cameras, cameras_len);
        if (st == CS_OK) st = parse_images_bin(&m, images, images_len);
        if (st == CS_OK && points) st = parse_points_bin(&m, points, points_len);
    } else {
        st = parse_cameras_txt(&m, (const char *)cameras, cameras_len);
        if (st == CS_OK) st = parse_images_txt(&m, (const char *)images, images_len);
        if (st == CS_OK && points) st = parse_points_txt(&m, (const char *)points, points_len);
    }
    if (st == CS_OK) st = assemble(&m, binary, image_dir, out);
    model_free(&m);
    return st;
}

/* Read <dir>/<stem><ext>; a missing optional file gives *data = NULL and CS_OK. */
static cs_status read_model_file(cs_context *ctx, const char *dir, const char *stem,
                                 const char *ext, bool optional, uint8_t **data, size_t *len) {
    char name[32];
    snprintf(name, sizeof name, "%s%s", stem, ext);
    char *path = cs__path_join(dir, name);
    if (!path) return cs__alloc_error(ctx, dir, strlen(dir) + sizeof name);
    cs_status st = CS_OK;
    *data = NULL;
    *len = 0;
    if (cs__file_exists(path))
        st = cs__read_file(ctx, path, CS_MAX_CAMERA_FILE_BYTES, data, len);
    else if (!optional)
        st = cs__error(ctx, CS_ERR_NOT_FOUND, "%s: missing (the COLMAP model needs it)", path);
    cs__free(path);
    return st;
}

cs_status cs__colmap_load(cs_context *ctx, const char *model_dir, const char *image_dir,
                          cs_camera_set **out) {
    *out = NULL;
    char *probe = cs__path_join(model_dir, "cameras.bin");
    if (!probe) return cs__alloc_error(ctx, model_dir, strlen(model_dir) + 12);
    bool binary = cs__file_exists(probe);
    cs__free(probe);
    const char *ext = binary ? ".bin" : ".txt";
    uint8_t *files[3] = {NULL, NULL, NULL};
    size_t lens[3] = {0, 0, 0};
    cs_status st = read_model_file(ctx, model_dir, "cameras", ext, false, &files[0], &lens[0]);
    if (st == CS_OK)
        st = read_model_file(ctx, model_dir, "images", ext, false, &files[1], &lens[1]);
    if (st == CS_OK)
        st = read_model_file(ctx, model_dir, "points3D", ext, true, &files[2], &lens[2]);
    if (st == CS_OK)
        st = cs__colmap_parse(ctx, model_dir, binary, files[0], lens[0], files[1], lens[1],
                              files[2], lens[2], image_dir, out);
    for (int i = 0; i < 3; i++) cs__free(files[i]);
    return st;
}
