/*
 * render.h - the rasterizer's stages inside libcsplat: one argument struct per stage, shared by
 * every backend, and the backend function table (ggml style) that renderer.c calls.
 *
 * Pipeline of one frame (N Gaussians, W x H pixels, TX x TY tiles of 16 x 16):
 *
 *   project  scene SoA -> splats[N]: mean2D, conic, opacity, depth, radius, support box, tiles
 *   sh       scene SH  -> splats[i].rgb for the splats that survived projection
 *   sort     splats    -> order[V]: indices of the V visible splats, stable-sorted by depth
 *   bin      order     -> ranges[TX*TY + 1], list[M]: per tile, its splats in depth order
 *   raster   lists     -> rgb, alpha, depth images; final T and last contributor per pixel
 *
 * Sorting by the key (tile, depth) is done as an LSD radix sort whose depth digits run once per
 * Gaussian (sort) and whose tile digit is one counting pass that also duplicates each Gaussian
 * into its tiles (bin). It yields exactly the order of the reference's stable radix sort of
 * (tile << 32 | depth bits) keys, ties in depth broken by Gaussian index, while sorting V rather
 * than M keys.
 *
 * The stage outputs are what the backward pass needs: the splats (radii, conics, means2D,
 * colours), the per-tile ranges and lists, and per pixel the final transmittance and the
 * position of the last contributing Gaussian. A trainer may call the stages itself through
 * cs__render_backend_cpu(), or read a renderer's last frame with cs__renderer_frame(). The
 * list holds splat indices (not positions in depth order), so per-Gaussian gradients can be
 * accumulated by index.
 *
 * Shapes are in comments as [rows, cols]; counts that can pass 2^31 are int64_t. Gaussian
 * indices are uint32_t (renderer.c rejects scenes of 2^31 Gaussians or more).
 */
#ifndef CSPLAT_RENDER_H
#define CSPLAT_RENDER_H

#include "gmath.h"
#include "internal.h"

#include <math.h>

/* One projected Gaussian, packed for the rasterizer: 64 bytes, one cache line when aligned. */
typedef struct cs_splat {
    float x, y;        /* mean2D in pixels; pixel (i, j) is centred at (i + 0.5, j + 0.5) */
    float conic[3];    /* a, b, c of [[a, b], [b, c]], the inverse dilated 2D covariance */
    float opacity;     /* sigmoid(logit) */
    float rgb[3];      /* max(0, SH(dir) + 0.5) (sh stage) */
    float depth;       /* view-space z */
    uint16_t box[4];   /* pixels i0, i1, j0, j1 (inclusive, within the image) whose centres
                          lie in the bounding box of the alpha >= 1/255 ellipse; i0 > i1 when
                          none. The rasterizer evaluates the splat only there. */
    int32_t radius;    /* ceil(3 sqrt(lambda_max)), capped at 2^30; 0 = culled */
    uint16_t rect[4];  /* tiles x0, x1, y0, y1 ([x0, x1) x [y0, y1)): the reference's rectangle
                          narrowed to the tiles of box (cs_support_box); empty (x0 == x1) when
                          the splat can draw nothing */
    float support;     /* cs_alpha_support(opacity): q = d^T conic d <= support can draw */
} cs_splat;

/* The camera as the stages use it, derived once per frame. */
typedef struct cs_view {
    float R[9], t[3];     /* world-to-camera, row-major */
    float fx, fy, cx, cy; /* pixels */
    float limx, limy;     /* 1.3 tan(fov/2): 1.3 * width / (2 fx), 1.3 * height / (2 fy) */
    float campos[3];      /* camera centre in world space, -R^T t */
    int width, height;
    int tiles_x, tiles_y;
} cs_view;

typedef struct cs_project_args {
    const cs_view *view;
    int64_t count;           /* N */
    const float *means;      /* [N, 3] */
    const float *log_scales; /* [N, 3] */
    const float *quats;      /* [N, 4] w, x, y, z */
    const float *opacities;  /* [N] logits */
    float scale_modifier;
    cs_splat *splats;        /* [N] out: every field but rgb */
} cs_project_args;

typedef struct cs_sh_args {
    const cs_view *view;
    int64_t count;        /* N */
    const float *means;   /* [N, 3] */
    const float *sh;      /* [N, K, 3] */
    int sh_coeffs;        /* K, the scene's stride */
    int degree;           /* evaluated degree, 0..3, with (degree + 1)^2 <= K */
    cs_splat *splats;     /* [N] in: radius (0 = skip); out: rgb */
} cs_sh_args;

typedef struct cs_sort_args {
    int64_t count;          /* N */
    const cs_splat *splats; /* [N] */
    int chunks;             /* parallel slices; the result does not depend on it */
    uint32_t *order;        /* [N] out: the first `visible` are sorted splat indices */
    uint32_t *keys;         /* [N] scratch */
    uint32_t *tmp_keys;     /* [N] scratch */
    uint32_t *tmp_order;    /* [N] scratch */
    int64_t *hist;          /* [chunks, CS_SORT_BUCKETS] scratch */
    int64_t visible;        /* out: V */
} cs_sort_args;

#define CS_SORT_BITS 11
#define CS_SORT_BUCKETS (1 << CS_SORT_BITS)

typedef struct cs_bin_args {
    const cs_view *view;
    const cs_splat *splats; /* [N] */
    const uint32_t *order;  /* [V] depth order */
    int64_t visible;        /* V */
    int chunks;             /* parallel slices of order; the result does not depend on it */
    int64_t *counts;        /* [chunks, tiles] scratch: per slice and tile, then its offsets */
    int64_t *ranges;        /* [tiles + 1] out: tile k's list is list[ranges[k], ranges[k+1]) */
    uint32_t *list;         /* [M] out (fill): splat indices, each tile's slice in depth order */
    int64_t intersections;  /* out (count): M */
} cs_bin_args;

typedef struct cs_raster_args {
    const cs_view *view;
    const cs_splat *splats;  /* [N] */
    const int64_t *ranges;   /* [tiles + 1] */
    const uint32_t *list;    /* [M] */
    float background[3];
    float *rgb;              /* [H, W, 3] out, or NULL */
    float *alpha;            /* [H, W] out, or NULL */
    float *depth;            /* [H, W] out, or NULL */
    float *final_t;          /* [H, W] out: transmittance after the last drawn Gaussian */
    uint32_t *n_contrib;     /* [H, W] out: 1 + list position (within the tile) of the last
                                Gaussian drawn, 0 when none; the backward walks back from it */
} cs_raster_args;

/* Per-pixel compositing state of one 16 x 16 tile, row-major, shared by the scalar and SIMD tile
 * kernels (raster.c, cpu/raster_avx2.c, cpu/raster_avx512.c); 8 KB, kept on the worker's stack,
 * rows 64-byte aligned. Pixels outside the image start done. */
typedef struct cs_tile_state {
    int x0, y0, w, h;          /* the tile's first pixel and size within the image */
    int alive;                 /* pixels not yet done */
    uint32_t full_rows;        /* bit j: every pixel of row j is done (rows past h from the
                                  start); splats skip such rows */
    _Alignas(64) float t[CS_TILE * CS_TILE];       /* transmittance T */
    _Alignas(64) float c[3][CS_TILE * CS_TILE];    /* accumulated colour, per channel */
    _Alignas(64) float d[CS_TILE * CS_TILE];       /* accumulated alpha T z */
    _Alignas(64) float wsum[CS_TILE * CS_TILE];    /* accumulated alpha T */
    _Alignas(64) uint32_t last[CS_TILE * CS_TILE]; /* 1 + list position of the last drawn */
    _Alignas(64) uint32_t done[CS_TILE * CS_TILE]; /* 0, or all ones once T would pass 1e-4 */
} cs_tile_state;

/* The splat's pixel box clipped to the tile, as tile-local [*i0, *i1] x [*j0, *j1]; false when
 * empty. */
static inline bool cs__tile_clip(const cs_splat *s, const cs_tile_state *st, int *i0, int *i1,
                                 int *j0, int *j1) {
    int a = s->box[0] - st->x0, b = s->box[1] - st->x0;
    int c = s->box[2] - st->y0, d = s->box[3] - st->y0;
    *i0 = a > 0 ? a : 0;
    *i1 = b < st->w - 1 ? b : st->w - 1;
    *j0 = c > 0 ? c : 0;
    *j1 = d < st->h - 1 ? d : st->h - 1;
    return *i0 <= *i1 && *j0 <= *j1;
}

/* Narrow rows [*j0, *j1] to the span of rows that still have a pixel not done; false when
 * every row of it is done (the splat can change nothing in this tile). */
static inline bool cs__tile_rows_alive(uint32_t full_rows, int *j0, int *j1) {
    uint32_t alive = (0xffffu >> (15 - *j1)) & (0xffffu << *j0) & ~full_rows;
    if (!alive) return false;
#if defined(__GNUC__) || defined(__clang__)
    *j0 = __builtin_ctz(alive);
    *j1 = 31 - __builtin_clz(alive);
#else
    while (!(alive >> *j0 & 1)) ++*j0;
    while (!(alive >> *j1 & 1)) --*j1;
#endif
    return true;
}

void cs__tile_begin(const cs_raster_args *a, int64_t tile, cs_tile_state *st);
/* Write the tile's pixels of every requested output. */
void cs__tile_end(const cs_raster_args *a, const cs_tile_state *st);

/* A backend: the stage entry points. The CPU backends run on the context's thread pool. */
typedef struct cs_render_backend {
    const char *name;
    int simd;
    void (*project)(cs_context *ctx, const cs_project_args *a);
    void (*sh)(cs_context *ctx, const cs_sh_args *a);
    void (*sort)(cs_context *ctx, cs_sort_args *a);
    /* bin in two calls: count fills ranges and intersections (the caller then sizes list),
     * fill writes list. */
    void (*bin_count)(cs_context *ctx, cs_bin_args *a);
    void (*bin_fill)(cs_context *ctx, cs_bin_args *a);
    void (*raster)(cs_context *ctx, const cs_raster_args *a);
} cs_render_backend;

/* What a frame left in a renderer's scratch (valid until its next render or destroy): the
 * inputs of a backward pass. */
typedef struct cs_render_frame {
    cs_view view;
    int64_t count, visible, intersections; /* N, V, M */
    const cs_splat *splats;                /* [N] */
    const uint32_t *order;                 /* [V] visible splats in depth order */
    const int64_t *ranges;                 /* [tiles + 1] */
    const uint32_t *list;                  /* [M] */
    const float *final_t;                  /* [H, W] */
    const uint32_t *n_contrib;             /* [H, W] */
    float background[3];
} cs_render_frame;

void cs__renderer_frame(const cs_renderer *renderer, cs_render_frame *out);

/* CPU kernel sets, in order of preference. */
typedef enum cs_simd_level {
    CS_SIMD_SCALAR, /* portable C */
    CS_SIMD_AVX2,   /* AVX2+FMA projection, SH and raster */
    CS_SIMD_AVX512  /* as AVX2, with the AVX-512 raster kernel */
} cs_simd_level;

/* The CPU backend with the best kernels the running CPU has, up to max_level. */
const cs_render_backend *cs__render_backend_cpu(cs_simd_level max_level);
/* True when the running CPU has AVX2 and FMA; AVX-512 F/BW/DQ/VL (and FMA). */
bool cs__cpu_has_avx2_fma(void);
bool cs__cpu_has_avx512(void);
/* Make r use this backend from its next render on (tests and benchmarks compare paths). */
void cs__renderer_set_backend(cs_renderer *r, const cs_render_backend *backend);

/* Derive the stage camera from a public one (tile grid, clamp limits, centre). */
void cs__view_init(cs_view *view, const cs_camera *cam);

/* ---- CPU stage drivers and kernels (the stage files and their cpu/..._avx2.c twins) ---- */
typedef void (*cs_project_kernel)(const cs_project_args *a, int64_t begin, int64_t end);
typedef void (*cs_sh_kernel)(const cs_sh_args *a, int64_t begin, int64_t end);
/* Composite one tile (index tile) completely, writing its pixels of every output. */
typedef void (*cs_raster_kernel)(const cs_raster_args *a, int64_t tile);

void cs__project_cpu(cs_context *ctx, const cs_project_args *a, cs_project_kernel kernel);
/* The last step of projection for a splat with its reference rectangle: support, box, rect. */
void cs__splat_support(const cs_view *v, cs_splat *s, int rect[4]);
void cs__project_range(const cs_project_args *a, int64_t begin, int64_t end);
void cs__project_range_avx2(const cs_project_args *a, int64_t begin, int64_t end);

void cs__sh_cpu(cs_context *ctx, const cs_sh_args *a, cs_sh_kernel kernel);
void cs__sh_range(const cs_sh_args *a, int64_t begin, int64_t end);
void cs__sh_range_avx2(const cs_sh_args *a, int64_t begin, int64_t end);

void cs__sort_cpu(cs_context *ctx, cs_sort_args *a);
void cs__bin_count_cpu(cs_context *ctx, cs_bin_args *a);
void cs__bin_fill_cpu(cs_context *ctx, cs_bin_args *a);

void cs__raster_cpu(cs_context *ctx, const cs_raster_args *a, cs_raster_kernel kernel);
void cs__raster_tile(const cs_raster_args *a, int64_t tile);
void cs__raster_tile_avx2(const cs_raster_args *a, int64_t tile);
void cs__raster_tile_avx512(const cs_raster_args *a, int64_t tile);

/* ---- For the backward pass (train_render.c, backward branch): a renderer keeps the backward's
 * scratch next to the forward's, so a warm training loop does not allocate. ---- */
typedef struct cs_train_scratch cs_train_scratch;
cs_context *cs__renderer_context(const cs_renderer *renderer);
/* The renderer's backward-scratch slot (NULL until the first backward). */
cs_train_scratch **cs__renderer_train_scratch(cs_renderer *renderer);
/* Frees a backward scratch (NULL allowed); cs_renderer_destroy calls it. */
void cs__train_scratch_destroy(cs_train_scratch *s);

#endif /* CSPLAT_RENDER_H */
