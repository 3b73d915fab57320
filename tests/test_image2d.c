/*
 * test_image2d.c - 2D Gaussian images: gradients, reference comparison, path-vs-path identity,
 * any-scale rendering, SSIM, the .gsi format, fitting, and bad input.
 *
 * Numeric checks follow the house order: the float64 reference's analytic gradients against
 * central finite differences (random projection of the output), the float32 library against the
 * reference (forward max error, backward relative L2 per parameter group), then SIMD vs scalar
 * and 3 threads vs 1 bit for bit. Test scenes keep Gaussians at sigma >= 1.5 pixels so float32
 * rounding stays far from the q <= 9 cut-off and the top-K boundary in all but a few pixels.
 */
#include "image2d.h"
#include "render.h"
#include "ssim.h"
#include "ref/ref_image2d.h"
#include "test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------------------------
 * Scenes
 */
typedef struct scene2d {
    int n, C, W, H;
    cs_gimage_rule rule;
    cs_gimage *g;
    double *xy, *chol, *col; /* the same values as g's floats, in double */
} scene2d;

static scene2d make_scene(cs_context *ctx, int W, int H, int n, int C, cs_gimage_rule rule,
                          unsigned long long seed) {
    scene2d s = {n, C, W, H, rule, NULL, NULL, NULL, NULL};
    CHECK_OK(ctx, cs_gimage_create(ctx, W, H, C, rule, n, &s.g));
    cs_gimage_params p = cs_gimage_get_params(s.g);
    test_rng r = test_rng_seed(seed);
    for (int i = 0; i < n; i++) {
        p.xy[2 * i] = (float)(-3.0 + (W + 6.0) * test_rng_uniform(&r));
        p.xy[2 * i + 1] = (float)(-3.0 + (H + 6.0) * test_rng_uniform(&r));
        double s0 = 1.5 + 4.5 * test_rng_uniform(&r), s1 = 1.5 + 4.5 * test_rng_uniform(&r);
        p.chol[3 * i] = (float)log(s0);
        p.chol[3 * i + 1] = (float)((test_rng_uniform(&r) - 0.5) * s1);
        p.chol[3 * i + 2] = (float)log(s1);
        for (int c = 0; c < C; c++)
            p.colour[i * C + c] =
                (float)(rule == CS_GIMAGE_SUM ? 0.4 * test_rng_uniform(&r) : test_rng_uniform(&r));
    }
    s.xy = malloc(sizeof(double) * 2 * n);
    s.chol = malloc(sizeof(double) * 3 * n);
    s.col = malloc(sizeof(double) * (size_t)(n * C));
    for (int i = 0; i < 2 * n; i++) s.xy[i] = p.xy[i];
    for (int i = 0; i < 3 * n; i++) s.chol[i] = p.chol[i];
    for (int i = 0; i < n * C; i++) s.col[i] = p.colour[i];
    return s;
}

static void free_scene(scene2d *s) {
    cs_gimage_destroy(s->g);
    free(s->xy);
    free(s->chol);
    free(s->col);
}

static ref_g2d ref_of(const scene2d *s) {
    return (ref_g2d){s->n, s->C, (int)s->rule, s->xy, s->chol, s->col};
}

/* Relative L2 error of a against b. */
static double rel_l2(const double *a, const double *b, int n) {
    double num = 0.0, den = 0.0;
    for (int i = 0; i < n; i++) {
        num += (a[i] - b[i]) * (a[i] - b[i]);
        den += b[i] * b[i];
    }
    return sqrt(num / (den > 0.0 ? den : 1e-300));
}

/* Per-pixel selection buffers for a W x H window. */
static cs__g2d_sel sel_alloc(int W, int H) {
    size_t n = (size_t)W * (size_t)H;
    return (cs__g2d_sel){calloc(n, sizeof(float)), calloc(n, sizeof(float)), calloc(n, 1)};
}

static void sel_free(cs__g2d_sel *s) {
    free(s->thr);
    free(s->inv);
    free(s->quota);
}

/* The library's render at scale (sx, sy) through the internal stages (no clamp). */
static float *lib_render(cs_context *ctx, const scene2d *s, float sx, float sy, bool footprint,
                         int ox, int oy, int W, int H, cs__g2d_frame *f, const cs__g2d_sel *sel) {
    float *out = malloc(sizeof(float) * (size_t)(W * H * s->C));
    CHECK_OK(ctx, cs__g2d_prepare(ctx, f, &s->g->p, s->rule, sx, sy, footprint, ox, oy, W, H));
    CHECK_OK(ctx, cs__g2d_bin(ctx, f));
    cs__g2d_forward(ctx, f, out, sel);
    return out;
}

/* The library's backward of L = sum(d_out * out) at scale (sx, sy) into one float array
 * [xy 2n | chol 3n | colour Cn]. */
static float *lib_backward(cs_context *ctx, const scene2d *s, float sx, float sy, int W, int H,
                           const float *d_out) {
    cs__g2d_frame f = {0};
    cs__g2d_sel sel = sel_alloc(W, H);
    float *out = lib_render(ctx, s, sx, sy, false, 0, 0, W, H, &f, &sel);
    int n = s->n;
    float *grad = malloc(sizeof(float) * (size_t)(n * (5 + s->C)));
    float *inst = malloc(sizeof(float) * (size_t)(f.n_inst * (6 + s->C) + 1));
    cs__g2d_backward(ctx, &f, &s->g->p, sx, sy, d_out, out, &sel, inst, grad, grad + 2 * n,
                     grad + 5 * n, NULL);
    sel_free(&sel);
    free(inst);
    free(out);
    cs__g2d_frame_free(&f);
    return grad;
}

/* ---------------------------------------------------------------------------------------------
 * Gradients
 */
static double ref_projected(const ref_g2d *m, int W, int H, double sx, double sy, const double *r) {
    double *out = malloc(sizeof(double) * (size_t)(W * H * m->channels));
    ref_g2d_render(m, W, H, sx, sy, 0, out);
    double L = 0.0;
    for (int i = 0; i < W * H * m->channels; i++) L += r[i] * out[i];
    free(out);
    return L;
}

TEST(image2d_ref_gradients_match_finite_differences) {
    cs_context *ctx = test_context(1);
    for (int rule = 0; rule < 2; rule++)
        for (int variant = 0; variant < 2; variant++) {
            int W = 23, H = 19, C = variant ? 1 : 3, n = 24;
            double sx = variant ? 1.3 : 1.0, sy = variant ? 0.8 : 1.0;
            int Wo = (int)(W * sx), Ho = (int)(H * sy);
            scene2d s = make_scene(ctx, W, H, n, C, (cs_gimage_rule)rule, 11 + rule + 2 * variant);
            ref_g2d m = ref_of(&s);
            test_rng r = test_rng_seed(5);
            double *proj = malloc(sizeof(double) * (size_t)(Wo * Ho * C));
            for (int i = 0; i < Wo * Ho * C; i++) proj[i] = test_rng_normal(&r);
            double *an = malloc(sizeof(double) * (size_t)(n * (5 + C)));
            double *fd = malloc(sizeof(double) * (size_t)(n * (5 + C)));
            ref_g2d_backward(&m, Wo, Ho, sx, sy, proj, an, an + 2 * n, an + 5 * n);
            double *groups[3] = {s.xy, s.chol, s.col};
            int sizes[3] = {2 * n, 3 * n, C * n}, offs[3] = {0, 2 * n, 5 * n};
            const double h = 1e-6;
            for (int gi = 0; gi < 3; gi++)
                for (int k = 0; k < sizes[gi]; k++) {
                    double keep = groups[gi][k];
                    groups[gi][k] = keep + h;
                    double lp = ref_projected(&m, Wo, Ho, sx, sy, proj);
                    groups[gi][k] = keep - h;
                    double lm = ref_projected(&m, Wo, Ho, sx, sy, proj);
                    groups[gi][k] = keep;
                    fd[offs[gi] + k] = (lp - lm) / (2 * h);
                }
            for (int gi = 0; gi < 3; gi++) {
                double e = rel_l2(an + offs[gi], fd + offs[gi], sizes[gi]);
                CHECK_MSG(e < 1e-5, "rule %d variant %d group %d: rel L2 %g", rule, variant, gi, e);
                if (gi == 0)
                    test_note("rule %d scale %.1fx%.1f: FD rel L2 xy %.2e", rule, sx, sy, e);
            }
            free(proj);
            free(an);
            free(fd);
            free_scene(&s);
        }
    cs_context_destroy(ctx);
}

TEST(image2d_backward_matches_reference) {
    cs_context *ctx = test_context(2);
    for (int rule = 0; rule < 2; rule++)
        for (int variant = 0; variant < 2; variant++) {
            int W = 37, H = 29, C = variant ? 1 : 3, n = 40;
            float sx = variant ? 1.5f : 1.0f, sy = variant ? 0.75f : 1.0f;
            int Wo = (int)(W * sx), Ho = (int)(H * sy);
            scene2d s = make_scene(ctx, W, H, n, C, (cs_gimage_rule)rule, 31 + rule + 2 * variant);
            ref_g2d m = ref_of(&s);
            test_rng r = test_rng_seed(9);
            int np = Wo * Ho * C;
            double *proj = malloc(sizeof(double) * (size_t)np);
            float *projf = malloc(sizeof(float) * (size_t)np);
            for (int i = 0; i < np; i++) projf[i] = (float)(proj[i] = test_rng_normal(&r));
            double *ref = malloc(sizeof(double) * (size_t)(n * (5 + C)));
            double *lib = malloc(sizeof(double) * (size_t)(n * (5 + C)));
            ref_g2d_backward(&m, Wo, Ho, sx, sy, proj, ref, ref + 2 * n, ref + 5 * n);
            float *g = lib_backward(ctx, &s, sx, sy, Wo, Ho, projf);
            for (int i = 0; i < n * (5 + C); i++) lib[i] = g[i];
            const char *names[3] = {"position", "cholesky", "colour"};
            int sizes[3] = {2 * n, 3 * n, C * n}, offs[3] = {0, 2 * n, 5 * n};
            for (int gi = 0; gi < 3; gi++) {
                double e = rel_l2(lib + offs[gi], ref + offs[gi], sizes[gi]);
                CHECK_MSG(e < 1e-3, "rule %d scale %gx%g %s: rel L2 %g", rule, (double)sx,
                          (double)sy, names[gi], e);
                test_note("rule %d scale %gx%g %s: rel L2 %.2e", rule, (double)sx, (double)sy,
                          names[gi], e);
            }
            free(g);
            free(proj);
            free(projf);
            free(ref);
            free(lib);
            free_scene(&s);
        }
    cs_context_destroy(ctx);
}

/* ---------------------------------------------------------------------------------------------
 * Forward
 */
TEST(image2d_forward_matches_reference) {
    cs_context *ctx = test_context(2);
    for (int rule = 0; rule < 2; rule++)
        for (int variant = 0; variant < 3; variant++) {
            int W = 37, H = 29, n = 40, C = 3;
            /* 1: plain; 2: upscale 1.7 x 1.3; 3: downscale 0.45 x 0.6 with the footprint filter */
            float sx = variant == 0 ? 1.0f : variant == 1 ? 1.7f : 0.45f;
            float sy = variant == 0 ? 1.0f : variant == 1 ? 1.3f : 0.6f;
            int Wo = (int)lround(W * (double)sx), Ho = (int)lround(H * (double)sy);
            scene2d s = make_scene(ctx, W, H, n, C, (cs_gimage_rule)rule, 50 + rule);
            ref_g2d m = ref_of(&s);
            double *ref = malloc(sizeof(double) * (size_t)(Wo * Ho * C));
            /* the public render's exact scale is Wo / W, Ho / H */
            ref_g2d_render(&m, Wo, Ho, (double)Wo / W, (double)Ho / H, variant == 2, ref);
            cs_image img;
            cs_gimage_render_desc d = {.width = Wo, .height = Ho};
            CHECK_OK(ctx, cs_gimage_render(ctx, s.g, &d, &img));
            double maxe = 0.0;
            for (int i = 0; i < Wo * Ho * C; i++) {
                double rv = ref[i] < 0 ? 0 : ref[i] > 1 ? 1 : ref[i];
                double e = fabs((double)img.data[i] - rv);
                maxe = e > maxe ? e : maxe;
            }
            CHECK_MSG(maxe < 2e-5, "rule %d variant %d: max error %g", rule, variant, maxe);
            test_note("rule %d %dx%d: max |lib - ref| %.2e", rule, Wo, Ho, maxe);
            cs_image_free(&img);
            free(ref);
            free_scene(&s);
        }
    cs_context_destroy(ctx);
}

/* Duplicate every Gaussian of a scene three times (exact weight ties, more than K at a pixel). */
static void add_duplicates(cs_context *ctx, scene2d *s) {
    cs_gimage_params p = cs_gimage_get_params(s->g);
    cs_gimage *d;
    CHECK_OK(ctx, cs_gimage_create(ctx, s->W, s->H, s->C, s->rule, 3 * s->n, &d));
    cs_gimage_params q = cs_gimage_get_params(d);
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < s->n; i++) {
            int j = k * s->n + i;
            memcpy(q.xy + 2 * j, p.xy + 2 * i, 2 * sizeof(float));
            memcpy(q.chol + 3 * j, p.chol + 3 * i, 3 * sizeof(float));
            for (int c = 0; c < s->C; c++) q.colour[j * s->C + c] = (float)(0.1 * k) + 0.2f * c;
        }
    cs_gimage_destroy(s->g);
    s->g = d;
    s->n *= 3;
}

/* Which threshold network a SIMD top-K kernel runs, counted per pixel group of gw x gh (AVX2:
 * 8 x 1, AVX-512: 4 x 4) as it decides: from each pixel's number of positive weights (q <= 9)
 * among the tile's list. paths[0]: no pixel over K (no network), [1]: the shallow one (every
 * pixel <= K + 4), [2]: the full one. */
static void count_paths(const cs__g2d_frame *f, int gw, int gh, int paths[3]) {
    for (int t = 0; t < f->tiles_x * f->tiles_y; t++) {
        int x0 = t % f->tiles_x * CS_G2D_TILE, y0 = t / f->tiles_x * CS_G2D_TILE;
        int x1 = x0 + CS_G2D_TILE < f->width ? x0 + CS_G2D_TILE : f->width;
        int y1 = y0 + CS_G2D_TILE < f->height ? y0 + CS_G2D_TILE : f->height;
        for (int ys = y0; ys < y1; ys += gh)
            for (int xs = x0; xs < x1; xs += gw) {
                int most = 0;
                for (int y = ys; y < ys + gh && y < y1; y++)
                    for (int x = xs; x < xs + gw && x < x1; x++) {
                        int cnt = 0;
                        for (int64_t p = f->tile_off[t]; p < f->tile_off[t + 1]; p++) {
                            int32_t g = f->tile_gauss[p];
                            cnt += cs__g2d_q(f->ca[g], f->cb[g], f->cc[g],
                                             (float)(f->ox + x) + 0.5f - f->gx[g],
                                             (float)(f->oy + y) + 0.5f - f->gy[g]) <= CS_G2D_CUTOFF;
                        }
                        most = cnt > most ? cnt : most;
                    }
                paths[most <= CS_G2D_K ? 0 : most <= CS_G2D_K + 4 ? 1 : 2]++;
            }
    }
}

/* Each SIMD tile kernel the CPU has (AVX2; AVX-512) against the scalar one: images, top-K
 * selections and the gradients that follow from them, bit for bit. Windows are not multiples of
 * the tile or of either kernel's pixel group; scenes have exact weight ties at the threshold
 * (duplicated Gaussians), one or three channels, and one renders a window at an offset and a
 * scale with the footprint filter. */
TEST(image2d_simd_matches_scalar_bit_exact) {
    if (!cs__cpu_has_avx2()) SKIP("no AVX2 on this CPU");
    cs_context *ctx = test_context(1);
    static const struct {
        int rule, dup, C, ox, oy;
        float scale;
    } variants[] = {{0, 0, 3, 0, 0, 1.0f}, {1, 0, 3, 0, 0, 1.0f}, {0, 1, 3, 0, 0, 1.0f},
                    {1, 1, 3, 0, 0, 1.0f}, {0, 0, 1, 0, 0, 1.0f}, {1, 0, 1, 0, 0, 1.0f},
                    {0, 0, 3, 7, 5, 0.7f}};
    const int nv = (int)(sizeof variants / sizeof variants[0]);
    int levels = cs__cpu_has_avx512() ? 2 : 1;
    if (levels == 1) test_note("no AVX-512 on this CPU: the AVX2 kernel only");
    for (int level = CS_SIMD_AVX2; level <= levels; level++) {
        int paths[3] = {0, 0, 0};
        for (int v = 0; v < nv; v++) {
            int rule = variants[v].rule, W = 61, H = 45, C = variants[v].C;
            int ox = variants[v].ox, oy = variants[v].oy;
            float sc = variants[v].scale;
            bool windowed = ox != 0 || sc != 1.0f;
            scene2d s = make_scene(ctx, W, H, variants[v].dup ? 80 : 150, C, (cs_gimage_rule)rule,
                                   70 + (unsigned long long)v);
            if (variants[v].dup) add_duplicates(ctx, &s);
            float *proj = malloc(sizeof(float) * W * H * C);
            test_rng r = test_rng_seed(12);
            for (int i = 0; i < W * H * C; i++) proj[i] = (float)test_rng_normal(&r);
            cs__g2d_frame f = {0};
            cs__g2d_sel sa = sel_alloc(W, H), sb = sel_alloc(W, H);
            cs__g2d_force_level(CS_SIMD_SCALAR);
            float *a = lib_render(ctx, &s, sc, sc, windowed, ox, oy, W, H, &f, &sa);
            float *ga = windowed ? NULL : lib_backward(ctx, &s, 1.0f, 1.0f, W, H, proj);
            cs__g2d_force_level(level);
            float *b = lib_render(ctx, &s, sc, sc, windowed, ox, oy, W, H, &f, &sb);
            float *gb = windowed ? NULL : lib_backward(ctx, &s, 1.0f, 1.0f, W, H, proj);
            cs__g2d_force_level(-1);
            CHECK_MSG(memcmp(a, b, sizeof(float) * W * H * C) == 0, "level %d variant %d: images",
                      level, v);
            if (rule == 0)
                count_paths(&f, level == CS_SIMD_AVX2 ? 8 : 4, level == CS_SIMD_AVX2 ? 1 : 4,
                            paths);
            for (int i = 0; rule == 0 && i < W * H; i++)
                if (sa.thr[i] != sb.thr[i] || sa.inv[i] != sb.inv[i] ||
                    sa.quota[i] != sb.quota[i]) {
                    test_fail(__FILE__, __LINE__,
                              "level %d variant %d pixel %d: selection thr %g/%g inv %g/%g "
                              "quota %d/%d",
                              level, v, i, (double)sa.thr[i], (double)sb.thr[i], (double)sa.inv[i],
                              (double)sb.inv[i], sa.quota[i], sb.quota[i]);
                    break;
                }
            if (!windowed)
                CHECK_MSG(memcmp(ga, gb, sizeof(float) * s.n * (5 + C)) == 0,
                          "level %d variant %d: gradients", level, v);
            if (v == 2) { /* the ties really happen: some pixel admits fewer ties than exist */
                int limited = 0;
                for (int i = 0; i < W * H; i++) limited += sa.quota[i] < 3 && sa.thr[i] > 0.0f;
                CHECK(limited > 0);
            }
            free(a);
            free(b);
            free(ga);
            free(gb);
            free(proj);
            sel_free(&sa);
            sel_free(&sb);
            cs__g2d_frame_free(&f);
            free_scene(&s);
        }
        test_note("%s: top-K groups without a network %d, shallow %d, full %d",
                  level == CS_SIMD_AVX2 ? "AVX2" : "AVX-512", paths[0], paths[1], paths[2]);
        CHECK(paths[0] > 0 && paths[1] > 0 && paths[2] > 0);
    }
    /* SSIM kernels too. */
    int W = 53, H = 21, C = 3;
    float *x = malloc(sizeof(float) * W * H * C), *y = malloc(sizeof(float) * W * H * C);
    float *da = calloc((size_t)(W * H * C), sizeof(float)), *db = calloc((size_t)(W * H * C), 4);
    test_rng r = test_rng_seed(3);
    for (int i = 0; i < W * H * C; i++) {
        y[i] = (float)test_rng_uniform(&r);
        x[i] = y[i] * 0.7f + 0.3f * (float)test_rng_uniform(&r);
    }
    cs__ssim *ss;
    CHECK_OK(ctx, cs__ssim_create(ctx, W, H, C, &ss));
    cs__ssim_force_scalar(1);
    cs__ssim_set_reference(ctx, ss, y);
    double va = cs__ssim_eval(ctx, ss, x, da, 1.0f);
    cs__ssim_force_scalar(0);
    cs__ssim_set_reference(ctx, ss, y);
    double vb = cs__ssim_eval(ctx, ss, x, db, 1.0f);
    cs__ssim_force_scalar(-1);
    CHECK(va == vb);
    CHECK(memcmp(da, db, sizeof(float) * W * H * C) == 0);
    cs__ssim_destroy(ss);
    free(x);
    free(y);
    free(da);
    free(db);
    cs_context_destroy(ctx);
}

TEST(image2d_threads_bit_identical) {
    cs_context *c1 = test_context(1), *c3 = test_context(3);
    for (int rule = 0; rule < 2; rule++) {
        int W = 70, H = 50, C = 3, n = 200;
        scene2d s = make_scene(c1, W, H, n, C, (cs_gimage_rule)rule, 90 + rule);
        float *proj = malloc(sizeof(float) * W * H * C);
        test_rng r = test_rng_seed(4);
        for (int i = 0; i < W * H * C; i++) proj[i] = (float)test_rng_normal(&r);
        cs__g2d_frame f1 = {0}, f3 = {0};
        float *a = lib_render(c1, &s, 1.0f, 1.0f, false, 0, 0, W, H, &f1, NULL);
        float *b = lib_render(c3, &s, 1.0f, 1.0f, false, 0, 0, W, H, &f3, NULL);
        CHECK(memcmp(a, b, sizeof(float) * W * H * C) == 0);
        float *ga = lib_backward(c1, &s, 1.0f, 1.0f, W, H, proj);
        float *gb = lib_backward(c3, &s, 1.0f, 1.0f, W, H, proj);
        CHECK(memcmp(ga, gb, sizeof(float) * n * (5 + C)) == 0);
        free(a);
        free(b);
        free(ga);
        free(gb);
        free(proj);
        cs__g2d_frame_free(&f1);
        cs__g2d_frame_free(&f3);
        free_scene(&s);
    }
    cs_context_destroy(c1);
    cs_context_destroy(c3);
}

TEST(image2d_crop_equals_full_render) {
    cs_context *ctx = test_context(2);
    for (int rule = 0; rule < 2; rule++) {
        scene2d s = make_scene(ctx, 80, 60, 150, 3, (cs_gimage_rule)rule, 110 + rule);
        cs_image full, crop;
        cs_gimage_render_desc d = {.scale = 1.37f};
        CHECK_OK(ctx, cs_gimage_render(ctx, s.g, &d, &full));
        d.crop_x = 23;
        d.crop_y = 17;
        d.crop_w = 41;
        d.crop_h = 29;
        CHECK_OK(ctx, cs_gimage_render(ctx, s.g, &d, &crop));
        CHECK(crop.width == 41 && crop.height == 29 && full.width == 110 && full.height == 82);
        int bad = 0;
        for (int y = 0; y < 29; y++)
            bad += memcmp(crop.data + (size_t)y * 41 * 3,
                          full.data + ((size_t)(y + 17) * full.width + 23) * 3,
                          sizeof(float) * 41 * 3) != 0;
        CHECK_MSG(bad == 0, "rule %d: %d crop rows differ from the full render", rule, bad);
        cs_image_free(&crop);
        d.crop_x = 100; /* 100 + 41 > 110 */
        CHECK(cs_gimage_render(ctx, s.g, &d, &crop) == CS_ERR_ARGUMENT && crop.data == NULL);
        CHECK(strstr(cs_context_last_error(ctx), "crop") != NULL);
        cs_image_free(&full);
        free_scene(&s);
    }
    cs_context_destroy(ctx);
}

/* Fine stripes (period 2.5 pixels, well resolved at full size, 1.6 cycles per output pixel at
 * 1/4 scale, far above its Nyquist limit of 0.5): with the footprint filter the 1/4 render keeps
 * the mean brightness (the amplitude factor conserves each Gaussian's integral) and is nearly
 * flat, where plain point sampling of the full render aliases into a moire. */
TEST(image2d_downscale_does_not_alias) {
    cs_context *ctx = test_context(2);
    int W = 128, H = 64, per_col = 40, cols = 52;
    cs_gimage *g;
    CHECK_OK(ctx, cs_gimage_create(ctx, W, H, 1, CS_GIMAGE_SUM, per_col * cols, &g));
    cs_gimage_params p = cs_gimage_get_params(g);
    for (int c = 0; c < cols; c++)
        for (int k = 0; k < per_col; k++) {
            int i = c * per_col + k;
            p.xy[2 * i] = 2.5f * (float)c + 0.3f;
            p.xy[2 * i + 1] = 1.6f * (float)k;
            p.chol[3 * i] = logf(0.6f);
            p.chol[3 * i + 1] = 0.0f;
            p.chol[3 * i + 2] = logf(1.2f);
            p.colour[i] = 0.35f;
        }
    cs_image full, small;
    CHECK_OK(ctx, cs_gimage_render(ctx, g, &(cs_gimage_render_desc){.scale = 1.0f}, &full));
    CHECK_OK(ctx, cs_gimage_render(ctx, g, &(cs_gimage_render_desc){.scale = 0.25f}, &small));
    CHECK(small.width == 32 && small.height == 16);
    /* Interior statistics (the stripes end near the right border). */
    double mean_full = 0.0, mean = 0.0, var = 0.0, mean_pt = 0.0, var_pt = 0.0;
    int n = 0, nf = 0;
    for (int y = 8; y < 56; y++)
        for (int x = 8; x < 120; x++, nf++) mean_full += (double)full.data[y * W + x];
    mean_full /= nf;
    for (int y = 2; y < 14; y++)
        for (int x = 2; x < 30; x++, n++) {
            mean += (double)small.data[y * 32 + x];
            mean_pt += (double)full.data[(4 * y + 2) * W + 4 * x + 2];
        }
    mean /= n;
    mean_pt /= n;
    for (int y = 2; y < 14; y++)
        for (int x = 2; x < 30; x++) {
            double a = (double)small.data[y * 32 + x] - mean;
            double b = (double)full.data[(4 * y + 2) * W + 4 * x + 2] - mean_pt;
            var += a * a;
            var_pt += b * b;
        }
    double sd = sqrt(var / n), sd_pt = sqrt(var_pt / n);
    test_note("1/4 scale: mean %.4f (full %.4f); std dev %.4f, point sampling %.4f", mean,
              mean_full, sd, sd_pt);
    CHECK(fabs(mean - mean_full) < 0.01 * mean_full);
    CHECK(sd_pt > 0.1);
    CHECK(sd < 0.05 * sd_pt);
    cs_image_free(&full);
    cs_image_free(&small);
    cs_gimage_destroy(g);
    cs_context_destroy(ctx);
}

/* ---------------------------------------------------------------------------------------------
 * SSIM
 */
TEST(ssim_matches_reference_and_finite_differences) {
    cs_context *ctx = test_context(2);
    int W = 23, H = 17, C = 3, n = W * H * C;
    float *x = malloc(sizeof(float) * n), *y = malloc(sizeof(float) * n);
    float *d = calloc((size_t)n, sizeof(float));
    double *xd = malloc(sizeof(double) * n), *yd = malloc(sizeof(double) * n);
    test_rng r = test_rng_seed(8);
    for (int i = 0; i < n; i++) {
        int px = (i / C) % W, py = i / C / W;
        y[i] = (float)(0.5 + 0.3 * sin(0.4 * px + 0.2 * py) + 0.1 * test_rng_uniform(&r));
        x[i] = (float)((double)y[i] + 0.1 * test_rng_normal(&r));
        xd[i] = x[i];
        yd[i] = y[i];
    }
    cs__ssim *s;
    CHECK_OK(ctx, cs__ssim_create(ctx, W, H, C, &s));
    cs__ssim_set_reference(ctx, s, y);
    double v = cs__ssim_eval(ctx, s, x, d, 1.0f), rv = ref_ssim(xd, yd, W, H, C);
    CHECK_NEAR(v, rv, 2e-6);
    double maxg = 0.0, maxe = 0.0;
    for (int i = 0; i < n; i += 7) {
        double keep = xd[i], h = 1e-5;
        xd[i] = keep + h;
        double p = ref_ssim(xd, yd, W, H, C);
        xd[i] = keep - h;
        double m = ref_ssim(xd, yd, W, H, C);
        xd[i] = keep;
        double fd = (p - m) / (2 * h);
        maxg = fabs(fd) > maxg ? fabs(fd) : maxg;
        double e = fabs(fd - (double)d[i]);
        maxe = e > maxe ? e : maxe;
    }
    test_note("mean SSIM %.6f (ref %.6f); gradient max error %.2e of max %.2e", v, rv, maxe, maxg);
    CHECK(maxe < 1e-3 * maxg);
    cs_image a = {W, H, C, x}, b = {W, H, C, y};
    double psnr, ss;
    CHECK_OK(ctx, cs_image_quality(ctx, &a, &b, &psnr, &ss));
    CHECK_NEAR(ss, rv, 2e-6);
    CHECK(psnr > 15 && psnr < 25);
    cs__ssim_destroy(s);
    free(x);
    free(y);
    free(d);
    free(xd);
    free(yd);
    cs_context_destroy(ctx);
}
