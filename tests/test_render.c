/*
 * test_render.c - the renderer against the float64 naive reference (tests/ref/ref_render.c):
 * random scenes of every SH degree with Gaussians behind the near plane, off-screen, tiny, huge,
 * anisotropic and nearly transparent, and the real garden points.
 *
 * Criterion (issue 3): mean absolute error below 1e-5 and fewer than 0.01% of pixels off by more
 * than 1/255. Float32 against float64 differs by rounding only, except where a Gaussian sits
 * within rounding of a cut-off (alpha 1/255, T 1e-4, an integer radius, the near plane), which
 * can flip a whole contribution; those flips are what the 0.01% allows. The measured numbers are
 * printed as notes.
 */
#include "ref/ref_render.h"
#include "render_fixture.h"

#include <math.h>
#include <stdlib.h>

typedef struct ref_case {
    int width, height;
    int64_t n;
    int degree;
    unsigned long long seed;
} ref_case;

/* Render scene through cam with the production renderer (threads, scalar or not) and with the
 * reference; check the criterion on rgb, and alpha/depth errors. */
static void check_against_reference(cs_context *ctx, const cs_scene *scene, cs_scene_params p,
                                    const cs_camera *cam, int force_scalar, const char *label) {
    int64_t pixels = (int64_t)cam->width * cam->height;
    cs_image rgb = fixture_image(cam->width, cam->height, 3);
    cs_image alpha = fixture_image(cam->width, cam->height, 1);
    cs_image depth = fixture_image(cam->width, cam->height, 1);
    double *rrgb = malloc((size_t)pixels * 3 * sizeof *rrgb);
    double *ralpha = malloc((size_t)pixels * sizeof *ralpha);
    double *rdepth = malloc((size_t)pixels * sizeof *rdepth);
    CHECK(rgb.data && alpha.data && depth.data && rrgb && ralpha && rdepth);

    cs_renderer *r;
    cs_renderer_desc desc = {.force_scalar = force_scalar};
    CHECK_OK(ctx, cs_renderer_create(ctx, &desc, &r));
    cs_render_options opt = {.background = {0.25f, 0.5f, 1.0f}};
    CHECK_OK(ctx, cs_renderer_render(r, scene, cam, &opt, &rgb, &alpha, &depth));
    cs_render_stats stats;
    cs_renderer_get_stats(r, &stats);

    ref_options ro = {.background = {0.25, 0.5, 1.0}, .sh_degree = p.sh_degree,
                      .scale_modifier = 1, .tile_support = 1};
    CHECK(ref_render(&p, cam, &ro, rrgb, ralpha, rdepth));
    fixture_diff dc = fixture_compare(rgb.data, rrgb, pixels, 3);
    fixture_diff da = fixture_compare(alpha.data, ralpha, pixels, 1);
    fixture_diff dd = fixture_compare(depth.data, rdepth, pixels, 1);
    test_note("%s %dx%d N=%lld deg %d (%s, %lld visible, %lld tile pairs): rgb MAE %.3g max %.3g "
              "off>1/255 %lld px (%.4f%%); alpha MAE %.3g; depth MAE %.3g",
              label, cam->width, cam->height, (long long)p.count, p.sh_degree,
              stats.simd ? "avx2" : "scalar", (long long)stats.visible,
              (long long)stats.intersections, dc.mae, dc.max, (long long)dc.over,
              100 * dc.over_frac, da.mae, dd.mae);
    CHECK_MSG(dc.mae < 1e-5, "rgb MAE %g", dc.mae);
    CHECK_MSG(dc.over_frac < 1e-4, "%lld pixels off by more than 1/255", (long long)dc.over);
    CHECK_MSG(da.mae < 1e-5, "alpha MAE %g", da.mae);
    CHECK_MSG(dd.mae < 1e-4, "depth MAE %g", dd.mae);
    cs_renderer_destroy(r);
    fixture_image_free(&rgb);
    fixture_image_free(&alpha);
    fixture_image_free(&depth);
    free(rrgb);
    free(ralpha);
    free(rdepth);
}

TEST(render_matches_reference_random) {
    static const ref_case cases[] = {
        {200, 150, 3000, 3, 1}, {173, 91, 1500, 1, 2}, {257, 129, 4000, 2, 3},
        {64, 64, 600, 0, 4},    {320, 240, 6000, 3, 5},
    };
    cs_context *ctx = test_context(2);
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        const ref_case *k = &cases[c];
        float eye[3] = {0, -6, 1}, target[3] = {0.3f, 0, 0};
        cs_camera cam = fixture_camera(k->width, k->height, 0.9f * (float)k->width, eye, target,
                                       3.5f, -2.25f);
        cs_scene *scene = fixture_random_scene(ctx, &cam, k->n, k->degree, k->seed);
        CHECK(scene != NULL);
        if (!scene) continue;
        cs_scene_params p = cs_scene_get_params(scene);
        check_against_reference(ctx, scene, p, &cam, 0, "default");
        check_against_reference(ctx, scene, p, &cam, 1, "scalar");
        cs_scene_destroy(scene);
    }
    cs_context_destroy(ctx);
}

TEST(render_matches_reference_garden) {
    cs_context *ctx = test_context(2);
    cs_camera cams[3];
    char why[512];
    cs_scene *scene = fixture_garden(ctx, cams, why, sizeof why);
    if (!scene) {
        cs_context_destroy(ctx);
        SKIP("%s", why);
    }
    cs_scene_params p = cs_scene_get_params(scene);
    for (int v = 0; v < 3; v++) check_against_reference(ctx, scene, p, &cams[v], 0, "garden");
    check_against_reference(ctx, scene, p, &cams[0], 1, "garden");
    cs_scene_destroy(scene);
    cs_context_destroy(ctx);
}
