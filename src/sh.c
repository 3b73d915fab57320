/*
 * sh.c - the colour stage: view-dependent RGB of every splat that survived projection, from its
 * real spherical-harmonics coefficients, as the reference does it:
 *
 *   dir = normalize(mean - camera centre);  rgb = max(0, sum_k basis_k(dir) sh_k + 0.5)
 *
 * with the basis of gmath.h (degrees 0..3, the reference's constants and signs). Degrees above
 * args->degree are ignored, so a trainer can grow the degree over time with one storage layout.
 *
 * Shapes: means [N, 3], sh [N, K, 3] (coefficient-major, RGB interleaved) -> splats[i].rgb.
 * Culled splats (radius 0) are skipped: their SH is never read. The AVX2 twin is
 * cpu/sh_avx2.c.
 */
#include "gmath.h"
#include "render.h"

void cs__sh_range(const cs_sh_args *a, int64_t begin, int64_t end) {
    const float *c = a->view->campos;
    for (int64_t i = begin; i < end; i++) {
        cs_splat *s = &a->splats[i];
        if (!s->radius) continue;
        const float *m = a->means + 3 * i;
        float dir[3] = {m[0] - c[0], m[1] - c[1], m[2] - c[2]};
        cs_sh_color(a->degree, dir, a->sh + (size_t)i * 3 * (size_t)a->sh_coeffs, s->rgb);
    }
}

typedef struct sh_job {
    const cs_sh_args *args;
    cs_sh_kernel kernel;
} sh_job;

static void sh_task(void *user, int64_t begin, int64_t end, int worker) {
    (void)worker;
    const sh_job *job = user;
    job->kernel(job->args, begin, end);
}

void cs__sh_cpu(cs_context *ctx, const cs_sh_args *a, cs_sh_kernel kernel) {
    sh_job job = {a, kernel};
    cs__parallel_for(ctx, a->count, 4096, sh_task, &job);
}
