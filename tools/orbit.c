/*
 * orbit.c - the turntable path of `csplat render --orbit` (see orbit.h). Robust statistics
 * (medians, a percentile) so a few far-away Gaussians or cameras do not move the circle; the
 * direction of least spread comes from a Jacobi eigen-decomposition of the means' 3x3 covariance.
 */
#include "orbit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* The q-quantile (0..1) of v[0..n), n > 0; sorts v. */
static double quantile(double *v, size_t n, double q) {
    qsort(v, n, sizeof *v, cmp_double);
    size_t k = (size_t)(q * (double)(n - 1) + 0.5);
    return v[k < n ? k : n - 1];
}

/* out = p - c, p in float */
static void diff3(const float *p, const double *c, double *out) {
    for (int k = 0; k < 3; k++) out[k] = (double)p[k] - c[k];
}

static double dot3(const double *a, const double *b) {
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

static void cross3(const double *a, const double *b, double *out) {
    out[0] = a[1] * b[2] - a[2] * b[1];
    out[1] = a[2] * b[0] - a[0] * b[2];
    out[2] = a[0] * b[1] - a[1] * b[0];
}

static bool normalize3(double *v) {
    double n = sqrt(dot3(v, v));
    if (!(n > 0) || !isfinite(n)) return false;
    for (int k = 0; k < 3; k++) v[k] /= n;
    return true;
}

/* Eigenvector of the smallest eigenvalue of the symmetric 3x3 matrix m (cyclic Jacobi). */
static void least_axis(double m[3][3], double out[3]) {
    double v[3][3] = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}};
    for (int sweep = 0; sweep < 50; sweep++) {
        double off = fabs(m[0][1]) + fabs(m[0][2]) + fabs(m[1][2]);
        if (off < 1e-15 * (fabs(m[0][0]) + fabs(m[1][1]) + fabs(m[2][2]))) break;
        for (int p = 0; p < 2; p++)
            for (int q = p + 1; q < 3; q++) {
                if (m[p][q] == 0) continue;
                double theta = 0.5 * atan2(2 * m[p][q], m[q][q] - m[p][p]);
                double c = cos(theta), s = sin(theta);
                for (int k = 0; k < 3; k++) { /* m = J^T m J with J the (p, q) rotation */
                    double mkp = m[k][p], mkq = m[k][q];
                    m[k][p] = c * mkp - s * mkq;
                    m[k][q] = s * mkp + c * mkq;
                }
                for (int k = 0; k < 3; k++) {
                    double mpk = m[p][k], mqk = m[q][k];
                    m[p][k] = c * mpk - s * mqk;
                    m[q][k] = s * mpk + c * mqk;
                }
                for (int k = 0; k < 3; k++) {
                    double vkp = v[k][p], vkq = v[k][q];
                    v[k][p] = c * vkp - s * vkq;
                    v[k][q] = s * vkp + c * vkq;
                }
            }
    }
    int best = 0;
    for (int k = 1; k < 3; k++)
        if (m[k][k] < m[best][best]) best = k;
    for (int k = 0; k < 3; k++) out[k] = v[k][best];
}

bool orbit_plan(cs_scene *scene, const cs_camera_set *cams, orbit_path *out) {
    memset(out, 0, sizeof *out);
    cs_scene_params p = cs_scene_get_params(scene);
    size_t n = 0, total = (size_t)p.count;
    double *buf = malloc((total ? total : 1) * sizeof *buf);
    if (!buf) return false;
    for (int axis = 0; axis < 3; axis++) {
        n = 0;
        for (size_t i = 0; i < total; i++) {
            const float *m = p.means + 3 * i;
            if (isfinite(m[0]) && isfinite(m[1]) && isfinite(m[2])) buf[n++] = (double)m[axis];
        }
        if (n == 0) {
            free(buf);
            return false;
        }
        out->center[axis] = quantile(buf, n, 0.5);
    }
    int64_t nc = cams ? cs_camera_set_count(cams) : 0;
    bool have_up = false;
    if (nc > 0) {
        double up[3] = {0, 0, 0};
        for (int64_t i = 0; i < nc; i++) {
            const cs_camera *c = cs_camera_set_camera(cams, i);
            for (int k = 0; k < 3; k++) up[k] -= (double)c->R[3 + k];
        }
        have_up = normalize3(up);
        memcpy(out->up, up, sizeof up);
    }
    if (!have_up) {
        double cov[3][3] = {{0}};
        for (size_t i = 0; i < total; i++) {
            const float *m = p.means + 3 * i;
            if (!(isfinite(m[0]) && isfinite(m[1]) && isfinite(m[2]))) continue;
            double d[3];
            diff3(m, out->center, d);
            for (int r = 0; r < 3; r++)
                for (int c = 0; c < 3; c++) cov[r][c] += d[r] * d[c];
        }
        least_axis(cov, out->up);
        /* The sign is a guess: point up the way of the axis's largest component. */
        int big = 0;
        for (int k = 1; k < 3; k++)
            if (fabs(out->up[k]) > fabs(out->up[big])) big = k;
        if (out->up[big] < 0)
            for (int k = 0; k < 3; k++) out->up[k] = -out->up[k];
    }
    /* a: any unit vector perpendicular to up; b = up x a */
    double seed[3] = {1, 0, 0};
    if (fabs(out->up[0]) > 0.9) seed[0] = 0, seed[1] = 1;
    cross3(out->up, seed, out->b);
    normalize3(out->b);
    cross3(out->b, out->up, out->a);

    if (nc > 0) {
        double *h = malloc((size_t)nc * sizeof *h), *r = malloc((size_t)nc * sizeof *r);
        if (!h || !r) {
            free(h);
            free(r);
            free(buf);
            return false;
        }
        for (int64_t i = 0; i < nc; i++) {
            float c[3];
            cs_camera_center(cs_camera_set_camera(cams, i), c);
            double d[3];
            diff3(c, out->center, d);
            h[i] = dot3(d, out->up);
            double da = dot3(d, out->a), db = dot3(d, out->b);
            r[i] = sqrt(da * da + db * db);
        }
        out->height = quantile(h, (size_t)nc, 0.5);
        out->radius = quantile(r, (size_t)nc, 0.5);
        free(h);
        free(r);
    }
    if (!(out->radius > 0)) {
        n = 0;
        for (size_t i = 0; i < total; i++) {
            const float *m = p.means + 3 * i;
            double d[3];
            diff3(m, out->center, d);
            double dist = sqrt(dot3(d, d));
            if (isfinite(dist)) buf[n++] = dist;
        }
        double spread = quantile(buf, n, 0.9), dist = 2.5 * (spread > 0 ? spread : 1.0);
        double elevation = 20.0 * 3.14159265358979 / 180.0;
        out->radius = dist * cos(elevation);
        out->height = dist * sin(elevation);
    }
    free(buf);
    return true;
}

cs_camera orbit_camera(const orbit_path *o, int64_t i, int64_t n, const cs_camera *lens) {
    cs_camera cam = *lens;
    double theta = 2 * 3.14159265358979323846 * (double)i / (double)(n > 0 ? n : 1);
    double eye[3], f[3], r[3], d[3];
    for (int k = 0; k < 3; k++)
        eye[k] = o->center[k] + o->height * o->up[k] +
                 o->radius * (cos(theta) * o->a[k] + sin(theta) * o->b[k]);
    for (int k = 0; k < 3; k++) f[k] = o->center[k] - eye[k];
    normalize3(f);
    cross3(f, o->up, r); /* OpenCV axes: right = forward x up, down = forward x right */
    if (!normalize3(r)) memcpy(r, o->a, sizeof r); /* looking along up: any right will do */
    cross3(f, r, d);
    for (int k = 0; k < 3; k++) {
        cam.R[k] = (float)r[k];
        cam.R[3 + k] = (float)d[k];
        cam.R[6 + k] = (float)f[k];
    }
    for (int row = 0; row < 3; row++) {
        const double *axis = row == 0 ? r : row == 1 ? d : f;
        cam.t[row] = (float)-dot3(axis, eye);
    }
    cam.model = CS_CAMERA_PINHOLE;
    memset(cam.dist, 0, sizeof cam.dist);
    return cam;
}
