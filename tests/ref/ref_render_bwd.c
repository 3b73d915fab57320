/*
 * ref_render_bwd.c - float64 reference backward (see ref_render_bwd.h). Plain and slow by
 * design: every pixel walks every Gaussian; every parameter of every visible Gaussian gets one
 * dual-number pass through the projection.
 */
#include "ref_render_bwd.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- dual numbers: v + d eps, eps^2 = 0 ---- */
typedef struct dn {
    double v, d;
} dn;

static dn cst(double v) {
    return (dn){v, 0};
}
static dn add(dn a, dn b) {
    return (dn){a.v + b.v, a.d + b.d};
}
static dn sub(dn a, dn b) {
    return (dn){a.v - b.v, a.d - b.d};
}
static dn mul(dn a, dn b) {
    return (dn){a.v * b.v, a.d * b.v + a.v * b.d};
}
static dn scl(dn a, double k) {
    return (dn){a.v * k, a.d * k};
}
static dn dvd(dn a, dn b) {
    return (dn){a.v / b.v, (a.d * b.v - a.v * b.d) / (b.v * b.v)};
}
static dn dsqrt(dn a) {
    double s = sqrt(a.v);
    return (dn){s, a.d / (2 * s)};
}
static dn dexp(dn a) {
    double e = exp(a.v);
    return (dn){e, a.d * e};
}
/* clamp(a, lo, hi): constant outside [lo, hi]. */
static dn dclamp(dn a, double lo, double hi) {
    if (a.v < lo) return cst(lo);
    if (a.v > hi) return cst(hi);
    return a;
}

typedef struct dmat {
    dn m[3][3];
} dmat;

static dmat dmat_mul(const dmat *a, const dmat *b) {
    dmat r;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            r.m[i][j] = cst(0);
            for (int k = 0; k < 3; k++) r.m[i][j] = add(r.m[i][j], mul(a->m[i][k], b->m[k][j]));
        }
    return r;
}

static dmat dmat_t(const dmat *a) {
    dmat r;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) r.m[i][j] = a->m[j][i];
    return r;
}

/* The outputs of the projection that the compositing reads. */
enum { OUT_U, OUT_V, OUT_CA, OUT_CB, OUT_CC, OUT_O, OUT_R, OUT_G, OUT_B, OUT_N };

/* Parameters of one Gaussian as one vector: mean 3, log-scale 3, quaternion 4, logit 1, SH 3K. */
enum { P_MEAN = 0, P_LS = 3, P_Q = 6, P_LOGIT = 10, P_SH = 11 };

/* ref_project's formulas (projection, conic, colour) on dual numbers, seeded on parameter `seed`
 * of Gaussian i. Assumes the Gaussian is visible (the caller checked with ref_project). */
static void project_dual(const cs_scene_params *p, const cs_camera *cam, const ref_options *o,
                         int64_t i, int seed, dn out[OUT_N]) {
    int k_n = (o->sh_degree + 1) * (o->sh_degree + 1);
    dn par[P_SH + 48];
    const float *sh = p->sh + (size_t)i * 3 * (size_t)p->sh_coeffs;
    for (int k = 0; k < 3; k++) {
        par[P_MEAN + k] = cst(p->means[3 * i + k]);
        par[P_LS + k] = cst(p->log_scales[3 * i + k]);
    }
    for (int k = 0; k < 4; k++) par[P_Q + k] = cst(p->quats[4 * i + k]);
    par[P_LOGIT] = cst(p->opacities[i]);
    for (int k = 0; k < 3 * k_n; k++) par[P_SH + k] = cst(sh[k]);
    par[seed].d = 1;

    double W[3][3];
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++) W[r][c] = cam->R[3 * r + c];
    dn t[3];
    for (int r = 0; r < 3; r++) {
        t[r] = cst(cam->t[r]);
        for (int c = 0; c < 3; c++) t[r] = add(t[r], scl(par[P_MEAN + c], W[r][c]));
    }

    /* Rotation of q / |q|. */
    dn *q = par + P_Q;
    dn n = dsqrt(add(add(mul(q[0], q[0]), mul(q[1], q[1])), add(mul(q[2], q[2]), mul(q[3], q[3]))));
    dn w = dvd(q[0], n), x = dvd(q[1], n), y = dvd(q[2], n), z = dvd(q[3], n);
    dn one = cst(1);
    dmat R = {{{sub(one, scl(add(mul(y, y), mul(z, z)), 2)), scl(sub(mul(x, y), mul(w, z)), 2),
                scl(add(mul(x, z), mul(w, y)), 2)},
               {scl(add(mul(x, y), mul(w, z)), 2), sub(one, scl(add(mul(x, x), mul(z, z)), 2)),
                scl(sub(mul(y, z), mul(w, x)), 2)},
               {scl(sub(mul(x, z), mul(w, y)), 2), scl(add(mul(y, z), mul(w, x)), 2),
                sub(one, scl(add(mul(x, x), mul(y, y)), 2))}}};
    dmat S = {{{cst(0)}}};
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++) S.m[a][b] = cst(0);
    for (int k = 0; k < 3; k++) S.m[k][k] = scl(dexp(par[P_LS + k]), o->scale_modifier);
    dmat RS = dmat_mul(&R, &S), RSt = dmat_t(&RS);
    dmat sigma = dmat_mul(&RS, &RSt);

    double limx = 1.3 * 0.5 * cam->width / (double)cam->fx;
    double limy = 1.3 * 0.5 * cam->height / (double)cam->fy;
    dn tx = mul(dclamp(dvd(t[0], t[2]), -limx, limx), t[2]);
    dn ty = mul(dclamp(dvd(t[1], t[2]), -limy, limy), t[2]);
    double fx = cam->fx, fy = cam->fy;
    dn z2 = mul(t[2], t[2]);
    dmat J = {{{dvd(cst(fx), t[2]), cst(0), dvd(scl(tx, -fx), z2)},
               {cst(0), dvd(cst(fy), t[2]), dvd(scl(ty, -fy), z2)},
               {cst(0), cst(0), cst(0)}}};
    dmat Wd;
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++) Wd.m[r][c] = cst(W[r][c]);
    dmat T = dmat_mul(&J, &Wd), Tt = dmat_t(&T), TS = dmat_mul(&T, &sigma);
    dmat cov = dmat_mul(&TS, &Tt);
    dn a = add(cov.m[0][0], cst(0.3)), b = cov.m[0][1], c = add(cov.m[1][1], cst(0.3));
    dn det = sub(mul(a, c), mul(b, b));
    out[OUT_CA] = dvd(c, det);
    out[OUT_CB] = dvd(scl(b, -1), det);
    out[OUT_CC] = dvd(a, det);
    out[OUT_U] = add(dvd(scl(t[0], fx), t[2]), cst(cam->cx));
    out[OUT_V] = add(dvd(scl(t[1], fy), t[2]), cst(cam->cy));
    out[OUT_O] = dvd(one, add(one, dexp(scl(par[P_LOGIT], -1))));

    /* Colour: SH at the normalised direction from the camera centre. */
    dn dir[3], nn = cst(0);
    for (int k = 0; k < 3; k++) {
        double campos = -(W[0][k] * (double)cam->t[0] + W[1][k] * (double)cam->t[1] +
                          W[2][k] * (double)cam->t[2]);
        dir[k] = sub(par[P_MEAN + k], cst(campos));
        nn = add(nn, mul(dir[k], dir[k]));
    }
    nn = dsqrt(nn);
    dn X = dvd(dir[0], nn), Y = dvd(dir[1], nn), Z = dvd(dir[2], nn);
    dn basis[16];
    basis[0] = cst(0.28209479177387814);
    if (o->sh_degree >= 1) {
        basis[1] = scl(Y, -0.4886025119029199);
        basis[2] = scl(Z, 0.4886025119029199);
        basis[3] = scl(X, -0.4886025119029199);
    }
    if (o->sh_degree >= 2) {
        dn xx = mul(X, X), yy = mul(Y, Y), zz = mul(Z, Z);
        basis[4] = scl(mul(X, Y), 1.0925484305920792);
        basis[5] = scl(mul(Y, Z), -1.0925484305920792);
        basis[6] = scl(sub(scl(zz, 2), add(xx, yy)), 0.31539156525252005);
        basis[7] = scl(mul(X, Z), -1.0925484305920792);
        basis[8] = scl(sub(xx, yy), 0.5462742152960396);
    }
    if (o->sh_degree >= 3) {
        dn xx = mul(X, X), yy = mul(Y, Y), zz = mul(Z, Z);
        basis[9] = scl(mul(Y, sub(scl(xx, 3), yy)), -0.5900435899266435);
        basis[10] = scl(mul(mul(X, Y), Z), 2.890611442640554);
        basis[11] = scl(mul(Y, sub(scl(zz, 4), add(xx, yy))), -0.4570457994644658);
        basis[12] = scl(mul(Z, sub(scl(zz, 2), scl(add(xx, yy), 3))), 0.3731763325901154);
        basis[13] = scl(mul(X, sub(scl(zz, 4), add(xx, yy))), -0.4570457994644658);
        basis[14] = scl(mul(Z, sub(xx, yy)), 1.445305721320277);
        basis[15] = scl(mul(X, sub(xx, scl(yy, 3))), -0.5900435899266435);
    }
    for (int ch = 0; ch < 3; ch++) {
        dn r = cst(0.5);
        for (int k = 0; k < k_n; k++) r = add(r, mul(basis[k], par[P_SH + 3 * k + ch]));
        out[OUT_R + ch] = r.v < 0 ? cst(0) : r; /* max(0, .) */
    }
}

int ref_grads_alloc(ref_grads *g, const cs_scene_params *p) {
    memset(g, 0, sizeof *g);
    size_t n = (size_t)p->count ? (size_t)p->count : 1;
    g->count = p->count;
    g->sh_coeffs = p->sh_coeffs;
    g->means = calloc(3 * n, sizeof(double));
    g->log_scales = calloc(3 * n, sizeof(double));
    g->quats = calloc(4 * n, sizeof(double));
    g->opacities = calloc(n, sizeof(double));
    g->sh = calloc(3 * (size_t)p->sh_coeffs * n, sizeof(double));
    g->mean2d = calloc(2 * n, sizeof(double));
    g->radius = calloc(n, sizeof(double));
    if (g->means && g->log_scales && g->quats && g->opacities && g->sh && g->mean2d && g->radius)
        return 1;
    ref_grads_free(g);
    return 0;
}

void ref_grads_free(ref_grads *g) {
    free(g->means);
    free(g->log_scales);
    free(g->quats);
    free(g->opacities);
    free(g->sh);
    free(g->mean2d);
    free(g->radius);
    memset(g, 0, sizeof *g);
}

typedef struct item {
    double depth;
    int64_t index;
} item;

static int by_depth(const void *x, const void *y) {
    const item *a = x, *b = y;
    if (a->depth != b->depth) return a->depth < b->depth ? -1 : 1;
    return (a->index > b->index) - (a->index < b->index);
}

/* One Gaussian drawn at a pixel. */
typedef struct drawn {
    int64_t index;
    double alpha, g, t, dx, dy;
    int clamped;
} drawn;

/* Project every Gaussian and sort the visible ones by depth; returns the visible count or -1
 * when out of memory. */
static int64_t project_sorted(const cs_scene_params *p, const cs_camera *cam, const ref_options *o,
                              ref_splat **sp, item **items) {
    size_t n = (size_t)p->count ? (size_t)p->count : 1;
    *sp = malloc(n * sizeof **sp);
    *items = malloc(n * sizeof **items);
    if (!*sp || !*items) return -1;
    int64_t nv = 0;
    for (int64_t i = 0; i < p->count; i++) {
        ref_project(p, cam, o, i, &(*sp)[i]);
        if ((*sp)[i].visible) (*items)[nv++] = (item){(*sp)[i].depth, i};
    }
    qsort(*items, (size_t)nv, sizeof **items, by_depth);
    return nv;
}

/* The Gaussians drawn at pixel (x, y), front to back, with the forward's rules; returns their
 * count and the final transmittance. */
static int64_t walk_pixel(const ref_splat *sp, const item *items, int64_t nv, int x, int y,
                          drawn *list, double *t_final) {
    double T = 1;
    int64_t nd = 0;
    int tx = x / 16, ty = y / 16;
    for (int64_t k = 0; k < nv; k++) {
        const ref_splat *s = &sp[items[k].index];
        if (tx < s->rect[0] || tx >= s->rect[1] || ty < s->rect[2] || ty >= s->rect[3]) continue;
        double dx = s->u - (x + 0.5), dy = s->v - (y + 0.5);
        double power =
            -0.5 * (s->conic[0] * dx * dx + s->conic[2] * dy * dy) - s->conic[1] * dx * dy;
        if (power > 0) continue;
        double g = exp(power), og = s->opacity * g;
        double a = fmin(0.99, og);
        if (a < 1.0 / 255.0) continue;
        if (T * (1 - a) < 0.0001) break;
        list[nd++] = (drawn){items[k].index, a, g, T, dx, dy, og > 0.99};
        T *= 1 - a;
    }
    *t_final = T;
    return nd;
}

int ref_render_bwd(const cs_scene_params *p, const cs_camera *cam, const ref_options *o,
                   const double *d_rgb, ref_grads *g) {
    int w = cam->width, h = cam->height;
    size_t n = (size_t)p->count ? (size_t)p->count : 1;
    ref_splat *sp = NULL;
    item *items = NULL;
    drawn *list = malloc(n * sizeof *list);
    double *adj = calloc(n * OUT_N, sizeof *adj); /* dL/d(projection outputs) per Gaussian */
    int64_t nv = project_sorted(p, cam, o, &sp, &items);
    int ok = nv >= 0 && list && adj;
    for (int y = 0; ok && y < h; y++)
        for (int x = 0; x < w; x++) {
            const double *dp = d_rgb + 3 * ((size_t)y * (size_t)w + (size_t)x);
            double t_final;
            int64_t nd = walk_pixel(sp, items, nv, x, y, list, &t_final);
            /* S = sum_{j > i} c_j alpha_j T_j + T_N bg, built from the back. */
            double S[3];
            for (int ch = 0; ch < 3; ch++) S[ch] = t_final * o->background[ch];
            for (int64_t k = nd - 1; k >= 0; k--) {
                const drawn *d = &list[k];
                const ref_splat *s = &sp[d->index];
                double *ad = adj + (size_t)d->index * OUT_N;
                double d_alpha = 0;
                for (int ch = 0; ch < 3; ch++) {
                    d_alpha += dp[ch] * (s->rgb[ch] * d->t - S[ch] / (1 - d->alpha));
                    ad[OUT_R + ch] += dp[ch] * d->alpha * d->t;
                    S[ch] += s->rgb[ch] * d->alpha * d->t;
                }
                if (d->clamped) continue;
                /* alpha = o G, G = exp(power(u, v, conic)). */
                double d_power = d_alpha * s->opacity * d->g;
                ad[OUT_O] += d_alpha * d->g;
                ad[OUT_U] += -d_power * (s->conic[0] * d->dx + s->conic[1] * d->dy);
                ad[OUT_V] += -d_power * (s->conic[2] * d->dy + s->conic[1] * d->dx);
                ad[OUT_CA] += -0.5 * d_power * d->dx * d->dx;
                ad[OUT_CB] += -d_power * d->dx * d->dy;
                ad[OUT_CC] += -0.5 * d_power * d->dy * d->dy;
            }
        }

    /* Chain through the projection: one dual pass per parameter of each visible Gaussian. */
    int k_n = (o->sh_degree + 1) * (o->sh_degree + 1);
    g->dual_mismatch = 0;
    for (int64_t i = 0; ok && i < p->count; i++) {
        const ref_splat *s = &sp[i];
        if (!s->visible) continue;
        g->radius[i] = s->radius;
        const double *ad = adj + (size_t)i * OUT_N;
        g->mean2d[2 * i] = ad[OUT_U];
        g->mean2d[2 * i + 1] = ad[OUT_V];
        for (int seed = 0; seed < P_SH + 3 * k_n; seed++) {
            dn out[OUT_N];
            project_dual(p, cam, o, i, seed, out);
            if (seed == 0) {
                double ref_v[OUT_N] = {s->u,       s->v,      s->conic[0], s->conic[1], s->conic[2],
                                       s->opacity, s->rgb[0], s->rgb[1],   s->rgb[2]};
                for (int k = 0; k < OUT_N; k++) {
                    double e = fabs(out[k].v - ref_v[k]) / fmax(1e-300, fabs(ref_v[k]));
                    if (ref_v[k] != 0 && e > g->dual_mismatch) g->dual_mismatch = e;
                }
            }
            double sum = 0;
            for (int k = 0; k < OUT_N; k++) sum += ad[k] * out[k].d;
            if (seed < P_LS)
                g->means[3 * i + seed] += sum;
            else if (seed < P_Q)
                g->log_scales[3 * i + seed - P_LS] += sum;
            else if (seed < P_LOGIT)
                g->quats[4 * i + seed - P_Q] += sum;
            else if (seed == P_LOGIT)
                g->opacities[i] += sum;
            else
                g->sh[(size_t)i * 3 * (size_t)p->sh_coeffs + (size_t)(seed - P_SH)] += sum;
        }
    }
    free(sp);
    free(items);
    free(list);
    free(adj);
    return ok;
}

int ref_margins_measure(const cs_scene_params *p, const cs_camera *cam, const ref_options *o,
                        ref_margins *m) {
    ref_splat *sp = NULL;
    item *items = NULL;
    int64_t nv = project_sorted(p, cam, o, &sp, &items);
    int ok = nv >= 0;
    *m = (ref_margins){.visible = (int)(nv > 0 ? nv : 0),
                       .min_depth = INFINITY,
                       .jac_gap = INFINITY,
                       .rect_slack = INFINITY,
                       .min_alpha = INFINITY,
                       .min_t = 1,
                       .min_sh = INFINITY,
                       .min_depth_gap = INFINITY};
    double limx = 1.3 * 0.5 * cam->width / (double)cam->fx;
    double limy = 1.3 * 0.5 * cam->height / (double)cam->fy;
    int gx = (cam->width + 15) / 16, gy = (cam->height + 15) / 16;
    for (int64_t i = 0; ok && i < p->count; i++) {
        double t[3];
        for (int r = 0; r < 3; r++)
            t[r] = (double)cam->R[3 * r] * (double)p->means[3 * i] +
                   (double)cam->R[3 * r + 1] * (double)p->means[3 * i + 1] +
                   (double)cam->R[3 * r + 2] * (double)p->means[3 * i + 2] + (double)cam->t[r];
        m->min_depth = fmin(m->min_depth, t[2]);
        double rx = fabs(t[0] / t[2]) / limx, ry = fabs(t[1] / t[2]) / limy;
        m->jac_gap = fmin(m->jac_gap, fmin(fabs(rx - 1), fabs(ry - 1)));
        m->clamped += sp[i].visible && (rx > 1 || ry > 1);
    }
    for (int64_t k = 0; ok && k < nv; k++) {
        const ref_splat *s = &sp[items[k].index];
        if (k > 0)
            m->min_depth_gap = fmin(m->min_depth_gap, s->depth - sp[items[k - 1].index].depth);
        /* The rectangle is the whole grid with room to spare when (p - r) / 16 < -1 and
         * (p + r + 15) / 16 >= grid + 1 on both axes; slack in pixels beyond that. */
        double px = s->u - 0.5, py = s->v - 0.5, r = s->radius;
        double slack = fmin(fmin(-(px - r) - 16, (px + r + 15) - 16.0 * (gx + 1)),
                            fmin(-(py - r) - 16, (py + r + 15) - 16.0 * (gy + 1)));
        m->rect_slack = fmin(m->rect_slack, slack);
        for (int ch = 0; ch < 3; ch++) m->min_sh = fmin(m->min_sh, s->rgb[ch]);
        for (int y = 0; y < cam->height; y++)
            for (int x = 0; x < cam->width; x++) {
                double dx = s->u - (x + 0.5), dy = s->v - (y + 0.5);
                double power =
                    -0.5 * (s->conic[0] * dx * dx + s->conic[2] * dy * dy) - s->conic[1] * dx * dy;
                double og = s->opacity * exp(power);
                m->min_alpha = fmin(m->min_alpha, og);
                m->max_alpha = fmax(m->max_alpha, og);
            }
    }
    /* The smallest T: the last T of every pixel (every drawn T is at least that). */
    drawn *list = malloc((size_t)(nv > 0 ? nv : 1) * sizeof *list);
    ok = ok && list;
    for (int y = 0; ok && y < cam->height; y++)
        for (int x = 0; x < cam->width; x++) {
            double tf;
            walk_pixel(sp, items, nv, x, y, list, &tf);
            m->min_t = fmin(m->min_t, tf);
        }
    free(list);
    free(sp);
    free(items);
    return ok;
}
