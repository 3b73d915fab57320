/*
 * ssim.c - mean SSIM and its gradient (definition and derivation in ssim.h): the threaded
 * driver and the scalar row kernels.
 *
 * Data flow of one evaluation, for an image of H rows of W*C floats:
 *   forward   rows -> zero-padded copies of x, x^2, x y -> horizontal 11-tap pass into T0..T2;
 *             then per row: vertical pass of T0..T2 into A, B, X (worker rows), the per-pixel S
 *             and partials (written to maps M0..M2), and the row's sum of S in double;
 *   backward  horizontal pass of M0..M2 into T0..T2; per row: vertical pass, then combine into
 *             d_x += scale/n (G*dA + 2x G*dB + y G*dX).
 * The reference's mu_y and G*(y^2) are computed once by cs__ssim_set_reference. Zero padding:
 * padded row copies carry 5 zero pixels each side; rows outside the image are a zero row.
 */
#include "ssim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct cs__ssim {
    int width, height, channels, threads;
    size_t row;              /* W * C floats */
    const float *y;
    float *muy, *eyy;        /* reference statistics */
    float *T[3], *M[3];      /* maps of the image's size */
    float *work;             /* per worker: 3 padded rows + 4 rows */
    size_t work_stride;
    float *zero;             /* a zero row (padded length) */
    double *row_sum;         /* [H] */
    float g[CS_SSIM_TAPS];
    const cs__ssim_kernels *k;
};

static int force_scalar = -1;

void cs__ssim_force_scalar(int mode) {
    force_scalar = mode;
}

static const cs__ssim_kernels *pick_kernels(void) {
    bool scalar = force_scalar == 1;
    if (force_scalar < 0) {
        const char *env = getenv("CSPLAT_SCALAR");
        scalar = env && env[0] == '1';
    }
#if defined(__x86_64__)
    if (!scalar && cs__cpu_has_avx2()) return &cs__ssim_kernels_avx2;
#endif
    return &cs__ssim_kernels_scalar;
}

/* ---------------------------------------------------------------------------------------------
 * Scalar kernels: the operation order here is the contract the AVX2 versions follow.
 */
/* The window is symmetric (g[k] = g[10 - k] exactly), so taps pair up: g5 x5 + sum over
 * k = 0..4 of g[k] (x[k] + x[10 - k]), in that order. */
static void hfilt_scalar(const float *pad, float *out, int len, int stride, const float *g) {
    for (int i = 0; i < len; i++) {
        const float *p = pad + i;
        float acc = g[5] * p[5 * stride];
        for (int k = 0; k < 5; k++) acc = acc + g[k] * (p[k * stride] + p[(10 - k) * stride]);
        out[i] = acc;
    }
}

static void vfilt_scalar(const float *const *rows, float *out, int len, const float *g) {
    for (int i = 0; i < len; i++) {
        float acc = g[5] * rows[5][i];
        for (int k = 0; k < 5; k++) acc = acc + g[k] * (rows[k][i] + rows[10 - k][i]);
        out[i] = acc;
    }
}

static void pixel_scalar(const float *A, const float *B, const float *X, const float *M,
                         const float *Y, float *S, float *dA, float *dB, float *dX, int len) {
    for (int i = 0; i < len; i++) {
        float a = A[i], m = M[i];
        float sxx = B[i] - a * a, syy = Y[i] - m * m, sxy = X[i] - a * m;
        float am = a * m;
        float n1 = (am + am) + CS_SSIM_C1;
        float n2 = (sxy + sxy) + CS_SSIM_C2;
        float d1 = (a * a + m * m) + CS_SSIM_C1;
        float d2 = (sxx + syy) + CS_SSIM_C2;
        float den = d1 * d2;
        float s = (n1 * n2) / den;
        float t1 = m * (n2 - n1);
        float t2 = (a * s) * (d2 - d1);
        float da = t1 - t2;
        S[i] = s;
        dA[i] = (da + da) / den;
        dB[i] = -s / d2;
        dX[i] = (n1 + n1) / den;
    }
}

static void combine_scalar(const float *x, const float *y, const float *GA, const float *GB,
                           const float *GX, float k, float *d, int len) {
    for (int i = 0; i < len; i++) {
        float t = x[i] * GB[i];
        float r = GA[i] + (t + t);
        r = r + y[i] * GX[i];
        d[i] = d[i] + r * k;
    }
}

const cs__ssim_kernels cs__ssim_kernels_scalar = {hfilt_scalar, vfilt_scalar, pixel_scalar,
                                                  combine_scalar};

/* ---------------------------------------------------------------------------------------------
 * Driver
 */
cs_status cs__ssim_create(cs_context *ctx, int width, int height, int channels, cs__ssim **out) {
    *out = NULL;
    if (width < 1 || height < 1 || channels < 1 || channels > 4)
        return cs__error(ctx, CS_ERR_ARGUMENT, "ssim: bad image size %dx%dx%d", width, height,
                         channels);
    cs__ssim *s = cs__calloc(1, sizeof *s);
    if (!s) return cs__alloc_error(ctx, "ssim", sizeof *s);
    s->width = width;
    s->height = height;
    s->channels = channels;
    s->threads = cs_context_threads(ctx);
    s->row = (size_t)width * (size_t)channels;
    size_t padded = s->row + 2 * CS_SSIM_RADIUS * (size_t)channels;
    size_t map, maps, work, total, bytes;
    s->work_stride = 3 * padded + 4 * s->row;
    bool ok = cs__mul_size(s->row, (size_t)height, &map) && cs__mul_size(map, 8, &maps) &&
              cs__mul_size(s->work_stride, (size_t)s->threads, &work) &&
              cs__add_size(maps, work, &total) && cs__add_size(total, padded, &total) &&
              cs__mul_size(total, sizeof(float), &bytes);
    if (!ok) {
        cs__free(s);
        return cs__error(ctx, CS_ERR_ARGUMENT, "ssim: %dx%d image overflows memory size", width,
                         height);
    }
    float *block = cs__calloc(total, sizeof(float));
    s->row_sum = cs__calloc((size_t)height, sizeof(double));
    if (!block || !s->row_sum) {
        cs__free(block);
        cs__free(s->row_sum);
        cs__free(s);
        return cs__alloc_error(ctx, "ssim", bytes);
    }
    s->muy = block;
    s->eyy = block + map;
    for (int i = 0; i < 3; i++) {
        s->T[i] = block + (size_t)(2 + i) * map;
        s->M[i] = block + (size_t)(5 + i) * map;
    }
    s->work = block + maps;
    s->zero = s->work + work; /* calloc'd: stays zero */
    double g[CS_SSIM_TAPS], sum = 0.0;
    for (int k = 0; k < CS_SSIM_TAPS; k++) {
        double d = k - CS_SSIM_RADIUS;
        g[k] = exp(-d * d / (2.0 * 1.5 * 1.5));
        sum += g[k];
    }
    for (int k = 0; k < CS_SSIM_TAPS; k++) s->g[k] = (float)(g[k] / sum);
    s->k = pick_kernels();
    *out = s;
    return CS_OK;
}

void cs__ssim_destroy(cs__ssim *s) {
    if (!s) return;
    cs__free(s->muy);
    cs__free(s->row_sum);
    cs__free(s);
}

/* The 11 rows around row r of a map (the zero row outside the image). */
static void window_rows(const cs__ssim *s, const float *map, int r, const float **rows) {
    for (int k = 0; k < CS_SSIM_TAPS; k++) {
        int rr = r + k - CS_SSIM_RADIUS;
        rows[k] = rr < 0 || rr >= s->height ? s->zero : map + (size_t)rr * s->row;
    }
}

typedef struct ssim_job {
    cs__ssim *s;
    const float *x;      /* the image being scored */
    float *d_x;
    float k;             /* scale / n */
    int maps;            /* horizontal pass: 2 = reference (y, y^2), 3 = image (x, x^2, x y) */
    const float *src[3]; /* horizontal pass of plain maps (backward), else NULL */
} ssim_job;

/* Horizontal pass: rows [begin, end) of up to three source rows into T0..T2. */
static void hpass_range(void *user, int64_t begin, int64_t end, int worker) {
    ssim_job *job = user;
    cs__ssim *s = job->s;
    size_t C = (size_t)s->channels, pad = CS_SSIM_RADIUS * C, plen = s->row + 2 * pad;
    float *buf = s->work + (size_t)worker * s->work_stride;
    float *p[3] = {buf, buf + plen, buf + 2 * plen};
    for (int m = 0; m < 3; m++) {
        memset(p[m], 0, pad * sizeof(float));
        memset(p[m] + pad + s->row, 0, pad * sizeof(float));
    }
    for (int64_t r = begin; r < end; r++) {
        size_t off = (size_t)r * s->row;
        int maps = job->maps;
        if (job->src[0]) {
            for (int m = 0; m < 3; m++) memcpy(p[m] + pad, job->src[m] + off, s->row * 4);
        } else if (maps == 2) {
            const float *y = s->y + off;
            for (size_t i = 0; i < s->row; i++) {
                p[0][pad + i] = y[i];
                p[1][pad + i] = y[i] * y[i];
            }
        } else {
            const float *x = job->x + off, *y = s->y + off;
            for (size_t i = 0; i < s->row; i++) {
                p[0][pad + i] = x[i];
                p[1][pad + i] = x[i] * x[i];
                p[2][pad + i] = x[i] * y[i];
            }
        }
        for (int m = 0; m < maps; m++)
            s->k->hfilt(p[m], s->T[m] + off, (int)s->row, (int)C, s->g);
    }
}

/* Vertical pass of the reference: T0, T1 -> mu_y, E[y^2]. */
static void vref_range(void *user, int64_t begin, int64_t end, int worker) {
    (void)worker;
    ssim_job *job = user;
    cs__ssim *s = job->s;
    const float *rows[CS_SSIM_TAPS];
    for (int64_t r = begin; r < end; r++) {
        size_t off = (size_t)r * s->row;
        window_rows(s, s->T[0], (int)r, rows);
        s->k->vfilt(rows, s->muy + off, (int)s->row, s->g);
        window_rows(s, s->T[1], (int)r, rows);
        s->k->vfilt(rows, s->eyy + off, (int)s->row, s->g);
    }
}

/* Forward vertical pass + per-pixel SSIM: T0..T2 -> partials in M0..M2, row sums of S. */
static void vfwd_range(void *user, int64_t begin, int64_t end, int worker) {
    ssim_job *job = user;
    cs__ssim *s = job->s;
    size_t C = (size_t)s->channels, plen = s->row + 2 * CS_SSIM_RADIUS * C;
    float *buf = s->work + (size_t)worker * s->work_stride + 3 * plen;
    float *A = buf, *B = buf + s->row, *X = buf + 2 * s->row, *S = buf + 3 * s->row;
    const float *rows[CS_SSIM_TAPS];
    for (int64_t r = begin; r < end; r++) {
        size_t off = (size_t)r * s->row;
        float *o[3] = {A, B, X};
        for (int m = 0; m < 3; m++) {
            window_rows(s, s->T[m], (int)r, rows);
            s->k->vfilt(rows, o[m], (int)s->row, s->g);
        }
        s->k->pixel(A, B, X, s->muy + off, s->eyy + off, S, s->M[0] + off, s->M[1] + off,
                    s->M[2] + off, (int)s->row);
        double sum = 0.0;
        for (size_t i = 0; i < s->row; i++) sum += (double)S[i];
        s->row_sum[r] = sum;
    }
}

/* Backward vertical pass + combine: T0..T2 (filtered partials) -> d_x. */
static void vbwd_range(void *user, int64_t begin, int64_t end, int worker) {
    ssim_job *job = user;
    cs__ssim *s = job->s;
    size_t C = (size_t)s->channels, plen = s->row + 2 * CS_SSIM_RADIUS * C;
    float *buf = s->work + (size_t)worker * s->work_stride + 3 * plen;
    float *G[3] = {buf, buf + s->row, buf + 2 * s->row};
    const float *rows[CS_SSIM_TAPS];
    for (int64_t r = begin; r < end; r++) {
        size_t off = (size_t)r * s->row;
        for (int m = 0; m < 3; m++) {
            window_rows(s, s->T[m], (int)r, rows);
            s->k->vfilt(rows, G[m], (int)s->row, s->g);
        }
        s->k->combine(job->x + off, s->y + off, G[0], G[1], G[2], job->k, job->d_x + off,
                      (int)s->row);
    }
}

static int64_t grain_rows(const cs__ssim *s) {
    /* About 64k floats per task: enough work to amortise, enough tasks to balance. */
    int64_t g = (int64_t)(65536 / s->row);
    return g < 1 ? 1 : g;
}

void cs__ssim_set_reference(cs_context *ctx, cs__ssim *s, const float *y) {
    s->k = pick_kernels();
    s->y = y;
    ssim_job job = {.s = s, .maps = 2};
    cs__parallel_for(ctx, s->height, grain_rows(s), hpass_range, &job);
    cs__parallel_for(ctx, s->height, grain_rows(s), vref_range, &job);
}

double cs__ssim_eval(cs_context *ctx, cs__ssim *s, const float *x, float *d_x, float scale) {
    CS_ASSERT(s->y && cs_context_threads(ctx) <= s->threads);
    s->k = pick_kernels();
    double n = (double)s->row * s->height;
    ssim_job job = {.s = s, .x = x, .d_x = d_x, .maps = 3, .k = (float)((double)scale / n)};
    cs__parallel_for(ctx, s->height, grain_rows(s), hpass_range, &job);
    cs__parallel_for(ctx, s->height, grain_rows(s), vfwd_range, &job);
    double sum = 0.0;
    for (int r = 0; r < s->height; r++) sum += s->row_sum[r];
    if (d_x) {
        job.src[0] = s->M[0];
        job.src[1] = s->M[1];
        job.src[2] = s->M[2];
        cs__parallel_for(ctx, s->height, grain_rows(s), hpass_range, &job);
        cs__parallel_for(ctx, s->height, grain_rows(s), vbwd_range, &job);
    }
    return sum / n;
}

/* ---------------------------------------------------------------------------------------------
 * Public metrics
 */
cs_status cs_image_quality(cs_context *ctx, const cs_image *a, const cs_image *b, double *psnr,
                           double *ssim) {
    if (!a || !b || !a->data || !b->data || a->width != b->width || a->height != b->height ||
        a->channels != b->channels || a->width < 1 || a->height < 1 || a->channels < 1 ||
        a->channels > 4)
        return cs__error(ctx, CS_ERR_ARGUMENT,
                         "image quality: images differ in size or channels, or are empty");
    size_t n = (size_t)a->width * (size_t)a->height * (size_t)a->channels;
    if (psnr) {
        double se = 0.0;
        for (size_t i = 0; i < n; i++) {
            float x = a->data[i] < 0.0f ? 0.0f : a->data[i] > 1.0f ? 1.0f : a->data[i];
            float y = b->data[i] < 0.0f ? 0.0f : b->data[i] > 1.0f ? 1.0f : b->data[i];
            se += ((double)x - (double)y) * ((double)x - (double)y);
        }
        *psnr = se > 0.0 ? 10.0 * log10((double)n / se) : 100.0;
    }
    if (ssim) {
        cs__ssim *s;
        cs_status st = cs__ssim_create(ctx, a->width, a->height, a->channels, &s);
        if (st != CS_OK) return st;
        cs__ssim_set_reference(ctx, s, b->data);
        *ssim = cs__ssim_eval(ctx, s, a->data, NULL, 0.0f);
        cs__ssim_destroy(s);
    }
    return CS_OK;
}
