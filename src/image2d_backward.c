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
 * Pass 1, one task per tile, Gaussian-major: for each Gaussian of the tile (index order), over
 * the 8-pixel groups of the tile its ellipse reaches, re-evaluate its weights exactly as the
 * forward did, decide inclusion from the forward's per-pixel selection (threshold, tie quota,
 * and a per-pixel count of admitted ties, which index order makes exact), and accumulate the
 * partial gradients above in 8 lane partials; their reduction (cs__g2d_hsum8 order) is the
 * instance's record. The AVX2 twin (cpu/image2d_backward_avx2.c) does the same lane by lane, so
 * records are bit-identical. Each instance owns its record: no scatter, no atomics.
 * Pass 2, one task per Gaussian range: a Gaussian's records are summed in tile order and chained
 * to its parameters. Any thread count gives the same bits. The record's last entry, the
 * Gaussian's "mass" (sum over pixels of its share of the pixel's colour, TOPK, or of its weight,
 * SUM), tells the fitter which Gaussians do almost nothing.
 *
 * Per-lane operation order (the contract between the two kernels), wi = included ? w : 0:
 *   TOPK  dw = (G0 (c0 - o0) [+ G1 (c1 - o1) + G2 (c2 - o2)]) * inv;  dcol += (G wi) * inv;
 *         mass += wi * inv
 *   SUM   dw = G0 c0 [+ G1 c1 + G2 c2];  dcol += G wi;  mass += wi
 *   dq = (wi * -0.5) * dw;  m = dq * -2;
 *   r0 += m ((ca dx) + (cb dy));  r1 += m ((cb dx) + (cc dy));
 *   r2 += (dq dx) dx;  r3 += ((dq + dq) dx) dy;  r4 += (dq dy) dy.
 */
#include "image2d.h"

/* ---------------------------------------------------------------------------------------------
 * Pass 1, scalar twin
 */
void cs__g2d_bwd_tile_scalar(const cs__g2d_bwd *bw, int tile) {
    const cs__g2d_frame *f = bw->f;
    int tx = tile % f->tiles_x, ty = tile / f->tiles_x, C = f->channels, R = 6 + C;
    int x0 = tx * CS_G2D_TILE, y0 = ty * CS_G2D_TILE;
    int x1 = x0 + CS_G2D_TILE < f->width ? x0 + CS_G2D_TILE : f->width;
    int y1 = y0 + CS_G2D_TILE < f->height ? y0 + CS_G2D_TILE : f->height;
    int ng = x1 - x0 > 8 ? 2 : 1;
    bool topk = f->rule == CS_GIMAGE_TOPK;
    int eqcnt[CS_G2D_TILE_PIXELS] = {0};
    for (int64_t pos = f->tile_off[tile]; pos < f->tile_off[tile + 1]; pos++) {
        int32_t g = f->tile_gauss[pos];
        const int32_t *box = f->box + 4 * (int64_t)g;
        const float *c = f->colour + (size_t)g * (size_t)C;
        float ca = f->ca[g], cb = f->cb[g], cc = f->cc[g];
        int ya = box[1] - f->oy > y0 ? box[1] - f->oy : y0;
        int yb = box[3] - f->oy + 1 < y1 ? box[3] - f->oy + 1 : y1;
        float acc[9][8] = {{0}}; /* [record entry][lane] */
        for (int y = ya; y < yb; y++) {
            float py = (float)(f->oy + y) + 0.5f;
            for (int k = 0; k < ng; k++) {
                int xs = x0 + 8 * k, axs = f->ox + xs;
                if (!cs__g2d_reaches(f->cull + g, py, (float)axs + 0.5f, (float)axs + 7.5f))
                    continue;
                for (int l = 0; l < 8; l++) {
                    float dx = ((float)(axs + l) + 0.5f) - f->gx[g], dy = py - f->gy[g];
                    float q = cs__g2d_q(ca, cb, cc, dx, dy);
                    float w = q <= CS_G2D_CUTOFF ? f->amp[g] * cs__g2d_expq(q) : 0.0f;
                    bool valid = xs + l < x1;
                    size_t pix = (size_t)y * (size_t)f->width + (size_t)(xs + l);
                    const float *G = valid ? bw->d_out + pix * (size_t)C : NULL;
                    float wi, dw = 0.0f, inv = 0.0f;
                    if (topk) {
                        int tl = (y - y0) * CS_G2D_TILE + 8 * k + l;
                        float thr = valid ? bw->sel->thr[pix] : 0.0f;
                        int quota = valid ? bw->sel->quota[pix] : 0;
                        bool incl = w > thr;
                        if (!incl && w == thr && w > 0.0f && quota > eqcnt[tl]) {
                            eqcnt[tl]++;
                            incl = true;
                        }
                        wi = incl ? w : 0.0f;
                        inv = valid ? bw->sel->inv[pix] : 0.0f;
                        for (int ch = 0; ch < C; ch++) {
                            float Gc = valid ? G[ch] : 0.0f;
                            float o = valid ? bw->out[pix * (size_t)C + ch] : 0.0f;
                            float t = Gc * (c[ch] - o);
                            dw = ch == 0 ? t : dw + t;
                            acc[5 + ch][l] = acc[5 + ch][l] + (Gc * wi) * inv;
                        }
                        dw = dw * inv;
                        acc[5 + C][l] = acc[5 + C][l] + wi * inv;
                    } else {
                        wi = w;
                        for (int ch = 0; ch < C; ch++) {
                            float Gc = valid ? G[ch] : 0.0f;
                            float t = Gc * c[ch];
                            dw = ch == 0 ? t : dw + t;
                            acc[5 + ch][l] = acc[5 + ch][l] + Gc * wi;
                        }
                        acc[5 + C][l] = acc[5 + C][l] + wi;
                    }
                    float dq = (wi * -0.5f) * dw, m = dq * -2.0f;
                    acc[0][l] = acc[0][l] + m * ((ca * dx) + (cb * dy));
                    acc[1][l] = acc[1][l] + m * ((cb * dx) + (cc * dy));
                    acc[2][l] = acc[2][l] + (dq * dx) * dx;
                    acc[3][l] = acc[3][l] + ((dq + dq) * dx) * dy;
                    acc[4][l] = acc[4][l] + (dq * dy) * dy;
                }
            }
        }
        float *rec = bw->rec + (size_t)pos * (size_t)R;
        for (int r = 0; r < R; r++) rec[r] = cs__g2d_hsum8(acc[r]);
    }
}

/* ---------------------------------------------------------------------------------------------
 * Driver: pass 1 per tile, pass 2 per Gaussian
 */
static cs__g2d_bwd_fn bwd_kernel(void) {
#if defined(__x86_64__)
    if (!cs__g2d_scalar_forced() && cs__cpu_has_avx2()) return cs__g2d_bwd_tile_avx2;
#endif
    return cs__g2d_bwd_tile_scalar;
}

typedef struct backward_job {
    const cs__g2d_frame *f;
    const cs_gimage_params *p;
    double sx, sy;
    cs__g2d_bwd bw;
    cs__g2d_bwd_fn kernel;
    float *d_xy, *d_chol, *d_colour, *mass;
} backward_job;

static void tiles_range(void *user, int64_t begin, int64_t end, int worker) {
    (void)worker;
    backward_job *job = user;
    for (int64_t t = begin; t < end; t++) job->kernel(&job->bw, (int)t);
}

static void gauss_range(void *user, int64_t begin, int64_t end, int worker) {
    (void)worker;
    backward_job *job = user;
    const cs__g2d_frame *f = job->f;
    const cs_gimage_params *p = job->p;
    int C = f->channels, R = 6 + C;
    for (int64_t i = begin; i < end; i++) {
        double s[9] = {0};
        for (int64_t j = f->inst_off[i]; j < f->inst_off[i + 1]; j++) {
            const float *r = job->bw.rec + (size_t)f->inst_pos[j] * (size_t)R;
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
        if (job->mass) job->mass[i] = (float)s[5 + C];
    }
}

void cs__g2d_backward(cs_context *ctx, const cs__g2d_frame *f, const cs_gimage_params *p,
                      float sx, float sy, const float *d_out, const float *out,
                      const cs__g2d_sel *sel, float *inst_grad, float *d_xy, float *d_chol,
                      float *d_colour, float *mass) {
    backward_job job = {f,      p,    sx,      sy,      {f, sel, d_out, out, inst_grad},
                        bwd_kernel(), d_xy, d_chol, d_colour, mass};
    cs__parallel_for(ctx, (int64_t)f->tiles_x * f->tiles_y, 2, tiles_range, &job);
    cs__parallel_for(ctx, f->count, 1024, gauss_range, &job);
}
