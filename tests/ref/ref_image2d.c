/*
 * ref_image2d.c - the float64 reference of 2D Gaussian images and SSIM (see ref_image2d.h).
 *
 * Written from the definitions, not from src/: the covariance is formed as a matrix and inverted
 * by its adjugate, and the backward goes through matrix calculus,
 *     dL/dP = sum dL/dq d d^T   (P = Sigma'^-1, q = d^T P d),
 *     dL/dSigma' = -P dL/dP P,  dL/dSigma = S dL/dSigma' S,  dL/dL = (G + G^T) L,
 * rather than through closed-form conic derivatives as the library does.
 */
#include "ref_image2d.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define REF_K 10
#define REF_EPS 1e-6

typedef struct gauss {
    double mx, my;       /* output-space mean */
    double P[2][2];      /* inverse covariance */
    double amp;
    double L[2][2];
} gauss;

static gauss make_gauss(const ref_g2d *m, int i, double sx, double sy, int footprint) {
    gauss g;
    double L[2][2] = {{exp(m->chol[3 * i]), 0.0}, {m->chol[3 * i + 1], exp(m->chol[3 * i + 2])}};
    memcpy(g.L, L, sizeof L);
    double S[2] = {sx, sy}, Sig[2][2];
    for (int r = 0; r < 2; r++)
        for (int c = 0; c < 2; c++) {
            double v = 0.0;
            for (int k = 0; k < 2; k++) v += L[r][k] * L[c][k];
            Sig[r][c] = S[r] * v * S[c];
        }
    double det0 = Sig[0][0] * Sig[1][1] - Sig[0][1] * Sig[1][0];
    if (footprint) {
        if (sx < 1.0) Sig[0][0] += (1.0 - sx * sx) / 12.0;
        if (sy < 1.0) Sig[1][1] += (1.0 - sy * sy) / 12.0;
    }
    double det = Sig[0][0] * Sig[1][1] - Sig[0][1] * Sig[1][0];
    g.P[0][0] = Sig[1][1] / det;
    g.P[1][1] = Sig[0][0] / det;
    g.P[0][1] = g.P[1][0] = -Sig[0][1] / det;
    g.amp = sqrt(det0 / det);
    g.mx = sx * m->xy[2 * i];
    g.my = sy * m->xy[2 * i + 1];
    return g;
}

static double weight(const gauss *g, double px, double py, double d[2]) {
    d[0] = px - g->mx;
    d[1] = py - g->my;
    double q = 0.0;
    for (int r = 0; r < 2; r++)
        for (int c = 0; c < 2; c++) q += d[r] * g->P[r][c] * d[c];
    return q <= 9.0 ? g->amp * exp(-0.5 * q) : 0.0;
}

typedef struct entry {
    double w;
    int i;
} entry;

static int by_weight(const void *a, const void *b) {
    const entry *x = a, *y = b;
    if (x->w != y->w) return x->w > y->w ? -1 : 1;
    return x->i - y->i;
}

/* The contributing Gaussians of a pixel (all with w > 0, or the top K), in e[]; returns count. */
static int contributors(const ref_g2d *m, const gauss *gs, double px, double py, entry *e) {
    int n = 0;
    for (int i = 0; i < m->n; i++) {
        double d[2];
        double w = weight(&gs[i], px, py, d);
        if (w > 0.0) e[n++] = (entry){w, i};
    }
    if (m->rule == 0) {
        qsort(e, (size_t)n, sizeof *e, by_weight);
        if (n > REF_K) n = REF_K;
    }
    return n;
}

static gauss *make_all(const ref_g2d *m, double sx, double sy, int footprint) {
    gauss *gs = malloc(sizeof *gs * (size_t)(m->n ? m->n : 1));
    for (int i = 0; i < m->n; i++) gs[i] = make_gauss(m, i, sx, sy, footprint);
    return gs;
}

void ref_g2d_render(const ref_g2d *m, int W, int H, double sx, double sy, int footprint,
                    double *out) {
    gauss *gs = make_all(m, sx, sy, footprint);
    entry *e = malloc(sizeof *e * (size_t)(m->n ? m->n : 1));
    int C = m->channels;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int n = contributors(m, gs, x + 0.5, y + 0.5, e);
            double acc[3] = {0, 0, 0}, sum = 0.0;
            for (int k = 0; k < n; k++) {
                sum += e[k].w;
                for (int c = 0; c < C; c++) acc[c] += e[k].w * m->colour[e[k].i * C + c];
            }
            for (int c = 0; c < C; c++)
                out[((size_t)y * W + x) * C + c] = m->rule == 0 ? acc[c] / (sum + REF_EPS) : acc[c];
        }
    free(e);
    free(gs);
}

void ref_g2d_backward(const ref_g2d *m, int W, int H, double sx, double sy, const double *d_out,
                      double *d_xy, double *d_chol, double *d_colour) {
    gauss *gs = make_all(m, sx, sy, 0);
    entry *e = malloc(sizeof *e * (size_t)(m->n ? m->n : 1));
    int C = m->channels, n = m->n;
    double(*gP)[2][2] = calloc((size_t)(n ? n : 1), sizeof *gP);
    double(*gmu)[2] = calloc((size_t)(n ? n : 1), sizeof *gmu);
    memset(d_colour, 0, sizeof(double) * (size_t)n * C);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            double px = x + 0.5, py = y + 0.5;
            int cnt = contributors(m, gs, px, py, e);
            const double *G = d_out + ((size_t)y * W + x) * C;
            double sum = 0.0, acc[3] = {0, 0, 0};
            for (int k = 0; k < cnt; k++) {
                sum += e[k].w;
                for (int c = 0; c < C; c++) acc[c] += e[k].w * m->colour[e[k].i * C + c];
            }
            for (int k = 0; k < cnt; k++) {
                int i = e[k].i;
                double w = e[k].w, dw = 0.0;
                for (int c = 0; c < C; c++) {
                    double ci = m->colour[i * C + c];
                    if (m->rule == 0) {
                        double out = acc[c] / (sum + REF_EPS);
                        d_colour[i * C + c] += G[c] * w / (sum + REF_EPS);
                        dw += G[c] * (ci - out) / (sum + REF_EPS);
                    } else {
                        d_colour[i * C + c] += G[c] * w;
                        dw += G[c] * ci;
                    }
                }
                double dq = -0.5 * w * dw, d[2];
                weight(&gs[i], px, py, d);
                for (int r = 0; r < 2; r++) {
                    double Pd = gs[i].P[r][0] * d[0] + gs[i].P[r][1] * d[1];
                    gmu[i][r] += dq * -2.0 * Pd;
                    for (int c = 0; c < 2; c++) gP[i][r][c] += dq * d[r] * d[c];
                }
            }
        }
    double S[2] = {sx, sy};
    for (int i = 0; i < n; i++) {
        double(*P)[2] = gs[i].P;
        double gSp[2][2], gSig[2][2], gL[2][2];
        for (int r = 0; r < 2; r++)
            for (int c = 0; c < 2; c++) {
                double v = 0.0;
                for (int a = 0; a < 2; a++)
                    for (int b = 0; b < 2; b++) v += P[r][a] * gP[i][a][b] * P[b][c];
                gSp[r][c] = -v;
            }
        for (int r = 0; r < 2; r++)
            for (int c = 0; c < 2; c++) gSig[r][c] = S[r] * gSp[r][c] * S[c];
        for (int r = 0; r < 2; r++)
            for (int c = 0; c < 2; c++) {
                double v = 0.0;
                for (int k = 0; k < 2; k++) v += (gSig[r][k] + gSig[k][r]) * gs[i].L[k][c];
                gL[r][c] = v;
            }
        d_xy[2 * i] = S[0] * gmu[i][0];
        d_xy[2 * i + 1] = S[1] * gmu[i][1];
        d_chol[3 * i] = gL[0][0] * gs[i].L[0][0];
        d_chol[3 * i + 1] = gL[1][0];
        d_chol[3 * i + 2] = gL[1][1] * gs[i].L[1][1];
    }
    free(gP);
    free(gmu);
    free(e);
    free(gs);
}

double ref_ssim(const double *x, const double *y, int W, int H, int C) {
    double g[11], gs = 0.0;
    for (int k = 0; k < 11; k++) {
        g[k] = exp(-(k - 5) * (k - 5) / (2.0 * 1.5 * 1.5));
        gs += g[k];
    }
    for (int k = 0; k < 11; k++) g[k] /= gs;
    const double C1 = 0.01 * 0.01, C2 = 0.03 * 0.03;
    double total = 0.0;
    for (int py = 0; py < H; py++)
        for (int px = 0; px < W; px++)
            for (int c = 0; c < C; c++) {
                double mx = 0, my = 0, xx = 0, yy = 0, xy = 0;
                for (int v = 0; v < 11; v++)
                    for (int u = 0; u < 11; u++) {
                        int sx = px + u - 5, sy = py + v - 5;
                        if (sx < 0 || sy < 0 || sx >= W || sy >= H) continue;
                        double wgt = g[u] * g[v];
                        double a = x[((size_t)sy * W + sx) * C + c];
                        double b = y[((size_t)sy * W + sx) * C + c];
                        mx += wgt * a;
                        my += wgt * b;
                        xx += wgt * a * a;
                        yy += wgt * b * b;
                        xy += wgt * a * b;
                    }
                double vx = xx - mx * mx, vy = yy - my * my, cxy = xy - mx * my;
                total += (2 * mx * my + C1) * (2 * cxy + C2) /
                         ((mx * mx + my * my + C1) * (vx + vy + C2));
            }
    return total / ((double)W * H * C);
}
