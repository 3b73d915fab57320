/*
 * demo_dataset.c - a procedural scene ray-traced into a Blender/NeRF-synthetic style dataset:
 * train/r_N.png and test/r_N.png (RGBA, transparent background) plus transforms_train.json and
 * transforms_test.json (camera_angle_x, camera-to-world matrices in the OpenGL convention,
 * file_path without extension), exactly like the NeRF synthetic scenes.
 *
 * The scene (Blender's z-up world): a textured sphere (longitude stripes), a checkered box, a
 * banded cylinder and a checkered ground disc, lit by one directional light with hard shadows and
 * an ambient term. Each pixel averages a 3×3 grid of rays so edges are anti-aliased and alpha is
 * the covered fraction. Cameras sit on a hemisphere around the objects, looking at the centre;
 * the held-out cameras are interleaved in azimuth with the training ones.
 *
 * The scene is deliberately simple and cheap (a few ms per view at 200×200): it exists so
 * `csplat demo` and the end-to-end tests have ground truth with known poses and no data files.
 */
#include "internal.h"

#include <cJSON.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>

#define DEMO_PI 3.14159265358979323846

typedef struct vec3 {
    double x, y, z;
} vec3;

static vec3 v3(double x, double y, double z) {
    return (vec3){x, y, z};
}
static vec3 add(vec3 a, vec3 b) {
    return v3(a.x + b.x, a.y + b.y, a.z + b.z);
}
static vec3 sub(vec3 a, vec3 b) {
    return v3(a.x - b.x, a.y - b.y, a.z - b.z);
}
static vec3 mul(vec3 a, double s) {
    return v3(a.x * s, a.y * s, a.z * s);
}
static double dot(vec3 a, vec3 b) {
    return a.x * b.x + a.y * b.y + a.z * b.z;
}
static vec3 cross(vec3 a, vec3 b) {
    return v3(a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x);
}
static vec3 normalize(vec3 a) {
    return mul(a, 1.0 / sqrt(dot(a, a)));
}

/* The objects. */
static const vec3 sphere_c = {0.0, 0.1, 0.55};
static const double sphere_r = 0.55;
static const vec3 box_min = {0.45, -1.05, 0.0}, box_max = {1.15, -0.35, 0.7};
static const vec3 cyl_c = {-0.85, -0.55, 0.0};
static const double cyl_r = 0.3, cyl_h = 0.95;
static const double ground_r = 1.9;

typedef struct hit {
    double t;
    vec3 n;      /* unit normal */
    vec3 albedo; /* texture colour */
} hit;

static double checker(double a, double b, double period) {
    long i = (long)floor(a / period) + (long)floor(b / period);
    return (i & 1) ? 1.0 : 0.0;
}

static void hit_sphere(vec3 o, vec3 d, hit *h) {
    vec3 oc = sub(o, sphere_c);
    double b = dot(oc, d), c = dot(oc, oc) - sphere_r * sphere_r, disc = b * b - c;
    if (disc < 0) return;
    double t = -b - sqrt(disc);
    if (t <= 1e-6 || t >= h->t) return;
    vec3 p = add(o, mul(d, t)), n = normalize(sub(p, sphere_c));
    double lon = atan2(n.y, n.x), lat = asin(n.z);
    double stripe = checker(lon, 0.0, DEMO_PI / 6.0), band = checker(lat, 0.0, DEMO_PI / 5.0);
    h->t = t;
    h->n = n;
    h->albedo = stripe > 0 ? v3(0.9, 0.25, 0.15) : v3(0.95, 0.8, 0.2);
    if (band > 0) h->albedo = mul(h->albedo, 0.75);
}

static void hit_box(vec3 o, vec3 d, hit *h) {
    double tmin = -INFINITY, tmax = INFINITY;
    int axis = -1;
    double lo[3] = {box_min.x, box_min.y, box_min.z}, hi[3] = {box_max.x, box_max.y, box_max.z};
    double oo[3] = {o.x, o.y, o.z}, dd[3] = {d.x, d.y, d.z};
    for (int a = 0; a < 3; a++) {
        if (fabs(dd[a]) < 1e-12) {
            if (oo[a] < lo[a] || oo[a] > hi[a]) return;
            continue;
        }
        double t0 = (lo[a] - oo[a]) / dd[a], t1 = (hi[a] - oo[a]) / dd[a];
        if (t0 > t1) {
            double s = t0;
            t0 = t1;
            t1 = s;
        }
        if (t0 > tmin) tmin = t0, axis = a;
        if (t1 < tmax) tmax = t1;
    }
    if (tmin > tmax || tmin <= 1e-6 || tmin >= h->t || axis < 0) return;
    vec3 p = add(o, mul(d, tmin));
    double n[3] = {0, 0, 0};
    n[axis] = dd[axis] > 0 ? -1 : 1;
    double pp[3] = {p.x, p.y, p.z};
    int u = (axis + 1) % 3, v = (axis + 2) % 3;
    h->t = tmin;
    h->n = v3(n[0], n[1], n[2]);
    h->albedo = checker(pp[u], pp[v], 0.175) > 0 ? v3(0.15, 0.3, 0.85) : v3(0.92, 0.92, 0.95);
}

static void hit_cylinder(vec3 o, vec3 d, hit *h) {
    double ox = o.x - cyl_c.x, oy = o.y - cyl_c.y;
    double a = d.x * d.x + d.y * d.y, b = ox * d.x + oy * d.y, c = ox * ox + oy * oy - cyl_r * cyl_r;
    if (a > 1e-12) {
        double disc = b * b - a * c;
        if (disc >= 0) {
            double t = (-b - sqrt(disc)) / a;
            double z = o.z + t * d.z;
            if (t > 1e-6 && t < h->t && z >= 0 && z <= cyl_h) {
                vec3 p = add(o, mul(d, t));
                h->t = t;
                h->n = normalize(v3(p.x - cyl_c.x, p.y - cyl_c.y, 0));
                h->albedo = checker(z, 0.0, 0.12) > 0 ? v3(0.2, 0.7, 0.3) : v3(0.1, 0.4, 0.15);
            }
        }
    }
    if (fabs(d.z) > 1e-12) { /* top cap */
        double t = (cyl_h - o.z) / d.z;
        vec3 p = add(o, mul(d, t));
        double rx = p.x - cyl_c.x, ry = p.y - cyl_c.y;
        if (t > 1e-6 && t < h->t && rx * rx + ry * ry <= cyl_r * cyl_r) {
            h->t = t;
            h->n = v3(0, 0, d.z > 0 ? -1 : 1);
            h->albedo = v3(0.85, 0.85, 0.3);
        }
    }
}

static void hit_ground(vec3 o, vec3 d, hit *h) {
    if (fabs(d.z) < 1e-12) return;
    double t = -o.z / d.z;
    if (t <= 1e-6 || t >= h->t) return;
    vec3 p = add(o, mul(d, t));
    if (p.x * p.x + p.y * p.y > ground_r * ground_r) return;
    h->t = t;
    h->n = v3(0, 0, d.z > 0 ? -1 : 1);
    h->albedo = checker(p.x, p.y, 0.3) > 0 ? v3(0.55, 0.55, 0.55) : v3(0.3, 0.3, 0.32);
}

static bool trace(vec3 o, vec3 d, hit *h) {
    h->t = INFINITY;
    hit_sphere(o, d, h);
    hit_box(o, d, h);
    hit_cylinder(o, d, h);
    hit_ground(o, d, h);
    return isfinite(h->t);
}

/* Colour of one ray; false when it misses everything (transparent). */
static bool shade(vec3 o, vec3 d, vec3 *rgb) {
    static const vec3 light = {0.4444, 0.3333, 0.8315}; /* unit vector towards the light */
    hit h;
    if (!trace(o, d, &h)) return false;
    vec3 p = add(o, mul(d, h.t));
    double lambert = dot(h.n, light);
    if (lambert > 0) {
        hit s;
        if (trace(add(p, mul(h.n, 1e-6)), light, &s)) lambert = 0; /* in shadow */
    }
    double light_amount = 0.35 + 0.65 * (lambert > 0 ? lambert : 0);
    *rgb = mul(h.albedo, light_amount);
    return true;
}

typedef struct demo_view {
    vec3 eye, right, up, back; /* camera-to-world axes, OpenGL: looks down -back */
} demo_view;

static demo_view view_at(double azimuth, double elevation, double radius) {
    vec3 target = v3(0, -0.2, 0.35);
    vec3 eye = add(target, v3(radius * cos(elevation) * cos(azimuth),
                              radius * cos(elevation) * sin(azimuth), radius * sin(elevation)));
    vec3 fwd = normalize(sub(target, eye));
    vec3 right = normalize(cross(fwd, v3(0, 0, 1)));
    vec3 up = cross(right, fwd);
    return (demo_view){eye, right, up, mul(fwd, -1)};
}

static cs_status render_view(cs_context *ctx, const demo_view *v, int size, double focal,
                             const char *path) {
    cs_image img;
    cs_status st = cs_image_alloc(ctx, size, size, 4, &img);
    if (st != CS_OK) return st;
    const int ss = 3; /* ss × ss rays per pixel */
    for (int y = 0; y < size; y++) {
        for (int x = 0; x < size; x++) {
            vec3 acc = v3(0, 0, 0);
            int covered = 0;
            for (int sy = 0; sy < ss; sy++) {
                for (int sx = 0; sx < ss; sx++) {
                    double u = x + (sx + 0.5) / ss, w = y + (sy + 0.5) / ss;
                    double cxp = (u - 0.5 * size) / focal, cyp = -(w - 0.5 * size) / focal;
                    vec3 d = normalize(add(add(mul(v->right, cxp), mul(v->up, cyp)),
                                           mul(v->back, -1.0)));
                    vec3 rgb;
                    if (shade(v->eye, d, &rgb)) {
                        acc = add(acc, rgb);
                        covered++;
                    }
                }
            }
            float *p = img.data + ((size_t)y * (size_t)size + (size_t)x) * 4;
            /* Straight (not premultiplied) alpha, as PNG stores it. */
            if (covered) {
                p[0] = (float)(acc.x / covered);
                p[1] = (float)(acc.y / covered);
                p[2] = (float)(acc.z / covered);
            }
            p[3] = (float)covered / (float)(ss * ss);
        }
    }
    st = cs_image_save_png(ctx, &img, path, 8);
    cs_image_free(&img);
    return st;
}

static cJSON *matrix_json(const demo_view *v) {
    double m[4][4] = {{v->right.x, v->up.x, v->back.x, v->eye.x},
                      {v->right.y, v->up.y, v->back.y, v->eye.y},
                      {v->right.z, v->up.z, v->back.z, v->eye.z},
                      {0, 0, 0, 1}};
    cJSON *rows = cJSON_CreateArray();
    for (int r = 0; r < 4; r++) cJSON_AddItemToArray(rows, cJSON_CreateDoubleArray(m[r], 4));
    return rows;
}

static cs_status write_json(cs_context *ctx, cJSON *doc, const char *path) {
    char *text = cJSON_Print(doc);
    if (!text) return cs__alloc_error(ctx, path, 0);
    cs_outfile of;
    cs_status st = cs__outfile_open(ctx, path, &of);
    if (st == CS_OK) st = cs__outfile_write(ctx, &of, text, strlen(text));
    if (st == CS_OK) st = cs__outfile_commit(ctx, &of);
    else cs__outfile_abort(&of);
    cJSON_free(text);
    return st;
}

static cs_status make_dir(cs_context *ctx, const char *path) {
    if (mkdir(path, 0755) != 0 && !cs__dir_exists(path))
        return cs__error(ctx, CS_ERR_IO, "%s: cannot create folder", path);
    return CS_OK;
}

cs_status cs_demo_dataset_write(cs_context *ctx, const char *dir, int train_views, int test_views,
                                int size) {
    if (train_views < 1 || test_views < 0 || train_views + test_views > 10000 || size < 8 ||
        size > 4096)
        return cs__error(ctx, CS_ERR_ARGUMENT,
                         "%s: demo dataset needs 1..10000 views of 8..4096 pixels", dir);
    const double fov = 0.6911112070083618; /* the NeRF synthetic scenes' camera_angle_x */
    const double focal = 0.5 * size / tan(0.5 * fov);
    cs_status st = make_dir(ctx, dir);
    for (int split = 0; split < 2 && st == CS_OK; split++) {
        const char *name = split ? "test" : "train";
        int count = split ? test_views : train_views;
        char folder[4096], file[4200];
        snprintf(folder, sizeof folder, "%s/%s", dir, name);
        if ((st = make_dir(ctx, folder)) != CS_OK) break;
        cJSON *doc = cJSON_CreateObject(), *frames = cJSON_AddArrayToObject(doc, "frames");
        cJSON_AddNumberToObject(doc, "camera_angle_x", fov);
        for (int i = 0; i < count && st == CS_OK; i++) {
            /* Training views on a golden-angle spiral over the upper hemisphere; held-out views
             * halfway between consecutive training azimuths so they are true novel views. */
            double f = (i + (split ? 0.5 : 0.0)) / (double)count;
            double azimuth = 2.0 * DEMO_PI * (split ? f : fmod(i * 0.381966, 1.0));
            double elevation = 0.25 + 0.75 * (split ? 0.5 : f);
            demo_view v = view_at(azimuth, elevation, 4.2);
            snprintf(file, sizeof file, "%s/r_%d.png", folder, i);
            st = render_view(ctx, &v, size, focal, file);
            cJSON *frame = cJSON_CreateObject();
            snprintf(file, sizeof file, "./%s/r_%d", name, i);
            cJSON_AddStringToObject(frame, "file_path", file);
            cJSON_AddItemToObject(frame, "transform_matrix", matrix_json(&v));
            cJSON_AddItemToArray(frames, frame);
        }
        snprintf(file, sizeof file, "%s/transforms_%s.json", dir, name);
        if (st == CS_OK) st = write_json(ctx, doc, file);
        cJSON_Delete(doc);
    }
    return st;
}
