/*
 * orbit.c - the default view of a scene and the turntable around it (cs_orbit_fit,
 * cs_orbit_camera, cs_orbit_frame). `csplat view` opens at angle 0; its scripted mode and
 * `csplat render --orbit N` put frame i at angle 2*pi*i/N through cs_orbit_frame, so a still from
 * either is the same camera, bit for bit.
 *
 * Fit (robust to the floaters and far background points real captures carry):
 * - center: the per-axis median of the finite means (lower median for even counts);
 * - radius: half the diagonal of the per-axis 5th..95th percentile box;
 * - up: with cameras, the normalised mean of their up axes (-row 1 of R: OpenCV y points down);
 *   without, the principal axis of least spread of the means inside that box (3x3 Jacobi
 *   eigen-decomposition in double), signed towards the longer tail of the points along it: ground
 *   scenes have most points near the floor and a long tail of trees, walls and objects above;
 * - start (the horizontal direction from center to the camera at angle 0): towards the first
 *   camera's centre when given; else the world axis least aligned with up, made perpendicular.
 * Percentiles use the nearest lower rank, floor(q * (n - 1)), found by quickselect.
 *
 * Camera at angle a: horizontal direction h = start cos a + (up x start) sin a (counter-clockwise
 * seen from above), eye = center + d (h cos(elevation) + up sin(elevation)), looking at center with
 * the image's -y along up. Focal length: the image's shorter side spans `fov`; d = radius /
 * sin(fov/2) so a sphere of that radius fits the shorter side. Square pixels, principal point at
 * the image centre, no distortion.
 *
 * Not done: scenes smaller than the rasterizer's near plane (0.2 world units) are not rescaled.
 */
#include "internal.h"

#include <math.h>
#include <string.h>

#define ORBIT_ELEVATION_DEG 25.0f
#define ORBIT_FOV_DEG 50.0f

/* k-th smallest of a[0..n) (0-based), reordering a. Hoare partition around a median-of-3 pivot;
 * expected O(n), deterministic. */
static float select_kth(float *a, size_t n, size_t k) {
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        float x = a[lo], y = a[mid], z = a[hi];
        float pivot = x < y ? (y < z ? y : (x < z ? z : x)) : (x < z ? x : (y < z ? z : y));
        size_t i = lo, j = hi;
        while (i <= j) {
            while (a[i] < pivot) i++;
            while (a[j] > pivot) j--;
            if (i <= j) {
                float t = a[i];
                a[i] = a[j];
                a[j] = t;
                i++;
                if (j == 0) break;
                j--;
            }
        }
        /* Now a[lo..j] <= pivot <= a[i..hi] and j < i. */
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            return a[k];
    }
    return a[k];
}

static float percentile(float *a, size_t n, double q) {
    return select_kth(a, n, (size_t)floor(q * (double)(n - 1)));
}

static void normalize3(float v[3]) {
    float len = sqrtf(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
    for (int i = 0; i < 3; i++) v[i] /= len;
}

static float dot3(const float a[3], const float b[3]) {
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

static void cross3(const float a[3], const float b[3], float out[3]) {
    float x = a[1] * b[2] - a[2] * b[1], y = a[2] * b[0] - a[0] * b[2],
          z = a[0] * b[1] - a[1] * b[0];
    out[0] = x;
    out[1] = y;
    out[2] = z;
}

/* Eigenvector of the smallest eigenvalue of a symmetric 3x3 matrix (cyclic Jacobi rotations). */
static void smallest_eigenvector(double m[3][3], float out[3]) {
    double v[3][3] = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}};
    for (int sweep = 0; sweep < 50; sweep++) {
        double off = m[0][1] * m[0][1] + m[0][2] * m[0][2] + m[1][2] * m[1][2];
        if (off < 1e-30) break;
        for (int p = 0; p < 2; p++) {
            for (int q = p + 1; q < 3; q++) {
                if (fabs(m[p][q]) < 1e-300) continue;
                /* Rotation zeroing m[p][q] (Golub & Van Loan, symmetric Schur 2x2). */
                double theta = (m[q][q] - m[p][p]) / (2.0 * m[p][q]);
                double t = (theta >= 0 ? 1.0 : -1.0) / (fabs(theta) + sqrt(theta * theta + 1.0));
                double c = 1.0 / sqrt(t * t + 1.0), s = t * c;
                for (int k = 0; k < 3; k++) {
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
    }
    int best = 0;
    for (int i = 1; i < 3; i++)
        if (m[i][i] < m[best][best]) best = i;
    for (int k = 0; k < 3; k++) out[k] = (float)v[k][best];
}

static bool finite3(const float *m) {
    return isfinite(m[0]) && isfinite(m[1]) && isfinite(m[2]);
}

static bool in_box(const float *m, const float lo[3], const float hi[3]) {
    return finite3(m) && m[0] >= lo[0] && m[0] <= hi[0] && m[1] >= lo[1] && m[1] <= hi[1] &&
           m[2] >= lo[2] && m[2] <= hi[2];
}

/* Up from the means: least-spread principal axis of the points inside the robust box, signed
 * towards the longer tail. scratch holds at least n floats. */
static void up_from_points(const float *means, size_t n, const float lo[3], const float hi[3],
                           const float center[3], float *scratch, float up[3]) {
    double cov[3][3] = {{0}};
    size_t inside = 0;
    for (size_t i = 0; i < n; i++) {
        const float *m = means + 3 * i;
        if (!in_box(m, lo, hi)) continue;
        double d[3] = {(double)(m[0] - center[0]), (double)(m[1] - center[1]),
                       (double)(m[2] - center[2])};
        for (int r = 0; r < 3; r++)
            for (int c = 0; c < 3; c++) cov[r][c] += d[r] * d[c];
        inside++;
    }
    if (inside < 3) {
        up[0] = 0, up[1] = -1, up[2] = 0; /* OpenCV's up when nothing better is known */
        return;
    }
    smallest_eigenvector(cov, up);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const float *m = means + 3 * i;
        if (!in_box(m, lo, hi)) continue;
        float d[3] = {m[0] - center[0], m[1] - center[1], m[2] - center[2]};
        scratch[k++] = dot3(d, up);
    }
    float p05 = percentile(scratch, k, 0.05), p95 = percentile(scratch, k, 0.95);
    float med = percentile(scratch, k, 0.5);
    if (p95 - med < med - p05)
        for (int a = 0; a < 3; a++) up[a] = -up[a];
}

cs_status cs_orbit_fit(cs_context *ctx, const cs_scene *scene, const cs_camera *cameras,
                       int64_t camera_count, cs_orbit *out) {
    memset(out, 0, sizeof *out);
    if (camera_count < 0 || (camera_count > 0 && !cameras))
        return cs__error(ctx, CS_ERR_ARGUMENT, "orbit: %lld cameras without an array",
                         (long long)camera_count);
    const float *means = scene->p.means;
    size_t n = (size_t)scene->p.count;
    out->elevation = ORBIT_ELEVATION_DEG * 3.14159265f / 180.0f;
    out->fov = ORBIT_FOV_DEG * 3.14159265f / 180.0f;
    out->radius = 1.0f;
    out->up[1] = -1.0f;

    size_t finite = 0;
    for (size_t i = 0; i < n; i++) finite += finite3(means + 3 * i);
    float lo[3] = {0}, hi[3] = {0};
    if (finite > 0) {
        float *v = cs__malloc(finite * sizeof *v);
        if (!v) return cs__alloc_error(ctx, "orbit", finite * sizeof *v);
        for (int a = 0; a < 3; a++) {
            size_t k = 0;
            for (size_t i = 0; i < n; i++)
                if (finite3(means + 3 * i)) v[k++] = means[3 * i + a];
            out->center[a] = percentile(v, finite, 0.5);
            lo[a] = percentile(v, finite, 0.05);
            hi[a] = percentile(v, finite, 0.95);
        }
        float diag[3] = {hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]};
        float r = 0.5f * sqrtf(dot3(diag, diag));
        /* One point, or all points on one spot: keep a unit radius so the camera stays off it. */
        if (r > 0 && isfinite(r)) out->radius = r;
        if (camera_count == 0) up_from_points(means, n, lo, hi, out->center, v, out->up);
        cs__free(v);
    }

    if (camera_count > 0) {
        float up[3] = {0};
        for (int64_t i = 0; i < camera_count; i++)
            for (int a = 0; a < 3; a++) up[a] -= cameras[i].R[3 + a];
        if (sqrtf(dot3(up, up)) > 1e-6f * (float)camera_count) {
            normalize3(up);
            memcpy(out->up, up, sizeof up);
        }
    }

    /* start: a horizontal unit vector; the first camera's direction when it is off the axis. */
    float start[3] = {0};
    if (camera_count > 0) {
        const float *R = cameras[0].R, *t = cameras[0].t;
        for (int a = 0; a < 3; a++)
            start[a] = -(R[a] * t[0] + R[3 + a] * t[1] + R[6 + a] * t[2]) - out->center[a];
    }
    float along = dot3(start, out->up);
    for (int a = 0; a < 3; a++) start[a] -= along * out->up[a];
    if (sqrtf(dot3(start, start)) <= 1e-4f * out->radius) {
        int axis = 0;
        for (int a = 1; a < 3; a++)
            if (fabsf(out->up[a]) < fabsf(out->up[axis])) axis = a;
        memset(start, 0, sizeof start);
        start[axis] = 1.0f;
        along = dot3(start, out->up);
        for (int a = 0; a < 3; a++) start[a] -= along * out->up[a];
    }
    normalize3(start);
    memcpy(out->start, start, sizeof start);
    return CS_OK;
}

cs_camera cs_orbit_camera(const cs_orbit *orbit, float angle, int width, int height) {
    cs_camera cam;
    memset(&cam, 0, sizeof cam);
    const float *up = orbit->up, *c = orbit->center;
    float side[3], h[3], eye[3];
    cross3(up, orbit->start, side);
    float half = 0.5f * orbit->fov;
    float d = orbit->radius / sinf(half);
    float ce = cosf(orbit->elevation), se = sinf(orbit->elevation);
    for (int a = 0; a < 3; a++) {
        h[a] = orbit->start[a] * cosf(angle) + side[a] * sinf(angle);
        eye[a] = c[a] + d * (h[a] * ce + up[a] * se);
    }
    /* OpenCV rows: right, down, forward with right = forward x up, down = forward x right. */
    float fwd[3] = {c[0] - eye[0], c[1] - eye[1], c[2] - eye[2]}, right[3], down[3];
    normalize3(fwd);
    cross3(fwd, up, right);
    normalize3(right);
    cross3(fwd, right, down);
    for (int a = 0; a < 3; a++) {
        cam.R[a] = right[a];
        cam.R[3 + a] = down[a];
        cam.R[6 + a] = fwd[a];
    }
    for (int r = 0; r < 3; r++) cam.t[r] = -dot3(cam.R + 3 * r, eye);
    int short_side = width < height ? width : height;
    cam.fx = cam.fy = 0.5f * (float)short_side / tanf(half);
    cam.cx = 0.5f * (float)width;
    cam.cy = 0.5f * (float)height;
    cam.width = width;
    cam.height = height;
    cam.model = CS_CAMERA_PINHOLE;
    return cam;
}

cs_camera cs_orbit_frame(const cs_orbit *orbit, int64_t i, int64_t n, int width, int height) {
    double angle = n > 0 ? 2.0 * 3.14159265358979323846 * (double)i / (double)n : 0.0;
    return cs_orbit_camera(orbit, (float)angle, width, height);
}
