/*
 * test_render_paths.c - the renderer's paths against each other and against hand-computed
 * values: SIMD against scalar, N threads against one (bit-identical), the tile binning against
 * brute force, single Gaussians whose image is known in closed form, SH degree 0, alpha and
 * depth, background, empty scenes, bad arguments, no allocation once warm, allocation failures.
 */
#include "render.h"
#include "render_fixture.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct rendered {
    cs_image rgb, alpha, depth;
} rendered;

/* Render with the best kernels up to level (scalar, AVX2, AVX-512). */
static rendered render_all(cs_context *ctx, const cs_scene *scene, const cs_camera *cam,
                           const cs_render_options *opt, cs_simd_level level) {
    rendered out = {fixture_image(cam->width, cam->height, 3),
                    fixture_image(cam->width, cam->height, 1),
                    fixture_image(cam->width, cam->height, 1)};
    cs_renderer *r;
    CHECK_OK(ctx, cs_renderer_create(ctx, NULL, &r));
    cs__renderer_set_backend(r, cs__render_backend_cpu(level));
    CHECK_OK(ctx, cs_renderer_render(r, scene, cam, opt, &out.rgb, &out.alpha, &out.depth));
    cs_renderer_destroy(r);
    return out;
}

static void rendered_free(rendered *r) {
    fixture_image_free(&r->rgb);
    fixture_image_free(&r->alpha);
    fixture_image_free(&r->depth);
}

static cs_camera test_camera(int w, int h) {
    float eye[3] = {0, -6, 1}, target[3] = {0.3f, 0, 0};
    return fixture_camera(w, h, 0.9f * (float)w, eye, target, 3.5f, -2.25f);
}

TEST(render_simd_matches_scalar) {
    if (!cs__cpu_has_avx2_fma()) SKIP("this CPU has no AVX2+FMA; only the scalar kernels run");
    cs_context *ctx = test_context(2);
    static const int degrees[] = {0, 1, 2, 3};
    for (int c = 0; c < 4; c++) {
        cs_camera cam = test_camera(211, 157);
        cs_scene *scene = fixture_random_scene(ctx, &cam, 5000, degrees[c], 100 + (unsigned)c);
        rendered a = render_all(ctx, scene, &cam, NULL, CS_SIMD_SCALAR);
        rendered b = render_all(ctx, scene, &cam, NULL, CS_SIMD_AVX2);
        int64_t px = (int64_t)cam.width * cam.height;
        fixture_diff dc = fixture_compare_f(b.rgb.data, a.rgb.data, px, 3);
        fixture_diff da = fixture_compare_f(b.alpha.data, a.alpha.data, px, 1);
        fixture_diff dd = fixture_compare_f(b.depth.data, a.depth.data, px, 1);
        test_note("degree %d: rgb MAE %.3g max %.3g, %lld px off > 1/255; alpha MAE %.3g; depth "
                  "MAE %.3g",
                  degrees[c], dc.mae, dc.max, (long long)dc.over, da.mae, dd.mae);
        /* Rounding only (FMA, polynomial exp, ~1e-7 relative); a contribution within that of a
         * cut-off may flip, which the pixel count allows. */
        CHECK_MSG(dc.mae < 1e-6 && da.mae < 1e-6, "rgb MAE %g alpha MAE %g", dc.mae, da.mae);
        CHECK_MSG(dc.over_frac < 1e-4, "%lld pixels differ by more than 1/255", (long long)dc.over);
        CHECK_MSG(dd.mae < 1e-5, "depth MAE %g", dd.mae);
        rendered_free(&a);
        rendered_free(&b);
        cs_scene_destroy(scene);
    }
    cs_context_destroy(ctx);
}

/* The AVX-512 compositing kernel runs the AVX2 kernel's operations: identical images. */
TEST(render_avx512_matches_avx2_exactly) {
    if (!cs__cpu_has_avx512() || !cs__cpu_has_avx2_fma())
        SKIP("this CPU has no AVX-512 F/BW/DQ/VL; the AVX2 kernels run instead");
    cs_context *ctx = test_context(2);
    for (int c = 0; c < 3; c++) {
        cs_camera cam = test_camera(197 + 16 * c, 131);
        cs_scene *scene = fixture_random_scene(ctx, &cam, 4000, c + 1, 300 + (unsigned)c);
        rendered a = render_all(ctx, scene, &cam, NULL, CS_SIMD_AVX2);
        rendered b = render_all(ctx, scene, &cam, NULL, CS_SIMD_AVX512);
        size_t px = (size_t)cam.width * (size_t)cam.height;
        CHECK(memcmp(a.rgb.data, b.rgb.data, 3 * px * sizeof(float)) == 0);
        CHECK(memcmp(a.alpha.data, b.alpha.data, px * sizeof(float)) == 0);
        CHECK(memcmp(a.depth.data, b.depth.data, px * sizeof(float)) == 0);
        rendered_free(&a);
        rendered_free(&b);
        cs_scene_destroy(scene);
    }
    cs_context_destroy(ctx);
}

/* The projection and SH kernels field by field: the same visibility, and values within a few
 * float ulps (relative to the field's scale). */
TEST(render_simd_stage_kernels_match_scalar) {
    if (!cs__cpu_has_avx2_fma()) SKIP("this CPU has no AVX2+FMA; only the scalar kernels run");
    cs_context *ctx = test_context(1);
    cs_camera cam = test_camera(300, 200);
    cs_scene *scene = fixture_random_scene(ctx, &cam, 4003, 3, 7); /* not a multiple of 8 */
    cs_scene_params p = cs_scene_get_params(scene);
    cs_view view;
    cs__view_init(&view, &cam);
    cs_splat *a = calloc((size_t)p.count, sizeof *a), *b = calloc((size_t)p.count, sizeof *b);
    cs_project_args pa = {&view, p.count, p.means, p.log_scales, p.quats, p.opacities, 1.0f, a};
    cs__project_range(&pa, 0, p.count);
    pa.splats = b;
    cs__project_range_avx2(&pa, 0, p.count);
    cs_sh_args sa = {&view, p.count, p.means, p.sh, p.sh_coeffs, 3, a};
    cs__sh_range(&sa, 0, p.count);
    sa.splats = b;
    cs__sh_range_avx2(&sa, 0, p.count);
    int visible = 0, mismatch = 0, box_mismatch = 0;
    double worst = 0;
    for (int64_t i = 0; i < p.count; i++) {
        if ((a[i].radius != 0) != (b[i].radius != 0)) mismatch++;
        if (!a[i].radius || !b[i].radius) continue;
        visible++;
        CHECK(a[i].depth == b[i].depth); /* the sort key is computed identically */
        if (abs(a[i].radius - b[i].radius) > 1) mismatch++;
        /* support box and narrowed rectangle: the same double arithmetic on inputs that differ
         * by rounding; a pixel or tile border between them is rare */
        if (memcmp(a[i].box, b[i].box, sizeof a[i].box) ||
            memcmp(a[i].rect, b[i].rect, sizeof a[i].rect))
            box_mismatch++;
        const float fa[] = {a[i].x,       a[i].y,       a[i].conic[0], a[i].conic[1], a[i].conic[2],
                            a[i].opacity, a[i].support, a[i].rgb[0],   a[i].rgb[1],   a[i].rgb[2]};
        const float fb[] = {b[i].x,       b[i].y,       b[i].conic[0], b[i].conic[1], b[i].conic[2],
                            b[i].opacity, b[i].support, b[i].rgb[0],   b[i].rgb[1],   b[i].rgb[2]};
        /* scales: pixels for the mean, the conic's own magnitude, 1 for the rest */
        double conic_scale = fabs((double)a[i].conic[0]) + fabs((double)a[i].conic[2]);
        const double scale[] = {cam.width, cam.width, conic_scale, conic_scale, conic_scale,
                                1,         10,        1,           1,           1};
        for (int k = 0; k < 10; k++) {
            double e = fabs((double)fa[k] - (double)fb[k]) / scale[k];
            if (e > worst) worst = e;
        }
    }
    test_note("%d visible; %d visibility/radius mismatches, %d box/rectangle mismatches; worst "
              "scaled difference %.3g",
              visible, mismatch, box_mismatch, worst);
    CHECK(visible > 1000);
    CHECK_MSG(mismatch <= visible / 1000, "%d mismatches", mismatch);
    CHECK_MSG(box_mismatch <= visible / 1000, "%d box mismatches", box_mismatch);
    CHECK_MSG(worst < 2e-5, "worst scaled difference %g", worst);
    free(a);
    free(b);
    cs_scene_destroy(scene);
    cs_context_destroy(ctx);
}

TEST(render_threads_bit_identical) {
    cs_camera cam = test_camera(237, 173);
    cs_context *one = test_context(1);
    cs_scene *scene = fixture_random_scene(one, &cam, 6000, 3, 42);
    for (int level = CS_SIMD_SCALAR; level <= CS_SIMD_AVX512; level++) {
        rendered base = render_all(one, scene, &cam, NULL, (cs_simd_level)level);
        static const int threads[] = {2, 3, 5};
        for (int t = 0; t < 3; t++) {
            cs_context *ctx = test_context(threads[t]);
            rendered r = render_all(ctx, scene, &cam, NULL, (cs_simd_level)level);
            size_t px = (size_t)cam.width * (size_t)cam.height;
            CHECK_MSG(memcmp(base.rgb.data, r.rgb.data, 3 * px * sizeof(float)) == 0 &&
                          memcmp(base.alpha.data, r.alpha.data, px * sizeof(float)) == 0 &&
                          memcmp(base.depth.data, r.depth.data, px * sizeof(float)) == 0,
                      "%s, %d threads: image differs from 1 thread",
                      cs__render_backend_cpu((cs_simd_level)level)->name, threads[t]);
            rendered_free(&r);
            cs_context_destroy(ctx);
        }
        rendered_free(&base);
    }
    cs_scene_destroy(scene);
    cs_context_destroy(one);
}

/* Every pixel where a splat's alpha reaches 1/255 lies in a tile the splat is listed in and in
 * its clipping box, checked by brute force over the reference rectangle. */
TEST(render_binning_is_conservative) {
    cs_context *ctx = test_context(2);
    cs_camera cam = test_camera(203, 141);
    cs_scene *scene = fixture_random_scene(ctx, &cam, 3000, 0, 9);
    cs_renderer *r;
    CHECK_OK(ctx, cs_renderer_create(ctx, NULL, &r));
    CHECK_OK(ctx, cs_renderer_render(r, scene, &cam, NULL, NULL, NULL, NULL));
    cs_render_frame f;
    cs__renderer_frame(r, &f);
    int tiles = f.view.tiles_x * f.view.tiles_y;
    /* listed[g * tiles + t]: splat g is in tile t's list */
    unsigned char *listed = calloc((size_t)f.count * (size_t)tiles, 1);
    for (int t = 0; t < tiles; t++)
        for (int64_t k = f.ranges[t]; k < f.ranges[t + 1]; k++)
            listed[(size_t)f.list[k] * (size_t)tiles + (size_t)t] = 1;
    int64_t drawn = 0, missed_tile = 0, missed_box = 0, saved = 0;
    for (int64_t v = 0; v < f.visible; v++) {
        uint32_t g = f.order[v];
        const cs_splat *s = &f.splats[g];
        int rect[4];
        cs_tile_rect(s->x, s->y, (float)s->radius, f.view.tiles_x, f.view.tiles_y, rect);
        for (int ty = rect[2]; ty < rect[3]; ty++)
            for (int tx = rect[0]; tx < rect[1]; tx++) {
                int t = ty * f.view.tiles_x + tx, any = 0;
                for (int j = ty * 16; j < ty * 16 + 16 && j < cam.height; j++)
                    for (int i = tx * 16; i < tx * 16 + 16 && i < cam.width; i++) {
                        double dx = (double)s->x - (i + 0.5), dy = (double)s->y - (j + 0.5);
                        double q = (double)s->conic[0] * dx * dx + (double)s->conic[2] * dy * dy +
                                   2 * (double)s->conic[1] * dx * dy;
                        /* a hair below 1/255, so float rounding cannot hide a miss */
                        if ((double)s->opacity * exp(-0.5 * q) < (1.0 / 255.0) * (1 - 1e-5))
                            continue;
                        any = 1;
                        drawn++;
                        if (i < s->box[0] || i > s->box[1] || j < s->box[2] || j > s->box[3])
                            missed_box++;
                    }
                if (any && !listed[(size_t)g * (size_t)tiles + (size_t)t]) missed_tile++;
                if (!any && !listed[(size_t)g * (size_t)tiles + (size_t)t]) saved++;
            }
    }
    test_note("%lld drawable (splat, pixel) pairs; %lld rectangle tiles left out as unreachable",
              (long long)drawn, (long long)saved);
    CHECK(drawn > 10000 && saved > 0);
    CHECK_MSG(missed_tile == 0, "%lld tiles with drawable pixels not listed",
              (long long)missed_tile);
    CHECK_MSG(missed_box == 0, "%lld drawable pixels outside the clip box", (long long)missed_box);
    free(listed);
    cs_renderer_destroy(r);
    cs_scene_destroy(scene);
    cs_context_destroy(ctx);
}

/* A scene of one Gaussian at view-space (0, 0, z) of a camera at the origin looking down +z. */
static cs_scene *one_gaussian(cs_context *ctx, float z, float sigma, float opacity, int degree,
                              const float dc[3]) {
    cs_scene *s;
    CHECK_OK(ctx, cs_scene_create(ctx, 1, degree, &s));
    cs_scene_params p = cs_scene_get_params(s);
    p.means[2] = z;
    for (int k = 0; k < 3; k++) {
        p.log_scales[k] = logf(sigma);
        p.sh[k] = dc[k];
    }
    p.opacities[0] = logf(opacity / (1.0f - opacity));
    return s;
}

static cs_camera axis_camera(int w, int h, float f, float cx, float cy) {
    cs_camera cam;
    memset(&cam, 0, sizeof cam);
    cam.R[0] = cam.R[4] = cam.R[8] = 1.0f;
    cam.fx = cam.fy = f;
    cam.cx = cx;
    cam.cy = cy;
    cam.width = w;
    cam.height = h;
    return cam;
}

TEST(render_single_gaussian_closed_form) {
    cs_context *ctx = test_context(1);
    const float z = 4.0f, sigma = 0.05f, o = 0.7f, f = 100.0f;
    const float dc[3] = {0.5f, -0.25f, 1.0f};
    cs_scene *scene = one_gaussian(ctx, z, sigma, o, 0, dc);
    /* mean2D = (cx, cy) = the centre of pixel (20, 12) */
    cs_camera cam = axis_camera(48, 32, f, 20.5f, 12.5f);
    for (int level = CS_SIMD_SCALAR; level <= CS_SIMD_AVX512; level++) {
        cs_renderer *r;
        CHECK_OK(ctx, cs_renderer_create(ctx, NULL, &r));
        cs__renderer_set_backend(r, cs__render_backend_cpu((cs_simd_level)level));
        cs_image rgb = fixture_image(48, 32, 3), alpha = fixture_image(48, 32, 1);
        cs_image depth = fixture_image(48, 32, 1);
        cs_render_options opt = {.background = {0.1f, 0.2f, 0.3f}};
        CHECK_OK(ctx, cs_renderer_render(r, scene, &cam, &opt, &rgb, &alpha, &depth));
        cs_render_frame fr;
        cs__renderer_frame(r, &fr);
        /* screen variance var = sigma^2 f^2 / z^2 + 0.3. The reference's radius uses
         * lambda = mid + sqrt(max(0.1, mid^2 - det)), which for an isotropic splat is
         * var + sqrt(0.1), not var. */
        double var = (double)(sigma * sigma * f * f / (z * z)) + 0.3;
        CHECK(fr.visible == 1);
        CHECK(fr.splats[0].radius == (int)ceil(3 * sqrt(var + sqrt(0.1))));
        CHECK_NEAR(fr.splats[0].conic[0], 1 / var, 1e-6);
        CHECK_NEAR(fr.splats[0].conic[1], 0, 1e-9);
        CHECK_NEAR(fr.splats[0].x, 20.5, 1e-5);
        double colour[3];
        for (int k = 0; k < 3; k++) colour[k] = fmax(0, 0.28209479177387814 * (double)dc[k] + 0.5);
        /* the centre pixel: alpha = o exactly; two pixels right: o exp(-2 / var) */
        const int xs[] = {20, 22, 20}, ys[] = {12, 12, 15};
        for (int k = 0; k < 3; k++) {
            double d2 = (xs[k] - 20) * (xs[k] - 20) + (ys[k] - 12) * (ys[k] - 12);
            double a = (double)o * exp(-0.5 * d2 / var);
            size_t q = (size_t)ys[k] * 48 + (size_t)xs[k];
            CHECK_NEAR(alpha.data[q], a, 1e-6);
            CHECK_NEAR(depth.data[q], z, 1e-5);
            for (int ch = 0; ch < 3; ch++)
                CHECK_NEAR(rgb.data[3 * q + ch],
                           a * colour[ch] + (1 - a) * (double)opt.background[ch], 1e-6);
        }
        /* far away: background, alpha 0, depth 0 */
        CHECK(rgb.data[0] == 0.1f && rgb.data[1] == 0.2f && rgb.data[2] == 0.3f);
        CHECK(alpha.data[0] == 0.0f && depth.data[0] == 0.0f);
        fixture_image_free(&rgb);
        fixture_image_free(&alpha);
        fixture_image_free(&depth);
        cs_renderer_destroy(r);
    }
    cs_scene_destroy(scene);
    cs_context_destroy(ctx);
}

/* Two overlapping Gaussians: front-to-back compositing and the expected depth by hand. */
TEST(render_two_gaussians_composite_and_depth) {
    cs_context *ctx = test_context(1);
    cs_scene *s;
    CHECK_OK(ctx, cs_scene_create(ctx, 2, 0, &s));
    cs_scene_params p = cs_scene_get_params(s);
    const float z[2] = {5.0f, 3.0f}, o[2] = {0.6f, 0.5f}; /* index 1 is in front */
    const float dc[2][3] = {{1, 0, 0}, {0, 1, 0}};
    for (int g = 0; g < 2; g++) {
        p.means[3 * g + 2] = z[g];
        for (int k = 0; k < 3; k++) {
            p.log_scales[3 * g + k] = logf(0.1f);
            p.sh[3 * g + k] = dc[g][k];
        }
        p.opacities[g] = logf(o[g] / (1 - o[g]));
    }
    cs_camera cam = axis_camera(32, 32, 80.0f, 16.5f, 16.5f);
    cs_image rgb = fixture_image(32, 32, 3), alpha = fixture_image(32, 32, 1);
    cs_image depth = fixture_image(32, 32, 1);
    cs_renderer *r;
    CHECK_OK(ctx, cs_renderer_create(ctx, NULL, &r));
    CHECK_OK(ctx, cs_renderer_render(r, s, &cam, NULL, &rgb, &alpha, &depth));
    size_t q = 16 * 32 + 16; /* the common centre: alpha = opacity for both */
    double a1 = (double)o[1], a0 = (double)o[0], t1 = 1 - a1;
    double c[2][3];
    for (int g = 0; g < 2; g++)
        for (int k = 0; k < 3; k++) c[g][k] = 0.28209479177387814 * (double)dc[g][k] + 0.5;
    for (int k = 0; k < 3; k++)
        CHECK_NEAR(rgb.data[3 * q + k], a1 * c[1][k] + t1 * a0 * c[0][k], 1e-6);
    CHECK_NEAR(alpha.data[q], 1 - t1 * (1 - a0), 1e-6);
    CHECK_NEAR(depth.data[q], (a1 * (double)z[1] + t1 * a0 * (double)z[0]) / (a1 + t1 * a0), 1e-5);
    cs_render_frame fr;
    cs__renderer_frame(r, &fr);
    CHECK(fr.order[0] == 1 && fr.order[1] == 0); /* depth order */
    CHECK(fr.n_contrib[q] == 2);
    CHECK_NEAR(fr.final_t[q], t1 * (1 - a0), 1e-6);
    fixture_image_free(&rgb);
    fixture_image_free(&alpha);
    fixture_image_free(&depth);
    cs_renderer_destroy(r);
    cs_scene_destroy(s);
    cs_context_destroy(ctx);
}

/* An opaque stack stops before the Gaussian that would take T below 1e-4: alpha clamps at
 * 0.99, so T goes 1, 0.01, then about 1e-4, where float rounding decides; nothing after. */
TEST(render_transmittance_stop) {
    cs_context *ctx = test_context(1);
    cs_scene *s;
    CHECK_OK(ctx, cs_scene_create(ctx, 4, 0, &s));
    cs_scene_params p = cs_scene_get_params(s);
    for (int g = 0; g < 4; g++) {
        p.means[3 * g + 2] = 2.0f + (float)g;
        for (int k = 0; k < 3; k++) p.log_scales[3 * g + k] = logf(0.2f);
        p.sh[3 * g] = (float)g; /* distinct red per layer */
        p.opacities[g] = 20.0f; /* sigmoid ~ 1: alpha clamps to 0.99 */
    }
    cs_camera cam = axis_camera(16, 16, 40.0f, 8.5f, 8.5f);
    cs_image rgb = fixture_image(16, 16, 3);
    cs_renderer *r;
    CHECK_OK(ctx, cs_renderer_create(ctx, NULL, &r));
    CHECK_OK(ctx, cs_renderer_render(r, s, &cam, NULL, &rgb, NULL, NULL));
    cs_render_frame fr;
    cs__renderer_frame(r, &fr);
    size_t q = 8 * 16 + 8;
    /* T: 1 -> 0.01 -> 1e-4 (float: 0.01f * 0.01f rounds to just below or above 1e-4) */
    float t2 = (1.0f * (1.0f - 0.99f)) * (1.0f - 0.99f);
    int expected = t2 < CS_T_MIN ? 1 : 2;
    CHECK_MSG((int)fr.n_contrib[q] == expected, "n_contrib %u, expected %d", fr.n_contrib[q],
              expected);
    CHECK(fr.final_t[q] >= CS_T_MIN);
    fixture_image_free(&rgb);
    cs_renderer_destroy(r);
    cs_scene_destroy(s);
    cs_context_destroy(ctx);
}

TEST(render_sh_degree0_view_independent) {
    cs_context *ctx = test_context(1);
    const float dc[3] = {0.3f, -0.7f, 0.1f};
    cs_scene *s = one_gaussian(ctx, 0.0f, 0.2f, 0.9f, 3, dc);
    cs_scene_params p = cs_scene_get_params(s);
    p.means[2] = 0.0f; /* at the world origin */
    test_rng rng = test_rng_seed(5);
    for (int k = 3; k < 48; k++) p.sh[k] = (float)test_rng_normal(&rng);
    double first[3] = {0}, spread_dc = 0, spread_full = 0;
    for (int v = 0; v < 6; v++) {
        double ang = 1.1 * v;
        float eye[3] = {(float)(4 * cos(ang)), (float)(4 * sin(ang)), (float)(0.5 * v - 1)};
        float target[3] = {0, 0, 0};
        cs_camera cam = fixture_camera(33, 33, 60.0f, eye, target, 0.0f, 0.0f);
        cs_render_options dc_only = {.sh_bands = 1}, full = {0};
        cs_image a = fixture_image(33, 33, 3), b = fixture_image(33, 33, 3);
        cs_renderer *r;
        CHECK_OK(ctx, cs_renderer_create(ctx, NULL, &r));
        CHECK_OK(ctx, cs_renderer_render(r, s, &cam, &dc_only, &a, NULL, NULL));
        CHECK_OK(ctx, cs_renderer_render(r, s, &cam, &full, &b, NULL, NULL));
        size_t q = 16 * 33 + 16;
        for (int k = 0; k < 3; k++) {
            if (v == 0) first[k] = (double)a.data[3 * q + k];
            spread_dc = fmax(spread_dc, fabs((double)a.data[3 * q + k] - first[k]));
            spread_full =
                fmax(spread_full, fabs((double)b.data[3 * q + k] - (double)a.data[3 * q + k]));
        }
        fixture_image_free(&a);
        fixture_image_free(&b);
        cs_renderer_destroy(r);
    }
    test_note("DC-only colour spread over 6 views %.3g; degree-3 departure %.3g", spread_dc,
              spread_full);
    CHECK(spread_dc < 1e-6);
    CHECK(spread_full > 0.05); /* higher degrees do depend on the view */
    cs_scene_destroy(s);
    cs_context_destroy(ctx);
}

TEST(render_background_and_empty_scenes) {
    cs_context *ctx = test_context(2);
    cs_camera cam = test_camera(40, 20);
    cs_scene *empty;
    CHECK_OK(ctx, cs_scene_create(ctx, 0, 0, &empty));
    const float dc[3] = {1, 1, 1};
    cs_scene *behind = one_gaussian(ctx, -3.0f, 0.5f, 0.9f, 0, dc); /* seen by no camera below */
    cs_camera axis = axis_camera(40, 20, 30.0f, 20.0f, 10.0f);
    cs_render_options opt = {.background = {0.2f, 0.4f, 0.8f}};
    const cs_scene *scenes[2] = {empty, behind};
    const cs_camera *cams[2] = {&cam, &axis};
    for (int k = 0; k < 2; k++) {
        rendered r = render_all(ctx, scenes[k], cams[k], &opt, CS_SIMD_AVX512);
        int bad = 0;
        for (int q = 0; q < 800; q++) {
            bad += r.rgb.data[3 * q] != 0.2f || r.rgb.data[3 * q + 1] != 0.4f ||
                   r.rgb.data[3 * q + 2] != 0.8f;
            bad += r.alpha.data[q] != 0.0f || r.depth.data[q] != 0.0f;
        }
        CHECK_MSG(bad == 0, "scene %d: %d pixels are not the background", k, bad);
        rendered_free(&r);
    }
    cs_scene_destroy(empty);
    cs_scene_destroy(behind);
    cs_context_destroy(ctx);
}

TEST(render_rejects_bad_arguments) {
    cs_context *ctx = test_context(1);
    cs_camera cam = test_camera(32, 24);
    cs_scene *scene = fixture_random_scene(ctx, &cam, 10, 0, 1);
    cs_renderer *r;
    CHECK_OK(ctx, cs_renderer_create(ctx, NULL, &r));
    cs_image ok = fixture_image(32, 24, 3), small = fixture_image(31, 24, 3);
    cs_image four = fixture_image(32, 24, 4), gray = fixture_image(32, 24, 1);
    CHECK(cs_renderer_render(r, scene, &cam, NULL, &small, NULL, NULL) == CS_ERR_ARGUMENT);
    CHECK(strstr(cs_context_last_error(ctx), "31x24x3") != NULL);
    CHECK(cs_renderer_render(r, scene, &cam, NULL, &four, NULL, NULL) == CS_ERR_ARGUMENT);
    CHECK(cs_renderer_render(r, scene, &cam, NULL, &ok, &ok, NULL) == CS_ERR_ARGUMENT);
    CHECK(cs_renderer_render(r, scene, &cam, NULL, &ok, NULL, &small) == CS_ERR_ARGUMENT);
    CHECK(cs_renderer_render(r, scene, &cam, NULL, NULL, &gray, &gray) == CS_OK);
    cs_render_options bands = {.sh_bands = 5}, scale = {.scale_modifier = -1.0f};
    CHECK(cs_renderer_render(r, scene, &cam, &bands, &ok, NULL, NULL) == CS_ERR_ARGUMENT);
    CHECK(cs_renderer_render(r, scene, &cam, &scale, &ok, NULL, NULL) == CS_ERR_ARGUMENT);
    cs_camera bad = cam;
    bad.fx = 0.0f;
    CHECK(cs_renderer_render(r, scene, &bad, NULL, NULL, NULL, NULL) == CS_ERR_ARGUMENT);
    bad = cam;
    bad.width = 0;
    CHECK(cs_renderer_render(r, scene, &bad, NULL, NULL, NULL, NULL) == CS_ERR_ARGUMENT);
    bad = cam;
    bad.t[1] = NAN;
    CHECK(cs_renderer_render(r, scene, &bad, NULL, NULL, NULL, NULL) == CS_ERR_ARGUMENT);
    fixture_image_free(&ok);
    fixture_image_free(&small);
    fixture_image_free(&four);
    fixture_image_free(&gray);
    cs_renderer_destroy(r);
    cs_renderer_destroy(NULL);
    cs_scene_destroy(scene);
    cs_context_destroy(ctx);
}

/* A warm renderer draws the same frame, and a smaller one, without any allocation. */
TEST(render_warm_renderer_does_not_allocate) {
    cs_context *ctx = test_context(2);
    cs_camera cam = test_camera(120, 90), small = test_camera(60, 45);
    cs_scene *scene = fixture_random_scene(ctx, &cam, 2000, 3, 3);
    cs_renderer *r;
    CHECK_OK(ctx, cs_renderer_create(ctx, NULL, &r));
    cs_image rgb = fixture_image(120, 90, 3), rgb2 = fixture_image(60, 45, 3);
    CHECK_OK(ctx, cs_renderer_render(r, scene, &cam, NULL, &rgb, NULL, NULL));
    cs__test_fail_alloc_after(1);
    CHECK_OK(ctx, cs_renderer_render(r, scene, &cam, NULL, &rgb, NULL, NULL));
    CHECK_OK(ctx, cs_renderer_render(r, scene, &small, NULL, &rgb2, NULL, NULL));
    cs__test_fail_alloc_after(0);
    fixture_image_free(&rgb);
    fixture_image_free(&rgb2);
    cs_renderer_destroy(r);
    cs_scene_destroy(scene);
    cs_context_destroy(ctx);
}

TEST(render_allocation_failures_are_reported) {
    cs_context *ctx = test_context(1);
    cs_camera cam = test_camera(64, 48);
    cs_scene *scene = fixture_random_scene(ctx, &cam, 500, 1, 4);
    cs_image rgb = fixture_image(64, 48, 3);
    int failures = 0;
    for (long n = 1; n < 40; n++) {
        cs_renderer *r = NULL;
        cs__test_fail_alloc_after(n);
        cs_status st = cs_renderer_create(ctx, NULL, &r);
        if (st == CS_OK) st = cs_renderer_render(r, scene, &cam, NULL, &rgb, NULL, NULL);
        cs__test_fail_alloc_after(0);
        cs_renderer_destroy(r);
        if (st == CS_OK) break;
        CHECK_MSG(st == CS_ERR_NOMEM, "allocation %ld: %s", n, cs_status_string(st));
        failures++;
    }
    CHECK(failures >= 5); /* the renderer and its scratch arrays */
    fixture_image_free(&rgb);
    cs_scene_destroy(scene);
    cs_context_destroy(ctx);
}

/* scale_modifier multiplies every scale: against the reference with the same modifier is in
 * test_render.c; here the identity scale_modifier = 2 <=> log-scales + ln 2. */
TEST(render_scale_modifier) {
    cs_context *ctx = test_context(1);
    cs_camera cam = test_camera(96, 64);
    cs_scene *a = fixture_random_scene(ctx, &cam, 800, 0, 11);
    cs_scene *b = fixture_random_scene(ctx, &cam, 800, 0, 11);
    cs_scene_params pb = cs_scene_get_params(b);
    for (int64_t i = 0; i < 3 * pb.count; i++) pb.log_scales[i] += logf(2.0f);
    cs_render_options twice = {.scale_modifier = 2.0f};
    rendered ra = render_all(ctx, a, &cam, &twice, CS_SIMD_SCALAR);
    rendered rb = render_all(ctx, b, &cam, NULL, CS_SIMD_SCALAR);
    fixture_diff d = fixture_compare_f(ra.rgb.data, rb.rgb.data, 96 * 64, 3);
    test_note("scale_modifier 2 vs log-scales + ln 2: MAE %.3g, max %.3g", d.mae, d.max);
    CHECK(d.mae < 1e-5);
    rendered_free(&ra);
    rendered_free(&rb);
    cs_scene_destroy(a);
    cs_scene_destroy(b);
    cs_context_destroy(ctx);
}

/* Gaussians with NaN or Inf parameters are dropped instead of spreading NaN: a scene with such
 * Gaussians added renders exactly as without them (positions, scales, rotations, opacities), and
 * non-finite SH gives finite pixels. */
TEST(render_non_finite_parameters_are_dropped) {
    cs_context *ctx = test_context(2);
    cs_camera cam = test_camera(120, 80);
    cs_scene *clean = fixture_random_scene(ctx, &cam, 800, 1, 21);
    cs_scene *dirty = fixture_random_scene(ctx, &cam, 800 + 6, 1, 21);
    cs_scene_params pc = cs_scene_get_params(clean), pd = cs_scene_get_params(dirty);
    /* dirty = clean's 800 Gaussians, then 6 opaque ones in the middle of the view, corrupted */
    int k3 = 3 * pc.sh_coeffs;
    for (int64_t i = 0; i < 800; i++) {
        memcpy(pd.means + 3 * i, pc.means + 3 * i, 3 * sizeof(float));
        memcpy(pd.log_scales + 3 * i, pc.log_scales + 3 * i, 3 * sizeof(float));
        memcpy(pd.quats + 4 * i, pc.quats + 4 * i, 4 * sizeof(float));
        pd.opacities[i] = pc.opacities[i];
        memcpy(pd.sh + k3 * i, pc.sh + k3 * i, (size_t)k3 * sizeof(float));
    }
    for (int64_t i = 800; i < 806; i++) {
        const float centre[3] = {0.3f, 0.0f, 0.0f}; /* the camera's target */
        memcpy(pd.means + 3 * i, centre, sizeof centre);
        for (int k = 0; k < 3; k++) pd.log_scales[3 * i + k] = logf(0.3f);
        pd.quats[4 * i] = 1.0f;
        pd.quats[4 * i + 1] = pd.quats[4 * i + 2] = pd.quats[4 * i + 3] = 0.0f;
        pd.opacities[i] = 5.0f;
    }
    pd.means[3 * 800] = NAN;
    pd.log_scales[3 * 801 + 1] = INFINITY;
    pd.quats[4 * 802 + 2] = NAN;
    pd.opacities[803] = NAN;
    pd.means[3 * 804 + 2] = -INFINITY;
    pd.sh[k3 * 805] = NAN; /* the last one would be drawn, so it is added only below */
    pd.opacities[805] = -INFINITY;
    for (int level = CS_SIMD_SCALAR; level <= CS_SIMD_AVX512; level++) {
        rendered a = render_all(ctx, clean, &cam, NULL, (cs_simd_level)level);
        rendered b = render_all(ctx, dirty, &cam, NULL, (cs_simd_level)level);
        CHECK(memcmp(a.rgb.data, b.rgb.data, 120 * 80 * 3 * sizeof(float)) == 0);
        CHECK(memcmp(a.depth.data, b.depth.data, 120 * 80 * sizeof(float)) == 0);
        rendered_free(&a);
        rendered_free(&b);
    }
    /* NaN colour on a Gaussian that is drawn (opaque, in the middle): finite pixels */
    pd.opacities[805] = 5.0f;
    rendered r = render_all(ctx, dirty, &cam, NULL, CS_SIMD_AVX512);
    int nan = 0;
    for (int q = 0; q < 120 * 80 * 3; q++) nan += !isfinite(r.rgb.data[q]);
    CHECK_MSG(nan == 0, "%d non-finite pixel values", nan);
    rendered_free(&r);
    cs_scene_destroy(clean);
    cs_scene_destroy(dirty);
    cs_context_destroy(ctx);
}
