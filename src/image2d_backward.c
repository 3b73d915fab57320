/*
 * image2d_backward.c - analytic gradients of a 2D Gaussian image render with respect to every
 * Gaussian's position, Cholesky factor and colour, for both rules.
 *
 * Frame: prepared at scale (sx, sy) without the footprint filter (amplitude 1), as the fitter
 * renders; see image2d.h for the forward. With G = dL/d(out) at a pixel and d = p - mu':
 *   TOPK   out = A / (S + eps), A = sum_k w_k c_k, S = sum_k w_k over the kept K:
 *            dL/dc_k = G w_k / (S + eps),   dL/dw_k = G . (c_k - out) / (S + eps);
 *          Gaussians that were not kept get nothing (the selection is piecewise constant).
 *   SUM    out = sum_i w_i c_i:  dL/dc_i = G w_i,  dL/dw_i = G . c_i.
 *   w = exp(-q/2) (q <= 9):  dL/dq = -w/2 dL/dw;   q = ca dx^2 + 2 cb dx dy + cc dy^2:
 *     dq/dmu'_x = -2 (ca dx + cb dy),  dq/dmu'_y = -2 (cb dx + cc dy),
 *     dq/dca = dx^2, dq/dcb = 2 dx dy, dq/dcc = dy^2.
 * Then to parameters: mu' = S mu; conic' = S^-1 Sigma^-1 S^-1; Sigma^-1 = [[a, b], [b, c]] with
 * L = [[l11, 0], [l21, l22]], l11 = exp(c0), l21 = c1, l22 = exp(c2):
 *     a = 1/l11^2 + l21^2/(l11^2 l22^2),   b = -l21/(l11 l22^2),   c = 1/l22^2,
 *     dL/dc0 = -2a dL/da - b dL/db,
 *     dL/dc1 = 2 l21/(l11^2 l22^2) dL/da - 1/(l11 l22^2) dL/db,
 *     dL/dc2 = -2 l21^2/(l11^2 l22^2) dL/da - 2b dL/db - 2c dL/dc.
 *
 * Determinism: pass 1 (one task per tile) writes each Gaussian-tile instance's partial gradient
 * into its own record; pass 2 (one task per Gaussian range) sums a Gaussian's records in tile
 * order. No atomics, so any thread count gives the same bits. TOPK recomputes each tile's
 * kept lists with the forward kernel instead of storing 2*K values per pixel (memory would be
 * 80 bytes a pixel: 1.1 GB for a 14-megapixel photo).
 */
#include "image2d.h"

typedef struct backward_job {
    const cs__g2d_frame *f;
    const cs_gimage_params *p;
    double sx, sy;
    const float *d_out, *out;
    float *rec;              /* [n_inst, 5 + C] */
    cs__g2d_lists *lists;    /* [threads] */
    cs__g2d_tile_fn kernel;
    float *d_xy, *d_chol, *d_colour;
} backward_job;

/* Record layout: d_gx, d_gy, d_ca, d_cb, d_cc, d_colour[C]. */
static void add_geometry(float *r, float dq, float dx, float dy, float ca, float cb, float cc) {
    r[0] += -2.0f * dq * (ca * dx + cb * dy);
    r[1] += -2.0f * dq * (cb * dx + cc * dy);
    r[2] += dq * dx * dx;
    r[3] += 2.0f * dq * dx * dy;
    r[4] += dq * dy * dy;
}

static void tile_topk(backward_job *job, int tile, int worker) {
    const cs__g2d_frame *f = job->f;
    int C = f->channels, R = 5 + C;
    cs__g2d_lists *lists = &job->lists[worker];
    job->kernel(f, tile, NULL, lists);
    int tx = tile % f->tiles_x, ty = tile / f->tiles_x;
    int x0 = tx * CS_G2D_TILE, y0 = ty * CS_G2D_TILE;
    int x1 = x0 + CS_G2D_TILE < f->width ? x0 + CS_G2D_TILE : f->width;
    int y1 = y0 + CS_G2D_TILE < f->height ? y0 + CS_G2D_TILE : f->height;
    for (int y = y0; y < y1; y++) {
        float py = (float)(f->oy + y) + 0.5f;
        for (int x = x0; x < x1; x++) {
            float px = (float)(f->ox + x) + 0.5f;
            int l = (y - y0) * CS_G2D_TILE + (x - x0);
            size_t pix = ((size_t)y * (size_t)f->width + (size_t)x) * (size_t)C;
            const float *G = job->d_out + pix, *o = job->out + pix;
            float inv = 1.0f / (lists->wsum[l] + CS_G2D_EPS);
            for (int k = 0; k < lists->n[l]; k++) {
                float w = lists->w[l][k];
                int32_t pos = lists->idx[l][k];
                int32_t g = f->tile_gauss[pos];
                const float *c = f->colour + (size_t)g * (size_t)C;
                float *r = job->rec + (size_t)pos * (size_t)R;
                float dw = 0.0f;
                for (int ch = 0; ch < C; ch++) {
                    r[5 + ch] += G[ch] * w * inv;
                    dw += G[ch] * (c[ch] - o[ch]);
                }
                dw *= inv;
                add_geometry(r, -0.5f * w * dw, px - f->gx[g], py - f->gy[g], f->ca[g], f->cb[g],
                             f->cc[g]);
            }
        }
    }
}

static void tile_sum(backward_job *job, int tile) {
    const cs__g2d_frame *f = job->f;
    int C = f->channels, R = 5 + C;
    int tx = tile % f->tiles_x, ty = tile / f->tiles_x;
    int x0 = tx * CS_G2D_TILE, y0 = ty * CS_G2D_TILE;
    int x1 = x0 + CS_G2D_TILE < f->width ? x0 + CS_G2D_TILE : f->width;
    int y1 = y0 + CS_G2D_TILE < f->height ? y0 + CS_G2D_TILE : f->height;
    for (int64_t pos = f->tile_off[tile]; pos < f->tile_off[tile + 1]; pos++) {
        int32_t g = f->tile_gauss[pos];
        const int32_t *box = f->box + 4 * (int64_t)g;
        int bx0 = box[0] - f->ox > x0 ? box[0] - f->ox : x0;
        int bx1 = box[2] - f->ox + 1 < x1 ? box[2] - f->ox + 1 : x1;
        int by0 = box[1] - f->oy > y0 ? box[1] - f->oy : y0;
        int by1 = box[3] - f->oy + 1 < y1 ? box[3] - f->oy + 1 : y1;
        const float *c = f->colour + (size_t)g * (size_t)C;
        float ca = f->ca[g], cb = f->cb[g], cc = f->cc[g], amp = f->amp[g];
        float acc[8] = {0};
        for (int y = by0; y < by1; y++) {
            float dy = ((float)(f->oy + y) + 0.5f) - f->gy[g];
            for (int x = bx0; x < bx1; x++) {
                float dx = ((float)(f->ox + x) + 0.5f) - f->gx[g];
                float q = cs__g2d_q(ca, cb, cc, dx, dy);
                if (!(q <= CS_G2D_CUTOFF)) continue;
                float w = amp * cs__g2d_expq(q);
                const float *G = job->d_out + ((size_t)y * (size_t)f->width + (size_t)x) * C;
                float dw = 0.0f;
                for (int ch = 0; ch < C; ch++) {
                    acc[5 + ch] += G[ch] * w;
                    dw += G[ch] * c[ch];
                }
                add_geometry(acc, -0.5f * w * dw, dx, dy, ca, cb, cc);
            }
        }
        memcpy(job->rec + (size_t)pos * (size_t)R, acc, (size_t)R * sizeof(float));
    }
}

static void tiles_range(void *user, int64_t begin, int64_t end, int worker) {
    backward_job *job = user;
    const cs__g2d_frame *f = job->f;
    size_t R = (size_t)(5 + f->channels);
    for (int64_t t = begin; t < end; t++) {
        if (f->rule == CS_GIMAGE_TOPK) {
            int64_t b = f->tile_off[t], e = f->tile_off[t + 1];
            memset(job->rec + (size_t)b * R, 0, (size_t)(e - b) * R * sizeof(float));
            tile_topk(job, (int)t, worker);
        } else {
            tile_sum(job, (int)t);
        }
    }
}

static void gauss_range(void *user, int64_t begin, int64_t end, int worker) {
    (void)worker;
    backward_job *job = user;
    const cs__g2d_frame *f = job->f;
    const cs_gimage_params *p = job->p;
    int C = f->channels, R = 5 + C;
    for (int64_t i = begin; i < end; i++) {
        double s[8] = {0};
        for (int64_t j = f->inst_off[i]; j < f->inst_off[i + 1]; j++) {
            const float *r = job->rec + (size_t)f->inst_pos[j] * (size_t)R;
            for (int k = 0; k < R; k++) s[k] += (double)r[k];
        }
        double sx = job->sx, sy = job->sy;
        job->d_xy[2 * i] = (float)(sx * s[0]);
        job->d_xy[2 * i + 1] = (float)(sy * s[1]);
        /* Output-space conic -> source conic (a, b, c). */
        double da = s[2] / (sx * sx), db = s[3] / (sx * sy), dc = s[4] / (sy * sy);
        double l11 = exp((double)p->chol[3 * i]), l21 = (double)p->chol[3 * i + 1];
        double l22 = exp((double)p->chol[3 * i + 2]);
        double i11 = 1.0 / (l11 * l11), i22 = 1.0 / (l22 * l22);
        double a = i11 + l21 * l21 * i11 * i22, b = -l21 / (l11 * l22 * l22), c = i22;
        job->d_chol[3 * i] = (float)(-2.0 * a * da - b * db);
        job->d_chol[3 * i + 1] = (float)(2.0 * l21 * i11 * i22 * da - db / (l11 * l22 * l22));
        job->d_chol[3 * i + 2] =
            (float)(-2.0 * l21 * l21 * i11 * i22 * da - 2.0 * b * db - 2.0 * c * dc);
        for (int ch = 0; ch < C; ch++) job->d_colour[(size_t)i * C + ch] = (float)s[5 + ch];
    }
}

void cs__g2d_backward(cs_context *ctx, const cs__g2d_frame *f, const cs_gimage_params *p,
                      float sx, float sy, const float *d_out, const float *out, float *inst_grad,
                      cs__g2d_lists *lists, float *d_xy, float *d_chol, float *d_colour) {
    backward_job job = {f,         p,     sx,   sy,     d_out,  out,      inst_grad,
                        lists,     cs__g2d_tile_kernel(), d_xy, d_chol, d_colour};
    cs__parallel_for(ctx, (int64_t)f->tiles_x * f->tiles_y, 2, tiles_range, &job);
    cs__parallel_for(ctx, f->count, 1024, gauss_range, &job);
}
