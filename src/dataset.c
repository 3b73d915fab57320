/*
 * dataset.c - cs_dataset: posed photos made ready for training and evaluation.
 *
 * Loading order per view: decode the image; composite alpha over the background (white for
 * Blender data, as 3DGS does with --white_background; black otherwise); undistort OpenCV-model
 * cameras to pinhole with the same fx, fy, cx, cy (bilinear resampling, edge pixels replicated
 * where the distorted source falls outside the photo); downscale by an integer factor K with a
 * K×K box average (area averaging), dividing fx, fy, cx, cy by K — with pixel centres at +0.5 a
 * point at u in the full image lands at u/K in the small one, so this is exact.
 *
 * Held-out views (hold_out set): those of transforms_test.json when the folder has one (Blender
 * data), else every 8th view in name order starting with the first (3DGS's llffhold = 8).
 * Scene extent follows 3DGS's getNerfppNorm: centre = mean camera centre, radius = 1.1 × the
 * largest distance of a camera centre from it.
 *
 * Not done here: any colour management (8-bit values are used as they are), cropping of the
 * undistorted image to its valid region (COLMAP's undistorter does this; we keep the frame).
 */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct cs_dataset {
    cs_context *ctx;
    int64_t count;
    cs_camera *cameras;      /* [count] pinhole, at the loaded size */
    cs_image *images;        /* [count] RGB */
    char **names;            /* [count] path relative to the dataset folder */
    unsigned char *held_out; /* [count] */
    float background[3];
    float centre[3], radius;
    float *points;           /* [n_points, 3] */
    uint8_t *colors;         /* [n_points, 3] */
    int64_t n_points;
};

/* One view before loading: which set it comes from and whether it is held out. */
typedef struct view_ref {
    const cs_camera_set *set;
    int64_t index;
    const char *name; /* borrowed from the set */
    int held_out;
} view_ref;

static int cmp_view_name(const void *a, const void *b) {
    return strcmp(((const view_ref *)a)->name, ((const view_ref *)b)->name);
}

void cs_dataset_destroy(cs_dataset *ds) {
    if (!ds) return;
    for (int64_t i = 0; i < ds->count; i++) {
        if (ds->images) cs_image_free(&ds->images[i]);
        if (ds->names) cs__free(ds->names[i]);
    }
    cs__free(ds->cameras);
    cs__free(ds->images);
    cs__free(ds->names);
    cs__free(ds->held_out);
    cs__free(ds->points);
    cs__free(ds->colors);
    cs__free(ds);
}

/* The name of a view: its image path relative to the dataset folder when it lies inside it,
 * else the set's name. Unique across a Blender train/test pair ("train/r_0.png"). */
static char *view_name(const char *root, const cs_camera_set *set, int64_t i) {
    const char *path = cs_camera_set_image_path(set, i);
    size_t n = strlen(root);
    if (path && strncmp(path, root, n) == 0 && path[n] == '/') {
        path += n + 1;
        while (path[0] == '.' && path[1] == '/') path += 2; /* "./train/r_0" in Blender files */
        return cs__strdup(path);
    }
    return cs__strdup(cs_camera_set_name(set, i));
}

/* ---- pixel work (threaded over rows) ---- */

typedef struct composite_job {
    const cs_image *src; /* any channel count */
    cs_image *dst;       /* RGB, same size */
    float bg[3];
} composite_job;

static void composite_rows(void *user, int64_t begin, int64_t end, int worker) {
    (void)worker;
    const composite_job *job = user;
    const cs_image *s = job->src;
    int w = s->width, c = s->channels;
    for (int64_t y = begin; y < end; y++) {
        for (int x = 0; x < w; x++) {
            const float *p = s->data + ((size_t)y * (size_t)w + (size_t)x) * (size_t)c;
            float *q = job->dst->data + ((size_t)y * (size_t)w + (size_t)x) * 3;
            float rgb[3], a = 1.0f;
            if (c >= 3) {
                rgb[0] = p[0], rgb[1] = p[1], rgb[2] = p[2];
                if (c == 4) a = p[3];
            } else {
                rgb[0] = rgb[1] = rgb[2] = p[0];
                if (c == 2) a = p[1];
            }
            for (int k = 0; k < 3; k++) q[k] = rgb[k] * a + job->bg[k] * (1.0f - a);
        }
    }
}

typedef struct undistort_job {
    const cs_image *src; /* RGB */
    cs_image *dst;       /* RGB, same size */
    const cs_camera *cam;
} undistort_job;

/* Bilinear sample of an RGB image at continuous pixel coordinates (u, v) where pixel (x, y) has
 * its centre at (x + 0.5, y + 0.5); coordinates outside are clamped to the border. */
static void sample_bilinear(const cs_image *img, float u, float v, float out[3]) {
    float fx = u - 0.5f, fy = v - 0.5f;
    float maxx = (float)(img->width - 1), maxy = (float)(img->height - 1);
    fx = fx < 0 ? 0 : fx > maxx ? maxx : fx;
    fy = fy < 0 ? 0 : fy > maxy ? maxy : fy;
    int x0 = (int)fx, y0 = (int)fy;
    int x1 = x0 + 1 < img->width ? x0 + 1 : x0, y1 = y0 + 1 < img->height ? y0 + 1 : y0;
    float ax = fx - (float)x0, ay = fy - (float)y0;
    size_t w = (size_t)img->width;
    const float *p00 = img->data + ((size_t)y0 * w + (size_t)x0) * 3;
    const float *p01 = img->data + ((size_t)y0 * w + (size_t)x1) * 3;
    const float *p10 = img->data + ((size_t)y1 * w + (size_t)x0) * 3;
    const float *p11 = img->data + ((size_t)y1 * w + (size_t)x1) * 3;
    for (int k = 0; k < 3; k++)
        out[k] = (1 - ay) * ((1 - ax) * p00[k] + ax * p01[k]) + ay * ((1 - ax) * p10[k] + ax * p11[k]);
}

/* OpenCV's distortion of normalised image coordinates (k1, k2, p1, p2, k3). */
static void distort(const float d[5], float x, float y, float *xd, float *yd) {
    float r2 = x * x + y * y;
    float radial = 1.0f + r2 * (d[0] + r2 * (d[1] + r2 * d[4]));
    *xd = x * radial + 2.0f * d[2] * x * y + d[3] * (r2 + 2.0f * x * x);
    *yd = y * radial + d[2] * (r2 + 2.0f * y * y) + 2.0f * d[3] * x * y;
}

static void undistort_rows(void *user, int64_t begin, int64_t end, int worker) {
    (void)worker;
    const undistort_job *job = user;
    const cs_camera *c = job->cam;
    int w = job->dst->width;
    for (int64_t y = begin; y < end; y++) {
        for (int x = 0; x < w; x++) {
            float xn = ((float)x + 0.5f - c->cx) / c->fx, yn = ((float)y + 0.5f - c->cy) / c->fy;
            float xd, yd;
            distort(c->dist, xn, yn, &xd, &yd);
            sample_bilinear(job->src, c->fx * xd + c->cx, c->fy * yd + c->cy,
                            job->dst->data + ((size_t)y * (size_t)w + (size_t)x) * 3);
        }
    }
}

typedef struct downscale_job {
    const cs_image *src;
    cs_image *dst;
    int k;
} downscale_job;

static void downscale_rows(void *user, int64_t begin, int64_t end, int worker) {
    (void)worker;
    const downscale_job *job = user;
    int k = job->k, w = job->dst->width;
    size_t sw = (size_t)job->src->width;
    float inv = 1.0f / (float)(k * k);
    for (int64_t y = begin; y < end; y++) {
        for (int x = 0; x < w; x++) {
            float acc[3] = {0, 0, 0};
            for (int dy = 0; dy < k; dy++) {
                const float *row = job->src->data + ((size_t)(y * k + dy) * sw + (size_t)x * (size_t)k) * 3;
                for (int dx = 0; dx < k; dx++)
                    for (int ch = 0; ch < 3; ch++) acc[ch] += row[3 * dx + ch];
            }
            float *q = job->dst->data + ((size_t)y * (size_t)w + (size_t)x) * 3;
            for (int ch = 0; ch < 3; ch++) q[ch] = acc[ch] * inv;
        }
    }
}

static bool has_distortion(const cs_camera *c) {
    if (c->model == CS_CAMERA_PINHOLE) return false;
    for (int i = 0; i < 5; i++)
        if (c->dist[i] != 0.0f) return true;
    return false;
}

/* Load view v's image into ds->images[i] and its adjusted camera into ds->cameras[i]. */
static cs_status load_view(cs_dataset *ds, const view_ref *v, int64_t i, int downscale) {
    cs_context *ctx = ds->ctx;
    const char *path = cs_camera_set_image_path(v->set, v->index);
    if (!path) return cs__error(ctx, CS_ERR_FORMAT, "%s: view has no image file", v->name);
    cs_camera cam = *cs_camera_set_camera(v->set, v->index);
    cs_image raw = {0}, rgb = {0}, tmp = {0};
    cs_status st = cs_image_load(ctx, path, &raw);
    if (st != CS_OK) return st;
    if (raw.width != cam.width || raw.height != cam.height) {
        st = cs__error(ctx, CS_ERR_FORMAT, "%s: image is %dx%d but its camera says %dx%d", path,
                       raw.width, raw.height, cam.width, cam.height);
        goto done;
    }
    if ((st = cs_image_alloc(ctx, raw.width, raw.height, 3, &rgb)) != CS_OK) goto done;
    composite_job cj = {&raw, &rgb, {ds->background[0], ds->background[1], ds->background[2]}};
    cs__parallel_for(ctx, raw.height, 16, composite_rows, &cj);
    cs_image_free(&raw);
    if (has_distortion(&cam)) {
        if ((st = cs_image_alloc(ctx, rgb.width, rgb.height, 3, &tmp)) != CS_OK) goto done;
        undistort_job uj = {&rgb, &tmp, &cam};
        cs__parallel_for(ctx, rgb.height, 16, undistort_rows, &uj);
        cs_image_free(&rgb);
        rgb = tmp;
        tmp = (cs_image){0};
    }
    cam.model = CS_CAMERA_PINHOLE;
    memset(cam.dist, 0, sizeof cam.dist);
    if (downscale > 1) {
        int w = rgb.width / downscale, h = rgb.height / downscale;
        if (w < 1 || h < 1) {
            st = cs__error(ctx, CS_ERR_ARGUMENT, "%s: %dx%d is too small for downscale %d", path,
                           rgb.width, rgb.height, downscale);
            goto done;
        }
        if ((st = cs_image_alloc(ctx, w, h, 3, &tmp)) != CS_OK) goto done;
        downscale_job dj = {&rgb, &tmp, downscale};
        cs__parallel_for(ctx, h, 8, downscale_rows, &dj);
        cs_image_free(&rgb);
        rgb = tmp;
        tmp = (cs_image){0};
        float k = (float)downscale;
        cam.fx /= k, cam.fy /= k, cam.cx /= k, cam.cy /= k;
        cam.width = w, cam.height = h;
    }
    ds->images[i] = rgb;
    ds->cameras[i] = cam;
    rgb = (cs_image){0};
done:
    cs_image_free(&raw);
    cs_image_free(&rgb);
    cs_image_free(&tmp);
    return st;
}

static void compute_extent(cs_dataset *ds) {
    double mean[3] = {0, 0, 0};
    for (int64_t i = 0; i < ds->count; i++) {
        float c[3];
        cs_camera_center(&ds->cameras[i], c);
        for (int k = 0; k < 3; k++) mean[k] += (double)c[k] / (double)ds->count;
    }
    double far = 0;
    for (int64_t i = 0; i < ds->count; i++) {
        float c[3];
        cs_camera_center(&ds->cameras[i], c);
        double d2 = 0;
        for (int k = 0; k < 3; k++) d2 += ((double)c[k] - mean[k]) * ((double)c[k] - mean[k]);
        if (d2 > far) far = d2;
    }
    for (int k = 0; k < 3; k++) ds->centre[k] = (float)mean[k];
    ds->radius = (float)(1.1 * sqrt(far));
}

static cs_status copy_points(cs_dataset *ds, const cs_camera_set *set) {
    const float *xyz;
    const uint8_t *rgb;
    int64_t n = cs_camera_set_points(set, &xyz, &rgb);
    if (n <= 0) return CS_OK;
    ds->points = cs__malloc((size_t)n * 3 * sizeof(float));
    ds->colors = cs__malloc((size_t)n * 3);
    if (!ds->points || !ds->colors) return cs__alloc_error(ds->ctx, "dataset points", (size_t)n * 15);
    memcpy(ds->points, xyz, (size_t)n * 3 * sizeof(float));
    memcpy(ds->colors, rgb, (size_t)n * 3);
    ds->n_points = n;
    return CS_OK;
}

cs_status cs_dataset_load(cs_context *ctx, const char *path, const cs_dataset_desc *desc,
                          cs_dataset **out) {
    cs_dataset_desc d = desc ? *desc : (cs_dataset_desc){0};
    *out = NULL;
    int downscale = d.downscale ? d.downscale : 1;
    if (downscale < 1 || downscale > 64)
        return cs__error(ctx, CS_ERR_ARGUMENT, "%s: downscale %d is not in 1..64", path, downscale);
    if (d.max_images < 0)
        return cs__error(ctx, CS_ERR_ARGUMENT, "%s: negative max_images", path);

    /* Blender data ships its held-out views in a separate file. */
    cs_camera_set *train = NULL, *test = NULL;
    char *root = NULL, *train_json = NULL, *test_json = NULL;
    view_ref *views = NULL;
    cs_dataset *ds = NULL;
    cs_status st = CS_OK;
    bool is_dir = cs__dir_exists(path);
    root = is_dir ? cs__strdup(path) : cs__path_dirname(path);
    if (!root) return cs__alloc_error(ctx, path, strlen(path));
    if (is_dir) {
        train_json = cs__path_join(path, "transforms_train.json");
        test_json = cs__path_join(path, "transforms_test.json");
        if (!train_json || !test_json) {
            st = cs__alloc_error(ctx, path, strlen(path));
            goto fail;
        }
    }
    bool split_file = is_dir && cs__file_exists(train_json) && cs__file_exists(test_json);
    st = cs_camera_set_load(ctx, split_file ? train_json : path, &train);
    /* Without hold-out, the test views train too (3DGS does the same without --eval). */
    if (st == CS_OK && split_file) st = cs_camera_set_load(ctx, test_json, &test);
    if (st != CS_OK) goto fail;

    int64_t n_train = cs_camera_set_count(train), n_test = test ? cs_camera_set_count(test) : 0;
    int64_t n = n_train + n_test;
    if (n == 0) {
        st = cs__error(ctx, CS_ERR_FORMAT, "%s: the dataset has no views", path);
        goto fail;
    }
    views = cs__calloc((size_t)n, sizeof *views);
    ds = cs__calloc(1, sizeof *ds);
    if (!views || !ds) {
        st = cs__alloc_error(ctx, path, (size_t)n * sizeof *views);
        goto fail;
    }
    for (int64_t i = 0; i < n_train; i++)
        views[i] = (view_ref){train, i, cs_camera_set_name(train, i), 0};
    for (int64_t i = 0; i < n_test; i++)
        views[n_train + i] = (view_ref){test, i, cs_camera_set_name(test, i), d.hold_out != 0};
    if (!split_file) {
        qsort(views, (size_t)n, sizeof *views, cmp_view_name);
        if (d.hold_out)
            for (int64_t i = 0; i < n; i++) views[i].held_out = i % 8 == 0;
    }
    if (d.max_images > 0 && d.max_images < n) n = d.max_images;

    ds->ctx = ctx;
    bool blender = cs_camera_set_source(train) == CS_CAMERAS_TRANSFORMS_BLENDER;
    for (int k = 0; k < 3; k++)
        ds->background[k] = d.background_set ? d.background[k] : blender ? 1.0f : 0.0f;
    ds->cameras = cs__calloc((size_t)n, sizeof *ds->cameras);
    ds->images = cs__calloc((size_t)n, sizeof *ds->images);
    ds->names = cs__calloc((size_t)n, sizeof *ds->names);
    ds->held_out = cs__calloc((size_t)n, 1);
    if (!ds->cameras || !ds->images || !ds->names || !ds->held_out) {
        st = cs__alloc_error(ctx, path, (size_t)n * sizeof *ds->images);
        goto fail;
    }
    for (int64_t i = 0; i < n; i++) {
        ds->count = i + 1; /* what destroy must free on failure */
        ds->names[i] = view_name(root, views[i].set, views[i].index);
        if (!ds->names[i]) {
            st = cs__alloc_error(ctx, path, 256);
            goto fail;
        }
        ds->held_out[i] = (unsigned char)views[i].held_out;
        if ((st = load_view(ds, &views[i], i, downscale)) != CS_OK) goto fail;
    }
    compute_extent(ds);
    if ((st = copy_points(ds, train)) != CS_OK) goto fail;
    *out = ds;
    ds = NULL;
fail:
    cs_dataset_destroy(ds);
    cs__free(views);
    cs_camera_set_destroy(train);
    cs_camera_set_destroy(test);
    cs__free(root);
    cs__free(train_json);
    cs__free(test_json);
    return st;
}

int64_t cs_dataset_count(const cs_dataset *ds) {
    return ds->count;
}

const cs_camera *cs_dataset_camera(const cs_dataset *ds, int64_t i) {
    return i >= 0 && i < ds->count ? &ds->cameras[i] : NULL;
}

const cs_image *cs_dataset_image(const cs_dataset *ds, int64_t i) {
    return i >= 0 && i < ds->count ? &ds->images[i] : NULL;
}

const char *cs_dataset_name(const cs_dataset *ds, int64_t i) {
    return i >= 0 && i < ds->count ? ds->names[i] : "";
}

int cs_dataset_is_held_out(const cs_dataset *ds, int64_t i) {
    return i >= 0 && i < ds->count ? ds->held_out[i] : 0;
}

void cs_dataset_background(const cs_dataset *ds, float out[3]) {
    memcpy(out, ds->background, sizeof ds->background);
}

void cs_dataset_extent(const cs_dataset *ds, float centre[3], float *radius) {
    memcpy(centre, ds->centre, sizeof ds->centre);
    *radius = ds->radius;
}

int64_t cs_dataset_points(const cs_dataset *ds, const float **xyz, const uint8_t **rgb) {
    if (xyz) *xyz = ds->points;
    if (rgb) *rgb = ds->colors;
    return ds->n_points;
}
