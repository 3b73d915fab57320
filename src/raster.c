/*
 * raster.c - the compositing stage: every tile walks its list of splats front to back and
 * blends them into its pixels with the reference 3DGS rule (forward.cu, renderCUDA):
 *
 *   d = mean2D - (i + 0.5, j + 0.5)                 (pixel (i, j) sampled at its centre)
 *   power = -0.5 (a dx^2 + c dy^2) - b dx dy;       skip when power > 0
 *   alpha = min(0.99, o exp(power));                skip when alpha < 1/255
 *   test_T = T (1 - alpha);                         when test_T < 1e-4 the pixel is done,
 *                                                   before this splat
 *   C += rgb alpha T;  T = test_T
 *
 * and finally rgb = C + T background, alpha = 1 - T, depth = sum(alpha T z) / sum(alpha T)
 * (0 where nothing was drawn). The float expressions are the reference's, in its order.
 *
 * A splat is evaluated only inside its tile's part of the bounding box of its alpha-support
 * ellipse (ext, from bin.c): pixels outside it have alpha < 1/255, so the clipping changes no
 * result, and small splats cost a few pixels instead of the whole tile. A tile stops walking its
 * list when all its pixels are done. Every pixel's result depends only on its own list order, so
 * the image is identical for any thread count.
 *
 * This file holds the scalar tile kernel (the reference for cpu/raster_avx2.c), the tile state
 * set-up and write-out both kernels share, and the threaded driver (tiles handed out one at a
 * time, since their costs differ by orders of magnitude).
 */
#include "render.h"

#include <math.h>
#include <string.h>

void cs__tile_begin(const cs_raster_args *a, int64_t tile, cs_tile_state *st) {
    const cs_view *v = a->view;
    st->x0 = (int)(tile % v->tiles_x) * CS_TILE;
    st->y0 = (int)(tile / v->tiles_x) * CS_TILE;
    st->w = v->width - st->x0 < CS_TILE ? v->width - st->x0 : CS_TILE;
    st->h = v->height - st->y0 < CS_TILE ? v->height - st->y0 : CS_TILE;
    st->alive = st->w * st->h;
    st->full_rows = (0xffffu << st->h) & 0xffffu;
    /* One plain loop per array, so each compiles to vector stores. */
    for (int p = 0; p < CS_TILE * CS_TILE; p++) st->t[p] = 1.0f;
    memset(st->c, 0, sizeof st->c);
    memset(st->d, 0, sizeof st->d);
    memset(st->wsum, 0, sizeof st->wsum);
    memset(st->last, 0, sizeof st->last);
    for (int j = 0; j < CS_TILE; j++)
        for (int i = 0; i < CS_TILE; i++)
            st->done[j * CS_TILE + i] = i < st->w && j < st->h ? 0u : ~0u;
}

void cs__tile_end(const cs_raster_args *a, const cs_tile_state *st) {
    const cs_view *v = a->view;
    /* One loop per output, so each is a plain (vectorizable) copy. */
    for (int j = 0; j < st->h; j++) {
        size_t o = (size_t)(st->y0 + j) * (size_t)v->width + (size_t)st->x0;
        const float *t = st->t + j * CS_TILE;
        for (int i = 0; i < st->w; i++) a->final_t[o + (size_t)i] = t[i];
        for (int i = 0; i < st->w; i++) a->n_contrib[o + (size_t)i] = st->last[j * CS_TILE + i];
        if (a->rgb) {
            float *rgb = a->rgb + 3 * o;
            const float *r = st->c[0] + j * CS_TILE, *g = st->c[1] + j * CS_TILE;
            const float *b = st->c[2] + j * CS_TILE, *bg = a->background;
            for (int i = 0; i < st->w; i++) {
                rgb[3 * i] = r[i] + t[i] * bg[0];
                rgb[3 * i + 1] = g[i] + t[i] * bg[1];
                rgb[3 * i + 2] = b[i] + t[i] * bg[2];
            }
        }
        if (a->alpha)
            for (int i = 0; i < st->w; i++) a->alpha[o + (size_t)i] = 1.0f - t[i];
        if (a->depth) {
            const float *d = st->d + j * CS_TILE, *w = st->wsum + j * CS_TILE;
            for (int i = 0; i < st->w; i++)
                a->depth[o + (size_t)i] = w[i] > 0.0f ? d[i] / w[i] : 0.0f;
        }
    }
}

void cs__raster_tile(const cs_raster_args *a, int64_t tile) {
    cs_tile_state st;
    cs__tile_begin(a, tile, &st);
    int64_t begin = a->ranges[tile], end = a->ranges[tile + 1];
    for (int64_t p = begin; p < end && st.alive > 0; p++) {
        const cs_splat *s = &a->splats[a->list[p]];
        int i0, i1, j0, j1;
        if (!cs__tile_clip(s, &st, &i0, &i1, &j0, &j1)) continue;
        if (!cs__tile_rows_alive(st.full_rows, &j0, &j1)) continue;
        uint32_t position = (uint32_t)(p - begin + 1);
        float ca = s->conic[0], cb = s->conic[1], cc = s->conic[2], o = s->opacity;
        for (int j = j0; j <= j1; j++) {
            float dy = s->y - ((float)(st.y0 + j) + 0.5f);
            for (int i = i0; i <= i1; i++) {
                int q = j * CS_TILE + i;
                if (st.done[q]) continue;
                float dx = s->x - ((float)(st.x0 + i) + 0.5f);
                float power = -0.5f * (ca * dx * dx + cc * dy * dy) - cb * dx * dy;
                if (power > 0.0f) continue;
                float alpha = o * expf(power);
                alpha = alpha < CS_ALPHA_MAX ? alpha : CS_ALPHA_MAX; /* fminf is a libm call */
                if (alpha < CS_ALPHA_MIN) continue;
                float t = st.t[q];
                float test_t = t * (1.0f - alpha);
                if (test_t < CS_T_MIN) {
                    st.done[q] = ~0u;
                    st.alive--;
                    bool full = true;
                    for (int k = 0; k < st.w; k++) full = full && st.done[j * CS_TILE + k];
                    if (full) st.full_rows |= 1u << j;
                    continue;
                }
                for (int ch = 0; ch < 3; ch++) st.c[ch][q] += s->rgb[ch] * alpha * t;
                st.d[q] += s->depth * alpha * t;
                st.wsum[q] += alpha * t;
                st.t[q] = test_t;
                st.last[q] = position;
            }
        }
    }
    cs__tile_end(a, &st);
}

typedef struct raster_job {
    const cs_raster_args *args;
    cs_raster_kernel kernel;
} raster_job;

static void raster_task(void *user, int64_t begin, int64_t end, int worker) {
    (void)worker;
    const raster_job *job = user;
    for (int64_t t = begin; t < end; t++) job->kernel(job->args, t);
}

void cs__raster_cpu(cs_context *ctx, const cs_raster_args *a, cs_raster_kernel kernel) {
    raster_job job = {a, kernel};
    int64_t tiles = (int64_t)a->view->tiles_x * a->view->tiles_y;
    cs__parallel_for(ctx, tiles, 1, raster_task, &job);
}
