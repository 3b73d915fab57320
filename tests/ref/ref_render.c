/*
 * ref_render.c - float64 naive 3DGS forward pass (see ref_render.h). Written as plainly as
 * possible: full 3x3 matrices, every Gaussian sorted by depth, every pixel composited front to
 * back with the reference's cut-offs.
 *
 * Loop order: the definition is "each pixel walks all Gaussians in depth order". The code runs
 * Gaussians in the outer loop (depth order) and pixels inside, keeping each pixel's T, colour
 * and done flag in arrays; every pixel still sees the same Gaussians in the same order, so the
 * result is the same, and a Gaussian's pixels can be limited to its tile rectangle, which is
 * what makes the garden scene (138k Gaussians) affordable.
 */
#include "ref_render.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct mat3 {
    double m[3][3];
} mat3;

static mat3 mat_mul(mat3 a, mat3 b) {
    mat3 r;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            r.m[i][j] = 0;
            for (int k = 0; k < 3; k++) r.m[i][j] += a.m[i][k] * b.m[k][j];
        }
    return r;
}

static mat3 mat_t(mat3 a) {
    mat3 r;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) r.m[i][j] = a.m[j][i];
    return r;
}

/* Rotation of the unit quaternion q / |q| (w, x, y, z); identity for q = 0. */
static mat3 quat_rotation(const float *qf) {
    double w = (double)qf[0], x = (double)qf[1], y = (double)qf[2], z = (double)qf[3];
    double n = sqrt(w * w + x * x + y * y + z * z);
    if (n > 0) {
        w /= n;
        x /= n;
        y /= n;
        z /= n;
    }
    mat3 r = {{{1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)},
               {2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)},
               {2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)}}};
    return r;
}

static double sh_eval(int degree, const double d[3], const float *sh, int ch) {
    double x = d[0], y = d[1], z = d[2];
    double basis[16] = {0.28209479177387814};
    if (degree >= 1) {
        basis[1] = -0.4886025119029199 * y;
        basis[2] = 0.4886025119029199 * z;
        basis[3] = -0.4886025119029199 * x;
    }
    if (degree >= 2) {
        basis[4] = 1.0925484305920792 * x * y;
        basis[5] = -1.0925484305920792 * y * z;
        basis[6] = 0.31539156525252005 * (2 * z * z - x * x - y * y);
        basis[7] = -1.0925484305920792 * x * z;
        basis[8] = 0.5462742152960396 * (x * x - y * y);
    }
    if (degree >= 3) {
        basis[9] = -0.5900435899266435 * y * (3 * x * x - y * y);
        basis[10] = 2.890611442640554 * x * y * z;
        basis[11] = -0.4570457994644658 * y * (4 * z * z - x * x - y * y);
        basis[12] = 0.3731763325901154 * z * (2 * z * z - 3 * x * x - 3 * y * y);
        basis[13] = -0.4570457994644658 * x * (4 * z * z - x * x - y * y);
        basis[14] = 1.445305721320277 * z * (x * x - y * y);
        basis[15] = -0.5900435899266435 * x * (x * x - 3 * y * y);
    }
    double r = 0;
    for (int k = 0; k < (degree + 1) * (degree + 1); k++) r += basis[k] * (double)sh[3 * k + ch];
    return r;
}

void ref_project(const cs_scene_params *p, const cs_camera *cam, const ref_options *o,
                 int64_t i, ref_splat *out) {
    memset(out, 0, sizeof *out);
    mat3 W;
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++) W.m[r][c] = (double)cam->R[3 * r + c];
    double m[3] = {(double)p->means[3 * i], (double)p->means[3 * i + 1],
                   (double)p->means[3 * i + 2]};
    double t[3];
    for (int r = 0; r < 3; r++)
        t[r] = W.m[r][0] * m[0] + W.m[r][1] * m[1] + W.m[r][2] * m[2] + (double)cam->t[r];
    if (!(t[2] > 0.2)) return;

    /* Sigma = R S S^T R^T */
    mat3 S = {{{0}}};
    for (int k = 0; k < 3; k++)
        S.m[k][k] = exp((double)p->log_scales[3 * i + k]) * o->scale_modifier;
    mat3 RS = mat_mul(quat_rotation(p->quats + 4 * i), S);
    mat3 sigma = mat_mul(RS, mat_t(RS));

    /* J with x/z, y/z clamped to 1.3 tan(fov/2); third row zero. */
    double limx = 1.3 * 0.5 * cam->width / (double)cam->fx;
    double limy = 1.3 * 0.5 * cam->height / (double)cam->fy;
    double tx = fmin(limx, fmax(-limx, t[0] / t[2])) * t[2];
    double ty = fmin(limy, fmax(-limy, t[1] / t[2])) * t[2];
    double fx = (double)cam->fx, fy = (double)cam->fy;
    mat3 J = {{{fx / t[2], 0, -fx * tx / (t[2] * t[2])},
               {0, fy / t[2], -fy * ty / (t[2] * t[2])},
               {0, 0, 0}}};
    mat3 T = mat_mul(J, W);
    mat3 cov = mat_mul(mat_mul(T, sigma), mat_t(T));
    double a = cov.m[0][0] + 0.3, b = cov.m[0][1], c = cov.m[1][1] + 0.3;
    double det = a * c - b * b;
    if (det == 0) return;
    double mid = 0.5 * (a + c);
    double lambda = mid + sqrt(fmax(0.1, mid * mid - det));
    double radius = ceil(3 * sqrt(lambda));
    double u = fx * t[0] / t[2] + (double)cam->cx, v = fy * t[1] / t[2] + (double)cam->cy;

    /* The tile rectangle, as the reference computes it from pixel-index coordinates. */
    int gx = (cam->width + 15) / 16, gy = (cam->height + 15) / 16;
    double px = u - 0.5, py = v - 0.5;
    out->rect[0] = (int)fmin(gx, fmax(0, floor((px - radius) / 16)));
    out->rect[1] = (int)fmin(gx, fmax(0, floor((px + radius + 15) / 16)));
    out->rect[2] = (int)fmin(gy, fmax(0, floor((py - radius) / 16)));
    out->rect[3] = (int)fmin(gy, fmax(0, floor((py + radius + 15) / 16)));
    if ((out->rect[1] - out->rect[0]) * (out->rect[3] - out->rect[2]) == 0) return;

    double campos[3], dir[3], n = 0;
    for (int k = 0; k < 3; k++)
        campos[k] = -(W.m[0][k] * (double)cam->t[0] + W.m[1][k] * (double)cam->t[1] +
                      W.m[2][k] * (double)cam->t[2]);
    for (int k = 0; k < 3; k++) {
        dir[k] = m[k] - campos[k];
        n += dir[k] * dir[k];
    }
    n = sqrt(n);
    for (int k = 0; k < 3; k++) dir[k] = n > 0 ? dir[k] / n : 0;
    const float *sh = p->sh + (size_t)i * 3 * (size_t)p->sh_coeffs;
    for (int ch = 0; ch < 3; ch++)
        out->rgb[ch] = fmax(0, sh_eval(o->sh_degree, dir, sh, ch) + 0.5);

    out->visible = 1;
    out->u = u;
    out->v = v;
    out->cov2d[0] = a;
    out->cov2d[1] = b;
    out->cov2d[2] = c;
    out->conic[0] = c / det;
    out->conic[1] = -b / det;
    out->conic[2] = a / det;
    out->radius = radius;
    out->depth = t[2];
    out->opacity = 1 / (1 + exp(-(double)p->opacities[i]));
}

typedef struct depth_item {
    double depth;
    int64_t index;
} depth_item;

static int by_depth(const void *x, const void *y) {
    const depth_item *a = x, *b = y;
    if (a->depth != b->depth) return a->depth < b->depth ? -1 : 1;
    return (a->index > b->index) - (a->index < b->index);
}

int ref_render(const cs_scene_params *p, const cs_camera *cam, const ref_options *o, double *rgb,
               double *alpha, double *depth) {
    int w = cam->width, h = cam->height;
    size_t npix = (size_t)w * (size_t)h, n = (size_t)p->count;
    ref_splat *sp = malloc((n ? n : 1) * sizeof *sp);
    depth_item *items = malloc((n ? n : 1) * sizeof *items);
    double *T = malloc(npix * sizeof *T), *C = calloc(3 * npix, sizeof *C);
    double *D = calloc(npix, sizeof *D), *Wsum = calloc(npix, sizeof *Wsum);
    char *done = calloc(npix, 1);
    int ok = sp && items && T && C && D && Wsum && done;
    if (ok) {
        size_t nv = 0;
        for (size_t i = 0; i < n; i++) {
            ref_project(p, cam, o, (int64_t)i, &sp[i]);
            if (sp[i].visible) items[nv++] = (depth_item){sp[i].depth, (int64_t)i};
        }
        qsort(items, nv, sizeof *items, by_depth);
        for (size_t q = 0; q < npix; q++) T[q] = 1;
        for (size_t k = 0; k < nv; k++) {
            const ref_splat *s = &sp[items[k].index];
            int x0 = 0, x1 = w, y0 = 0, y1 = h;
            if (o->tile_support) {
                x0 = s->rect[0] * 16;
                x1 = s->rect[1] * 16 < w ? s->rect[1] * 16 : w;
                y0 = s->rect[2] * 16;
                y1 = s->rect[3] * 16 < h ? s->rect[3] * 16 : h;
            }
            for (int y = y0; y < y1; y++)
                for (int x = x0; x < x1; x++) {
                    size_t q = (size_t)y * (size_t)w + (size_t)x;
                    if (done[q]) continue;
                    double dx = s->u - (x + 0.5), dy = s->v - (y + 0.5);
                    double power = -0.5 * (s->conic[0] * dx * dx + s->conic[2] * dy * dy) -
                                   s->conic[1] * dx * dy;
                    if (power > 0) continue;
                    double a = fmin(0.99, s->opacity * exp(power));
                    if (a < 1.0 / 255.0) continue;
                    double test_t = T[q] * (1 - a);
                    if (test_t < 0.0001) {
                        done[q] = 1;
                        continue;
                    }
                    for (int ch = 0; ch < 3; ch++) C[3 * q + ch] += s->rgb[ch] * a * T[q];
                    D[q] += s->depth * a * T[q];
                    Wsum[q] += a * T[q];
                    T[q] = test_t;
                }
        }
        for (size_t q = 0; q < npix; q++) {
            if (rgb)
                for (int ch = 0; ch < 3; ch++)
                    rgb[3 * q + ch] = C[3 * q + ch] + T[q] * o->background[ch];
            if (alpha) alpha[q] = 1 - T[q];
            if (depth) depth[q] = Wsum[q] > 0 ? D[q] / Wsum[q] : 0;
        }
    }
    free(sp);
    free(items);
    free(T);
    free(C);
    free(D);
    free(Wsum);
    free(done);
    return ok;
}
