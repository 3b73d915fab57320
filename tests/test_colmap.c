/*
 * test_colmap.c - COLMAP sparse models: one small model written by hand as .txt and as .bin must
 * load identically and match hand-computed values (every supported camera model, quaternion to
 * rotation, name order, points); unsupported models are named; truncated and lying binary files
 * fail cleanly at every offset; the real fox_colmap model is checked for consistency (its points
 * project into its images) and against the fox transforms.json intrinsics.
 */
#include "camera.h"
#include "test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The hand-made model. Image ids are deliberately out of name order. */
typedef struct cam_row {
    unsigned id;
    int model_id;
    const char *model;
    unsigned long long w, h;
    int np;
    double p[8];
} cam_row;

static const cam_row cams[] = {
    {1, 1, "PINHOLE", 640, 480, 4, {500, 510, 320, 240}},
    {2, 0, "SIMPLE_PINHOLE", 100, 80, 3, {90, 50, 40}},
    {3, 2, "SIMPLE_RADIAL", 100, 80, 4, {95, 49, 41, 0.01}},
    {4, 3, "RADIAL", 100, 80, 5, {96, 48, 42, 0.02, -0.03}},
    {5, 4, "OPENCV", 100, 80, 8, {97, 98, 47, 43, 0.04, -0.05, 0.001, 0.002}},
};

typedef struct img_row {
    unsigned id;
    double q[4], t[3];
    unsigned cam;
    const char *name;
} img_row;

#define S45 0.70710678118654752
static const img_row imgs[] = {
    {7, {1, 0, 0, 0}, {0, 0, 4}, 1, "b.png"},
    {3, {S45, 0, S45, 0}, {0.5, -1, 4}, 5, "a.png"},  /* 90 degrees about y */
    {9, {2, 0, 0, 0}, {1, 2, 3}, 2, "c.png"},         /* unnormalised identity */
    {4, {0.5, 0.5, 0.5, 0.5}, {0, 0, 1}, 3, "d.png"}, /* cycles the axes */
    {5, {1, 0, 0, 0}, {0, 0, 2}, 4, "e.png"},
};

typedef struct pt_row {
    double xyz[3];
    unsigned char rgb[3];
    int track;
} pt_row;

static const pt_row pts[] = {{{1, 2, 3}, {10, 20, 30}, 2}, {{-1, 0.5, 2}, {255, 0, 128}, 0}};

#define N_CAMS (int)(sizeof cams / sizeof *cams)
#define N_IMGS (int)(sizeof imgs / sizeof *imgs)
#define N_PTS (int)(sizeof pts / sizeof *pts)

/* A growable byte buffer for the .bin writer. */
typedef struct buf {
    unsigned char *p;
    size_t n;
} buf;

static void put(buf *b, const void *v, size_t n) {
    b->p = realloc(b->p, b->n + n);
    memcpy(b->p + b->n, v, n);
    b->n += n;
}
static void put_u32(buf *b, unsigned v) {
    unsigned char x[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    put(b, x, 4);
}
static void put_u64(buf *b, unsigned long long v) {
    put_u32(b, (unsigned)v);
    put_u32(b, (unsigned)(v >> 32));
}
static void put_f64(buf *b, double v) {
    unsigned long long u;
    memcpy(&u, &v, 8);
    put_u64(b, u);
}

static void build_bin(buf out[3]) {
    memset(out, 0, 3 * sizeof *out);
    put_u64(&out[0], N_CAMS);
    for (int i = 0; i < N_CAMS; i++) {
        put_u32(&out[0], cams[i].id);
        put_u32(&out[0], (unsigned)cams[i].model_id);
        put_u64(&out[0], cams[i].w);
        put_u64(&out[0], cams[i].h);
        for (int k = 0; k < cams[i].np; k++) put_f64(&out[0], cams[i].p[k]);
    }
    put_u64(&out[1], N_IMGS);
    for (int i = 0; i < N_IMGS; i++) {
        put_u32(&out[1], imgs[i].id);
        for (int k = 0; k < 4; k++) put_f64(&out[1], imgs[i].q[k]);
        for (int k = 0; k < 3; k++) put_f64(&out[1], imgs[i].t[k]);
        put_u32(&out[1], imgs[i].cam);
        put(&out[1], imgs[i].name, strlen(imgs[i].name) + 1);
        put_u64(&out[1], 1); /* one 2D point: x, y, point3D id */
        put_f64(&out[1], 10.5);
        put_f64(&out[1], 20.5);
        put_u64(&out[1], 1);
    }
    put_u64(&out[2], N_PTS);
    for (int i = 0; i < N_PTS; i++) {
        put_u64(&out[2], (unsigned long long)i + 1);
        for (int k = 0; k < 3; k++) put_f64(&out[2], pts[i].xyz[k]);
        put(&out[2], pts[i].rgb, 3);
        put_f64(&out[2], 0.5);
        put_u64(&out[2], (unsigned long long)pts[i].track);
        for (int k = 0; k < pts[i].track; k++) {
            put_u32(&out[2], imgs[k].id);
            put_u32(&out[2], 0);
        }
    }
}

static char *build_txt(int which) {
    size_t cap = 1 << 14, n = 0;
    char *s = malloc(cap);
#define OUT(...) n += (size_t)snprintf(s + n, cap - n, __VA_ARGS__)
    OUT("# written by test_colmap.c\n");
    if (which == 0)
        for (int i = 0; i < N_CAMS; i++) {
            OUT("%u %s %llu %llu", cams[i].id, cams[i].model, cams[i].w, cams[i].h);
            for (int k = 0; k < cams[i].np; k++) OUT(" %.17g", cams[i].p[k]);
            OUT("\n");
        }
    if (which == 1)
        for (int i = 0; i < N_IMGS; i++) {
            OUT("%u", imgs[i].id);
            for (int k = 0; k < 4; k++) OUT(" %.17g", imgs[i].q[k]);
            for (int k = 0; k < 3; k++) OUT(" %.17g", imgs[i].t[k]);
            /* the POINTS2D line: empty for one image (it must not be taken as the next image) */
            OUT(" %u %s\n%s\n", imgs[i].cam, imgs[i].name, i == 2 ? "" : "10.5 20.5 1");
        }
    if (which == 2)
        for (int i = 0; i < N_PTS; i++) {
            OUT("%d %.17g %.17g %.17g %d %d %d 0.5", i + 1, pts[i].xyz[0], pts[i].xyz[1],
                pts[i].xyz[2], pts[i].rgb[0], pts[i].rgb[1], pts[i].rgb[2]);
            for (int k = 0; k < pts[i].track; k++) OUT(" %u 0", imgs[k].id);
            OUT("\r\n");
        }
#undef OUT
    return s;
}

static const char *const stems[3] = {"cameras", "images", "points3D"};

/* Write the model in dir (created, with parents given in order). */
static void write_model(const char *dir, bool binary) {
    char path[4096];
    if (binary) {
        buf b[3];
        build_bin(b);
        for (int i = 0; i < 3; i++) {
            snprintf(path, sizeof path, "%s/%s.bin", dir, stems[i]);
            CHECK(test_write_file(path, b[i].p, b[i].n));
            free(b[i].p);
        }
    } else {
        for (int i = 0; i < 3; i++) {
            char *t = build_txt(i);
            snprintf(path, sizeof path, "%s/%s.txt", dir, stems[i]);
            CHECK(test_write_file(path, t, strlen(t)));
            free(t);
        }
    }
}

static void check_hand_model(cs_camera_set *set, const char *dataset) {
    CHECK(cs_camera_set_count(set) == N_IMGS);
    /* Sorted by name: a b c d e. */
    static const char *const names[] = {"a.png", "b.png", "c.png", "d.png", "e.png"};
    for (int i = 0; i < N_IMGS; i++) {
        CHECK(strcmp(cs_camera_set_name(set, i), names[i]) == 0);
        char want[4200];
        snprintf(want, sizeof want, "%s/images/%s", dataset, names[i]);
        CHECK_MSG(strcmp(cs_camera_set_image_path(set, i), want) == 0, "path %s",
                  cs_camera_set_image_path(set, i));
    }
    const cs_camera *a = cs_camera_set_camera(set, 0), *b = cs_camera_set_camera(set, 1),
                    *c = cs_camera_set_camera(set, 2), *d = cs_camera_set_camera(set, 3),
                    *e = cs_camera_set_camera(set, 4);
    /* a: OPENCV camera 5, rotation 90 degrees about y = [[0,0,1],[0,1,0],[-1,0,0]]. */
    CHECK(a->model == CS_CAMERA_OPENCV && a->width == 100 && a->height == 80);
    CHECK(a->fx == 97 && a->fy == 98 && a->cx == 47 && a->cy == 43);
    CHECK(a->dist[0] == 0.04f && a->dist[1] == -0.05f && a->dist[2] == 0.001f &&
          a->dist[3] == 0.002f && a->dist[4] == 0);
    const float ry[9] = {0, 0, 1, 0, 1, 0, -1, 0, 0};
    for (int i = 0; i < 9; i++) CHECK_NEAR(a->R[i], ry[i], 1e-7);
    CHECK(a->t[0] == 0.5f && a->t[1] == -1 && a->t[2] == 4);
    /* b: PINHOLE, identity. */
    CHECK(b->model == CS_CAMERA_PINHOLE && b->width == 640 && b->fx == 500 && b->fy == 510);
    CHECK(b->cx == 320 && b->cy == 240 && b->R[0] == 1 && b->R[4] == 1 && b->R[8] == 1);
    /* c: SIMPLE_PINHOLE f = 90; the quaternion (2, 0, 0, 0) normalises to identity. */
    CHECK(c->model == CS_CAMERA_PINHOLE && c->fx == 90 && c->fy == 90 && c->cx == 50);
    CHECK(c->R[0] == 1 && c->R[1] == 0 && c->R[4] == 1 && c->R[8] == 1);
    /* d: SIMPLE_RADIAL k1; q = (.5,.5,.5,.5) gives [[0,0,1],[1,0,0],[0,1,0]]. */
    CHECK(d->model == CS_CAMERA_SIMPLE_RADIAL && d->fx == 95 && d->dist[0] == 0.01f);
    CHECK(d->dist[1] == 0);
    const float rc[9] = {0, 0, 1, 1, 0, 0, 0, 1, 0};
    for (int i = 0; i < 9; i++) CHECK_NEAR(d->R[i], rc[i], 1e-7);
    /* e: RADIAL k1 k2. */
    CHECK(e->model == CS_CAMERA_RADIAL && e->fy == 96 && e->dist[0] == 0.02f &&
          e->dist[1] == -0.03f && e->dist[2] == 0);
    const float *xyz;
    const uint8_t *rgb;
    CHECK(cs_camera_set_points(set, &xyz, &rgb) == N_PTS);
    CHECK(xyz[0] == 1 && xyz[1] == 2 && xyz[2] == 3 && xyz[3] == -1 && xyz[4] == 0.5f);
    CHECK(rgb[0] == 10 && rgb[2] == 30 && rgb[3] == 255 && rgb[5] == 128);
}

TEST(colmap_txt_and_bin_load_identically) {
    cs_context *ctx = test_context(1);
    /* Binary at <ds>/sparse/0, text at <ds2>/sparse: both dataset layouts. */
    char ds_bin[2048], ds_txt[2048], p[4096];
    snprintf(ds_bin, sizeof ds_bin, "%s", test_tmp("colmap_bin"));
    snprintf(ds_txt, sizeof ds_txt, "%s", test_tmp("colmap_txt"));
    mkdir(ds_bin, 0700);
    mkdir(ds_txt, 0700);
    snprintf(p, sizeof p, "%s/sparse", ds_bin);
    mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/sparse/0", ds_bin);
    mkdir(p, 0700);
    write_model(p, true);
    snprintf(p, sizeof p, "%s/sparse", ds_txt);
    mkdir(p, 0700);
    write_model(p, false);
    cs_camera_set *bin, *txt;
    CHECK_OK(ctx, cs_camera_set_load(ctx, ds_bin, &bin));
    CHECK_OK(ctx, cs_camera_set_load(ctx, ds_txt, &txt));
    if (test_failures()) return;
    CHECK(cs_camera_set_source(bin) == CS_CAMERAS_COLMAP_BIN);
    CHECK(cs_camera_set_source(txt) == CS_CAMERAS_COLMAP_TXT);
    check_hand_model(bin, ds_bin);
    check_hand_model(txt, ds_txt);
    for (int64_t i = 0; i < cs_camera_set_count(bin); i++)
        CHECK_MSG(memcmp(cs_camera_set_camera(bin, i), cs_camera_set_camera(txt, i),
                         sizeof(cs_camera)) == 0,
                  "camera %lld differs", (long long)i);
    const float *xb, *xt;
    cs_camera_set_points(bin, &xb, NULL);
    cs_camera_set_points(txt, &xt, NULL);
    CHECK(memcmp(xb, xt, N_PTS * 3 * sizeof(float)) == 0);
    cs_camera_set_destroy(txt);
    /* The model folder itself, and a model file, load the same model. */
    snprintf(p, sizeof p, "%s/sparse/0/images.bin", ds_bin);
    CHECK_OK(ctx, cs_camera_set_load(ctx, p, &txt));
    if (txt) check_hand_model(txt, ds_bin);
    cs_camera_set_destroy(txt);
    snprintf(p, sizeof p, "%s/sparse/0/", ds_bin);
    CHECK_OK(ctx, cs_camera_set_load(ctx, p, &txt));
    if (txt) check_hand_model(txt, ds_bin);
    cs_camera_set_destroy(txt);
    cs_camera_set_destroy(bin);
    cs_context_destroy(ctx);
}

static cs_status parse_bin(cs_context *ctx, buf b[3], size_t lens[3], cs_camera_set **out) {
    return cs__colmap_parse(ctx, "m", true, b[0].p, lens[0], b[1].p, lens[1], b[2].p, lens[2],
                            "imgs", out);
}

TEST(colmap_bin_truncated_at_every_offset) {
    cs_context *ctx = test_context(1);
    buf b[3];
    build_bin(b);
    int failures = 0;
    for (int f = 0; f < 3; f++) {
        size_t lens[3] = {b[0].n, b[1].n, b[2].n};
        for (size_t cut = 0; cut < b[f].n; cut++) {
            lens[f] = cut;
            /* A copy of exactly cut bytes, so ASan sees any read past the end. */
            buf c[3] = {b[0], b[1], b[2]};
            c[f].p = malloc(cut ? cut : 1);
            memcpy(c[f].p, b[f].p, cut);
            cs_camera_set *set;
            cs_status st = parse_bin(ctx, c, lens, &set);
            free(c[f].p);
            if (st != CS_ERR_FORMAT || set || !strstr(cs_context_last_error(ctx), stems[f]))
                failures++;
            cs_camera_set_destroy(set);
        }
    }
    CHECK_MSG(failures == 0, "%d truncations were not a clean CS_ERR_FORMAT", failures);
    size_t lens[3] = {b[0].n, b[1].n, b[2].n};
    cs_camera_set *set;
    CHECK_OK(ctx, parse_bin(ctx, b, lens, &set)); /* the whole model parses */
    cs_camera_set_destroy(set);
    for (int f = 0; f < 3; f++) free(b[f].p);
    cs_context_destroy(ctx);
}

/* Overwrite 8 bytes little-endian at offset. */
static void poke_u64(buf *b, size_t at, unsigned long long v) {
    for (int i = 0; i < 8; i++) b->p[at + (size_t)i] = (unsigned char)(v >> (8 * i));
}

TEST(colmap_bin_counts_that_lie) {
    cs_context *ctx = test_context(1);
    static const struct {
        int file;
        size_t at;
        unsigned long long value;
        const char *expect;
    } cases[] = {
        {0, 0, 1ULL << 60, "header says"},
        {1, 0, 1ULL << 60, "header says"},
        {2, 0, ~0ULL, "header says"},
        /* images.bin: image 0's 2D point count (after id, 7 doubles, camera id, "b.png\0") */
        {1, 8 + 4 + 56 + 4 + 6, 1ULL << 61, "2D points exceed the file"},
        /* points3D.bin: point 0's track length */
        {2, 8 + 8 + 24 + 3 + 8, 1ULL << 62, "track length"},
        /* cameras.bin: camera 0's width */
        {0, 8 + 8, 1ULL << 40, "out of range"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        buf b[3];
        build_bin(b);
        poke_u64(&b[cases[i].file], cases[i].at, cases[i].value);
        size_t lens[3] = {b[0].n, b[1].n, b[2].n};
        cs_camera_set *set;
        cs_status st = parse_bin(ctx, b, lens, &set);
        CHECK_MSG(st == CS_ERR_FORMAT && !set, "case %zu: %s", i, cs_status_string(st));
        CHECK_MSG(strstr(cs_context_last_error(ctx), cases[i].expect) != NULL, "case %zu: '%s'", i,
                  cs_context_last_error(ctx));
        for (int f = 0; f < 3; f++) free(b[f].p);
    }
    cs_context_destroy(ctx);
}

static cs_status parse_txt(cs_context *ctx, const char *c, const char *i, const char *p,
                           cs_camera_set **out) {
    return cs__colmap_parse(ctx, "model", false, (const uint8_t *)c, strlen(c), (const uint8_t *)i,
                            strlen(i), (const uint8_t *)p, p ? strlen(p) : 0, "imgs", out);
}

TEST(colmap_unsupported_and_malformed) {
    cs_context *ctx = test_context(1);
    const char *img = "1 1 0 0 0 0 0 0 1 x.png\n\n";
    static const struct {
        const char *cams, *imgs, *pts, *expect;
        cs_status status;
    } cases[] = {
        {"1 FULL_OPENCV 10 10 1 1 1 1 0 0 0 0 0 0 0 0\n", NULL, NULL,
         "camera model FULL_OPENCV is not supported", CS_ERR_UNSUPPORTED},
        {"1 PINHOLE 10 10 5 5 5\n", NULL, NULL, "model/cameras.txt:1: missing", CS_ERR_FORMAT},
        {"1 PINHOLE 10 10 5 5 5 5 9\n", NULL, NULL, "more parameters", CS_ERR_FORMAT},
        {"1 PINHOLE 10 10 -5 5 5 5\n", NULL, NULL, "invalid PINHOLE parameters", CS_ERR_FORMAT},
        {"1 PINHOLE 0 10 5 5 5 5\n", NULL, NULL, "out of range", CS_ERR_FORMAT},
        {"# c\n\n1 PINHOLE 10 10 5 5 5 nan\n", NULL, NULL, "cameras.txt:3", CS_ERR_FORMAT},
        {"1 PINHOLE 10 10 5 5 5 5\n1 PINHOLE 10 10 5 5 5 5\n", NULL, NULL, "appears twice",
         CS_ERR_FORMAT},
        {"1 PINHOLE 10 10 5 5 5 5\n", "1 1 0 0 0 0 0 0 2 x.png\n\n", NULL,
         "camera id 2 is not in cameras.txt", CS_ERR_FORMAT},
        {"1 PINHOLE 10 10 5 5 5 5\n", "1 1 0 0 0 0 0 0 1\n", NULL, "IMAGE_ID", CS_ERR_FORMAT},
        {"1 PINHOLE 10 10 5 5 5 5\n", "1 0 0 0 0 0 0 0 1 x.png\n", NULL, "invalid pose",
         CS_ERR_FORMAT},
        {"1 PINHOLE 10 10 5 5 5 5\n", "# none\n", NULL, "no registered images", CS_ERR_FORMAT},
        {"1 PINHOLE 10 10 5 5 5 5\n", NULL, "1 0 0 0 256 0 0 0\n", "points3D.txt:1", CS_ERR_FORMAT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cs_camera_set *set;
        cs_status st =
            parse_txt(ctx, cases[i].cams, cases[i].imgs ? cases[i].imgs : img, cases[i].pts, &set);
        CHECK_MSG(st == cases[i].status && !set, "case %zu: %s", i, cs_status_string(st));
        CHECK_MSG(strstr(cs_context_last_error(ctx), cases[i].expect) != NULL, "case %zu: '%s'", i,
                  cs_context_last_error(ctx));
    }
    /* Binary: a known but unsupported model id is named; an unknown one is malformed. */
    buf b[3];
    build_bin(b);
    b[0].p[8 + 4] = 6; /* camera 0's model id -> FULL_OPENCV */
    size_t lens[3] = {b[0].n, b[1].n, b[2].n};
    cs_camera_set *set;
    CHECK(parse_bin(ctx, b, lens, &set) == CS_ERR_UNSUPPORTED);
    CHECK(strstr(cs_context_last_error(ctx), "FULL_OPENCV") != NULL);
    b[0].p[8 + 4] = 99;
    CHECK(parse_bin(ctx, b, lens, &set) == CS_ERR_FORMAT);
    CHECK(strstr(cs_context_last_error(ctx), "unknown camera model id 99") != NULL);
    for (int f = 0; f < 3; f++) free(b[f].p);
    /* A model folder without images.* is a clean error naming the missing file. */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", test_tmp("colmap_noimages"));
    mkdir(dir, 0700);
    char path[4200];
    snprintf(path, sizeof path, "%s/cameras.txt", dir);
    CHECK(test_write_file(path, "1 PINHOLE 10 10 5 5 5 5\n", 24));
    CHECK(cs_camera_set_load(ctx, dir, &set) == CS_ERR_NOT_FOUND);
    CHECK(strstr(cs_context_last_error(ctx), "images.txt") != NULL);
    cs_context_destroy(ctx);
}

/* Pixel of world point x in cam with its OpenCV distortion (COLMAP's OpenCVCameraModel). */
static void project_distorted(const cs_camera *cam, const double x[3], double *u, double *v) {
    double q[3];
    for (int r = 0; r < 3; r++)
        q[r] = (double)cam->R[3 * r] * x[0] + (double)cam->R[3 * r + 1] * x[1] +
               (double)cam->R[3 * r + 2] * x[2] + (double)cam->t[r];
    double a = q[0] / q[2], b = q[1] / q[2], r2 = a * a + b * b;
    double k1 = cam->dist[0], k2 = cam->dist[1], p1 = cam->dist[2], p2 = cam->dist[3];
    double radial = 1 + k1 * r2 + k2 * r2 * r2;
    double xd = a * radial + 2 * p1 * a * b + p2 * (r2 + 2 * a * a);
    double yd = b * radial + p1 * (r2 + 2 * b * b) + 2 * p2 * a * b;
    *u = (double)cam->fx * xd + (double)cam->cx;
    *v = (double)cam->fy * yd + (double)cam->cy;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Reprojection check of a real model, read independently of the library: each 2D observation
 * in images.bin (x, y, point3D id) against its 3D point (points3D.bin, file order = the set's
 * order) projected through the loaded camera of the same image name. Returns the median error
 * in pixels and fills p90; -1 when the files cannot be read. */
static double reprojection_median(const cs_camera_set *set, const char *model, double *p90) {
    char path[4096];
    size_t ni, np;
    snprintf(path, sizeof path, "%s/images.bin", model);
    unsigned char *im = test_read_file(path, &ni);
    snprintf(path, sizeof path, "%s/points3D.bin", model);
    unsigned char *pt = test_read_file(path, &np);
    double median = -1;
    if (!im || !pt) goto done;
    const float *xyz;
    int64_t npts = cs_camera_set_points(set, &xyz, NULL);
    uint64_t *ids = malloc((size_t)npts * sizeof *ids);
    size_t at = 8;
    for (int64_t i = 0; i < npts; i++) { /* the point ids, in file order */
        ids[i] = cs__rd_u64le(pt + at);
        at += 51 + 8 * cs__rd_u64le(pt + at + 43);
    }
    double *err = NULL;
    size_t nerr = 0;
    uint64_t nimg = cs__rd_u64le(im);
    at = 8;
    for (uint64_t k = 0; k < nimg; k++) {
        const char *name = (const char *)im + at + 64;
        at += 64 + strlen(name) + 1;
        uint64_t n2 = cs__rd_u64le(im + at);
        at += 8;
        const cs_camera *cam = NULL;
        for (int64_t c = 0; c < cs_camera_set_count(set); c++)
            if (strcmp(cs_camera_set_name(set, c), name) == 0) cam = cs_camera_set_camera(set, c);
        err = realloc(err, (nerr + n2) * sizeof *err);
        for (uint64_t j = 0; cam && j < n2; j++, at += 24) {
            uint64_t id = cs__rd_u64le(im + at + 16);
            if (id == UINT64_MAX) continue; /* -1: no 3D point */
            int64_t lo = 0, hi = npts - 1;  /* ids are increasing in the file */
            while (lo < hi) {
                int64_t mid = (lo + hi) / 2;
                if (ids[mid] < id)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            if (ids[lo] != id) continue;
            double x[3] = {xyz[3 * lo], xyz[3 * lo + 1], xyz[3 * lo + 2]}, u, v;
            project_distorted(cam, x, &u, &v);
            err[nerr++] = hypot(u - cs__rd_f64le(im + at), v - cs__rd_f64le(im + at + 8));
        }
        if (!cam) at += 24 * n2;
    }
    if (nerr) {
        qsort(err, nerr, sizeof *err, cmp_double);
        median = err[nerr / 2];
        *p90 = err[nerr * 9 / 10];
    }
    free(err);
    free(ids);
done:
    free(im);
    free(pt);
    return median;
}

TEST(colmap_real_fox) {
    const char *p = test_data("fox_colmap/sparse/0/cameras.bin");
    if (!p) SKIP("../shared/data/fox_colmap absent");
    char dataset[2048], want[4096];
    snprintf(dataset, sizeof dataset, "%s", test_data("fox_colmap"));
    cs_context *ctx = test_context(1);
    cs_camera_set *set;
    CHECK_OK(ctx, cs_camera_set_load(ctx, dataset, &set));
    if (test_failures()) return;
    CHECK(cs_camera_set_source(set) == CS_CAMERAS_COLMAP_BIN);
    CHECK(cs_camera_set_count(set) == 50);
    const float *xyz;
    const uint8_t *rgb;
    int64_t np = cs_camera_set_points(set, &xyz, &rgb);
    CHECK(np == 13601);
    const cs_camera *c0 = cs_camera_set_camera(set, 0);
    CHECK(c0->model == CS_CAMERA_OPENCV && c0->width == 1080 && c0->height == 1920);
    CHECK(c0->dist[0] != 0 && c0->dist[4] == 0);
    CHECK(strcmp(cs_camera_set_name(set, 0), "0001.jpg") == 0);
    /* <dataset>/images/0001.jpg; where the images link was checked out as a text stub, the
     * folder it names (../instant_ngp_fox/images): either way an existing file of that name. */
    const char *img = cs_camera_set_image_path(set, 0);
    snprintf(want, sizeof want, "%s/", dataset);
    CHECK_MSG(img && strncmp(img, want, strlen(want)) == 0 &&
                  strcmp(cs__path_basename(img), "0001.jpg") == 0 && cs__file_exists(img),
              "image path %s", img ? img : "(null)");
    /* Poses, intrinsics and distortion together: COLMAP's own observations reproject. */
    char model[3000];
    snprintf(model, sizeof model, "%s/sparse/0", dataset);
    double p90 = 0, median = reprojection_median(set, model, &p90);
    CHECK_MSG(median >= 0 && median < 1.0 && p90 < 3.0,
              "reprojection error median %.3f px, 90th percentile %.3f px", median, p90);
    /* Coarser: of the points in front of each camera, most project inside its frame (measured
     * 0.73; with R transposed it drops to 0.24, with y and z flipped to 0). */
    int64_t in_front = 0, inside = 0;
    for (int64_t c = 0; c < cs_camera_set_count(set); c++) {
        const cs_camera *cam = cs_camera_set_camera(set, c);
        for (int64_t i = 0; i < np; i++) {
            const float *x = xyz + 3 * i;
            double q[3];
            for (int r = 0; r < 3; r++)
                q[r] = (double)cam->R[3 * r] * (double)x[0] +
                       (double)cam->R[3 * r + 1] * (double)x[1] +
                       (double)cam->R[3 * r + 2] * (double)x[2] + (double)cam->t[r];
            if (q[2] <= 0) continue;
            in_front++;
            double u = (double)cam->fx * q[0] / q[2] + (double)cam->cx;
            double v = (double)cam->fy * q[1] / q[2] + (double)cam->cy;
            inside += u >= 0 && u < cam->width && v >= 0 && v < cam->height;
        }
    }
    double frac = (double)inside / (double)in_front;
    test_note("fox_colmap: 50 cameras, %lld points, fx %.2f fy %.2f; reprojection median %.3f "
              "px, p90 %.3f px; %.1f%% of points in front of a camera project inside it",
              (long long)np, (double)c0->fx, (double)c0->fy, median, p90, 100 * frac);
    CHECK_MSG(frac > 0.65, "only %.3f of points in front project inside", frac);
    /* The same photos in transforms.json: different world frames, so compare intrinsics only. */
    const char *tj = test_data("instant_ngp_fox/transforms.json");
    cs_camera_set *ngp;
    if (tj && cs_camera_set_load(ctx, tj, &ngp) == CS_OK) {
        const cs_camera *n0 = cs_camera_set_camera(ngp, 0);
        CHECK(n0->width == c0->width && n0->height == c0->height);
        CHECK_MSG(fabs((double)(n0->fx / c0->fx) - 1) < 0.05 &&
                      fabs((double)(n0->fy / c0->fy) - 1) < 0.05,
                  "focal lengths: transforms.json %g %g, COLMAP %g %g", (double)n0->fx,
                  (double)n0->fy, (double)c0->fx, (double)c0->fy);
        cs_camera_set_destroy(ngp);
    }
    cs_camera_set_destroy(set);
    cs_context_destroy(ctx);
}

TEST(colmap_reports_allocation_failure) {
    cs_context *ctx = test_context(1);
    char *t[3];
    for (int i = 0; i < 3; i++) t[i] = build_txt(i);
    int nomem = 0;
    for (long n = 1; n < 200; n++) {
        cs_camera_set *set;
        cs__test_fail_alloc_after(n);
        cs_status st = parse_txt(ctx, t[0], t[1], t[2], &set);
        cs__test_fail_alloc_after(0);
        CHECK_MSG(st == CS_OK || (st == CS_ERR_NOMEM && set == NULL), "allocation %ld: %s", n,
                  cs_status_string(st));
        nomem += st == CS_ERR_NOMEM;
        cs_camera_set_destroy(set);
        if (st == CS_OK) break; /* past the last allocation */
    }
    CHECK(nomem >= 5 + 2 * N_IMGS); /* records, points, set, arrays, a name and path per image */
    for (int i = 0; i < 3; i++) free(t[i]);
    cs_context_destroy(ctx);
}
