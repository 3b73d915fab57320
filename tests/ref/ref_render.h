/*
 * ref_render.h - the float64 naive reference of the 3DGS forward pass, written from the paper
 * and the reference rasterizer's rules (docs/DESIGN.md) independently of src/: no tiles lists,
 * no sorting per tile, no clipping, no threads, no SIMD. The production renderer is checked
 * against it; keep it simple rather than fast.
 *
 * The one place tiles appear is the reference's rule of which pixels a Gaussian reaches at all:
 * those of the 16x16 tiles its rectangle covers (the 3-sigma radius square rounded out to tiles).
 * It is part of what 3DGS renders (a high-opacity Gaussian can still have alpha >= 1/255 just
 * past 3 sigma), so ref_options.tile_support applies it; with 0 every Gaussian reaches every
 * pixel, which shows how much the rule matters.
 */
#ifndef CSPLAT_REF_RENDER_H
#define CSPLAT_REF_RENDER_H

#include "csplat.h"

typedef struct ref_options {
    double background[3];
    int sh_degree;         /* degree evaluated, 0 .. the scene's */
    double scale_modifier; /* 1 = none */
    int tile_support;      /* 1: the reference's tile-rectangle rule; 0: every pixel */
} ref_options;

/* One Gaussian after projection. */
typedef struct ref_splat {
    int visible;        /* in front of the near plane, det != 0, rectangle not empty */
    double u, v;        /* mean2D, pixel centres at +0.5 */
    double conic[3];    /* a, b, c */
    double cov2d[3];    /* dilated 2D covariance xx, xy, yy */
    double radius;      /* ceil(3 sqrt(lambda_max)) */
    int rect[4];        /* tiles x0, x1, y0, y1 (half open) */
    double depth, opacity, rgb[3];
} ref_splat;

/* Project Gaussian i of p through cam. */
void ref_project(const cs_scene_params *p, const cs_camera *cam, const ref_options *o,
                 int64_t i, ref_splat *out);

/* Render into rgb [H, W, 3], alpha [H, W], depth [H, W] (any may be NULL). Returns 0 when out
 * of memory, else 1. */
int ref_render(const cs_scene_params *p, const cs_camera *cam, const ref_options *o, double *rgb,
               double *alpha, double *depth);

#endif
