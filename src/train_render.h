/*
 * train_render.h - rendering for training: a forward pass that keeps what the backward needs,
 * and the analytic backward pass from dL/d(image) to dL/d(every scene parameter). Internal to
 * libcsplat; the trainer (and tests) use it, users do not.
 *
 *     cs_scene *grads;                                  // same count and SH degree as scene
 *     cs_scene_create(ctx, n, degree, &grads);          // then zero its quats (create sets w = 1)
 *     cs__train_forward(r, scene, cam, &opts, &rgb);    // rgb [H, W, 3]
 *     ... d_rgb [H, W, 3] = dL/drgb from the loss ...
 *     cs__train_backward(r, scene, cam, &opts, &d_rgb, grads, &stats);   // adds into grads
 *
 * The forward is cs_renderer_render (its rules are the specification: render.h, DESIGN.md). The
 * backward is the exact gradient of that forward, including its cut-offs: no gradient through an
 * alpha clamped at 0.99 or through a channel clamped by max(0, .), nothing from splats skipped
 * below alpha 1/255 or after the transmittance stop, the Jacobian clamp differentiated as the
 * piecewise function it is (gmath_bwd.h). Stages, each next to its forward:
 *
 *   raster_bwd.c   per tile, back to front from each pixel's last contributor, with the forward's
 *                  final T: dL/d(mean2D, conic, opacity, rgb) per (tile, splat) pair, no atomics;
 *                  then a reduction over each splat's tiles in tile order
 *   sh_bwd.c       dL/drgb -> dL/dSH (active bands), dL/dmean through the view direction
 *   project_bwd.c  dL/d(mean2D, conic, opacity) -> dL/d(mean, log-scale, quaternion, logit)
 *
 * Determinism: every sum has a fixed order (pixels of a tile in row order, tiles in index order,
 * Gaussians independently), so the gradients are bit-identical for any thread count.
 *
 * Gradients are w.r.t. the stored parameters: the unnormalised quaternion, the log-scales, the
 * opacity logit, every SH coefficient (0 for bands above the evaluated degree).
 */
#ifndef CSPLAT_TRAIN_RENDER_H
#define CSPLAT_TRAIN_RENDER_H

#include "render.h"

/* Per-view statistics of a backward pass, arrays of the scene's count (caller-owned). */
typedef struct cs_train_view_stats {
    float *mean2d_grad_norm; /* [N] |dL/d mean2D| in NDC units (pixel gradient times (W/2, H/2)),
                                as 3DGS accumulates for densification (x, y only); 0 when not
                                visible */
    int32_t *radii;          /* [N] screen radius in pixels, 0 = not visible in this view */
    /* Filled by every backward (milliseconds): the compositing backward, the per-splat sums, the
     * per-Gaussian SH + projection backward, and the whole call. */
    double ms_raster, ms_reduce, ms_gaussians, ms_total;
} cs_train_view_stats;

/* Forward for training: renders rgb (may be NULL) exactly as cs_renderer_render and keeps in the
 * renderer what cs__train_backward needs. */
cs_status cs__train_forward(cs_renderer *r, const cs_scene *scene, const cs_camera *cam,
                            const cs_render_options *opts, cs_image *rgb);

/* Backward of the last cs__train_forward (or cs_renderer_render) of this renderer, which must
 * have been called with the same scene, camera and options, unmodified since: d_rgb [H, W, 3] =
 * dL/drgb. ADDS dL/d(parameters) into grads (a scene of the same count and SH degree) and fills
 * stats (either may be NULL). CS_ERR_ARGUMENT when the shapes disagree. */
cs_status cs__train_backward(cs_renderer *r, const cs_scene *scene, const cs_camera *cam,
                             const cs_render_options *opts, const cs_image *d_rgb, cs_scene *grads,
                             cs_train_view_stats *stats);

/* ---- backward stages (one argument struct each, like render.h's forward stages) ---- */

/* dL/d(the fields of one splat that depend on parameters). 36 bytes. */
typedef struct cs_splat_grad {
    float x, y;     /* mean2D, pixels */
    float conic[3]; /* stored a, b, c */
    float opacity;  /* sigmoid(logit), not the logit */
    float rgb[3];
} cs_splat_grad;

typedef struct cs_raster_bwd_args {
    const cs_view *view;
    const cs_splat *splats;    /* [N] the forward's */
    const int64_t *ranges;     /* [tiles + 1] */
    const uint32_t *list;      /* [M] */
    const float *final_t;      /* [H, W] */
    const uint32_t *n_contrib; /* [H, W] */
    float background[3];
    const float *d_rgb;    /* [H, W, 3] dL/drgb */
    cs_splat_grad *d_list; /* [M] out: gradient of the splat at each list entry from its tile's
                              pixels (zero past the tile's last contributor) */
    uint32_t *tile_last;   /* [tiles] out: largest last-contributor position of each tile */
} cs_raster_bwd_args;

/* Per-pixel backward state of one tile, row-major like cs_tile_state, shared by the scalar kernel
 * and its SIMD twins; rows 64-byte aligned. */
typedef struct cs_bwd_state {
    _Alignas(64) float t[CS_TILE * CS_TILE];       /* T before the splat being visited */
    _Alignas(64) float dp[3][CS_TILE * CS_TILE];   /* dL/dC */
    _Alignas(64) float acc[3][CS_TILE * CS_TILE];  /* A: colour behind the splat being visited */
    _Alignas(64) float bgt[CS_TILE * CS_TILE];     /* -T_N bg . dL/dC */
    _Alignas(64) uint32_t last[CS_TILE * CS_TILE]; /* 1 + list position of the last drawn; 0
                                                     outside (below 2^31: the list is) */
} cs_bwd_state;

/* A tile's set-up, the same for every kernel: its geometry (the fields cs__tile_clip reads), the
 * pixel state from the forward's outputs, tile_last[tile], and the tile's d_list records zeroed.
 * Returns the tile's largest last-contributor count. */
uint32_t cs__raster_bwd_begin(const cs_raster_bwd_args *a, int64_t tile, cs_tile_state *geo,
                              cs_bwd_state *b);

/* Backward of one tile: the scalar kernel (raster_bwd.c) and its AVX2+FMA and AVX-512 twins
 * (cpu/raster_bwd_avx2.c, cpu/raster_bwd_avx512.c), each the partner of the forward kernel of
 * the same kind. */
typedef void (*cs_raster_bwd_kernel)(const cs_raster_bwd_args *a, int64_t tile);
void cs__raster_bwd_tile(const cs_raster_bwd_args *a, int64_t tile);
void cs__raster_bwd_tile_avx2(const cs_raster_bwd_args *a, int64_t tile);
void cs__raster_bwd_tile_avx512(const cs_raster_bwd_args *a, int64_t tile);
/* Every tile, threaded. */
void cs__raster_bwd_cpu(cs_context *ctx, const cs_raster_bwd_args *a, cs_raster_bwd_kernel kernel);

typedef struct cs_reduce_args {
    const cs_view *view;
    const int64_t *ranges;       /* [tiles + 1] */
    const uint32_t *list;        /* [M] */
    const uint32_t *tile_last;   /* [tiles] */
    const cs_splat_grad *d_list; /* [M] */
    int64_t count;               /* N */
    cs_splat_grad *d_splats;     /* [N] out: each splat's sum over its tiles, in tile order */
} cs_reduce_args;

/* Sum the per-entry gradients of cs__raster_bwd_cpu per splat. The splat range is split over the
 * threads; each thread walks all tiles in order, so every sum has the same order for any thread
 * count. */
void cs__raster_bwd_reduce_cpu(cs_context *ctx, const cs_reduce_args *a);

typedef struct cs_project_bwd_args {
    const cs_view *view;
    int64_t count;           /* N */
    const float *means;      /* [N, 3] */
    const float *log_scales; /* [N, 3] */
    const float *quats;      /* [N, 4] */
    float scale_modifier;
    const cs_splat *splats;        /* [N] the forward's (radius 0 = not visible: skipped) */
    const cs_splat_grad *d_splats; /* [N] */
    const float *d_dir;            /* [N, 3] dL/dmean through the view direction (sh_bwd) */
    float *d_means;                /* [N, 3] added to, once: projection + d_dir */
    float *d_log_scales;           /* [N, 3] added to */
    float *d_quats;                /* [N, 4] added to */
    float *d_opacities;            /* [N] added to (w.r.t. the logit) */
} cs_project_bwd_args;

void cs__project_bwd_range(const cs_project_bwd_args *a, int64_t begin, int64_t end);

typedef struct cs_sh_bwd_args {
    const cs_view *view;
    int64_t count;                 /* N */
    const float *means;            /* [N, 3] */
    const float *sh;               /* [N, K, 3] */
    int sh_coeffs;                 /* K */
    int degree;                    /* evaluated degree */
    const cs_splat *splats;        /* [N] (radius 0 = skipped) */
    const cs_splat_grad *d_splats; /* [N] (rgb is read) */
    float *d_sh;                   /* [N, K, 3] added to */
    float *d_dir;                  /* [N, 3] out: dL/dmean through the view direction (for
                                      project_bwd, which adds it to the mean's gradient, so that
                                      every gradient element is added to exactly once) */
} cs_sh_bwd_args;

void cs__sh_bwd_range(const cs_sh_bwd_args *a, int64_t begin, int64_t end);

#endif /* CSPLAT_TRAIN_RENDER_H */
