/*
 * sh_bwd.c - the backward of the colour stage (sh.c): per visible Gaussian, dL/drgb of its splat
 * to dL/d(SH coefficients) and to dL/dmean through the view direction dir = mean - camera
 * centre, with the forward's max(0, .) clamp (read from the splat's rgb) and direction
 * normalisation (gmath_bwd.h,
 * cs_sh_color_bwd). Only the evaluated bands (args->degree) get gradients; the coefficients of
 * higher bands are left untouched (their gradient is 0).
 *
 * Shapes: means [N, 3], sh [N, K, 3], d_splats [N] -> d_sh [N, K, 3] (added), d_dir [N, 3]
 * (written; project_bwd.c adds it to the mean's gradient).
 */
#include "gmath_bwd.h"
#include "train_render.h"

void cs__sh_bwd_range(const cs_sh_bwd_args *a, int64_t begin, int64_t end) {
    const float *c = a->view->campos;
    size_t stride = 3 * (size_t)a->sh_coeffs;
    for (int64_t i = begin; i < end; i++) {
        if (!a->splats[i].radius) continue;
        const float *m = a->means + 3 * i;
        float dir[3] = {m[0] - c[0], m[1] - c[1], m[2] - c[2]};
        /* dir = mean - centre: d mean = d dir. */
        float *d_dir = a->d_dir + 3 * i;
        d_dir[0] = d_dir[1] = d_dir[2] = 0.0f;
        cs_sh_color_bwd(a->degree, dir, a->sh + (size_t)i * stride, a->splats[i].rgb,
                        a->d_splats[i].rgb, a->d_sh + (size_t)i * stride, d_dir);
    }
}
