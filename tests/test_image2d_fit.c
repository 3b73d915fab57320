/*
 * test_image2d_fit.c - fitting 2D Gaussian images: a small synthetic image (smooth gradient, a
 * disk and a rectangle with hard edges) to recorded PSNRs for both rules and both losses, runs
 * bit-identical for a seed across thread counts, the quantization-aware fine-tune stored exactly,
 * and bad input (1x1, more Gaussians than pixels, gray+alpha and RGBA, 16-bit PNG); with the
 * shared data, a crop of kodim23 and the large grayscale progressive JPEG (albert).
 *
 * Recorded values were measured on this code (x86-64, AVX2 kernels) and are checked with a
 * margin of about 0.5 dB, so a regression in the optimizer shows while float differences
 * between machines do not.
 */
#include "csplat.h"
#include "internal.h"
#include "test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* 64x64 RGB: gradient background, a red disk, a blue rectangle. */
static cs_image synthetic(cs_context *ctx, int W, int H) {
    cs_image img;
    CHECK_OK(ctx, cs_image_alloc(ctx, W, H, 3, &img));
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            float *p = img.data + ((size_t)y * W + x) * 3;
            p[0] = (float)x / (float)W;
            p[1] = (float)y / (float)H;
            p[2] = 0.5f;
            double dx = x + 0.5 - 0.62 * W, dy = y + 0.5 - 0.38 * H;
            if (dx * dx + dy * dy < 0.05 * W * H) p[0] = 0.9f, p[1] = 0.2f, p[2] = 0.1f;
            if (x >= W / 8 && x < W * 7 / 16 && y >= H * 9 / 16 && y < H * 7 / 8)
                p[0] = 0.1f, p[1] = 0.3f, p[2] = 0.9f;
        }
    return img;
}

static double fit_psnr(cs_context *ctx, const cs_image *target, const cs_gimage_fit_desc *d,
                       cs_gimage **out) {
    cs_gimage *g = NULL;
    cs_image r = {0};
    double psnr = 0.0;
    CHECK_OK(ctx, cs_gimage_fit(ctx, target, d, NULL, NULL, &g));
    if (g) {
        CHECK_OK(ctx, cs_gimage_render(ctx, g, NULL, &r));
        cs_image ref = *target;
        if (ref.channels == 2 || ref.channels == 4) {
            /* compare with the channels the fit used */
            CHECK(r.channels == (ref.channels == 4 ? 3 : 1));
            ref.channels = r.channels;
            ref.data = malloc(sizeof(float) * (size_t)(ref.width * ref.height * r.channels));
            for (int i = 0; i < ref.width * ref.height; i++)
                for (int c = 0; c < r.channels; c++)
                    ref.data[i * r.channels + c] = target->data[i * target->channels + c];
        }
        CHECK_OK(ctx, cs_image_quality(ctx, &r, &ref, &psnr, NULL));
        if (ref.data != target->data) free(ref.data);
        cs_image_free(&r);
    }
    if (out)
        *out = g;
    else
        cs_gimage_destroy(g);
    return psnr;
}

/* The median over three seeds: one fit of 150 Gaussians can land a few dB off its siblings after
 * a float-level change anywhere in the chain (seen: 33.9 to 44.3 dB for seed 3 alone), three
 * rarely do together. The top-K records fell with the coverage guard (image2d_fit.c), from 42.98
 * and 42.69 dB: on this flat-coloured image nothing goes uncovered, and the colours the guard's
 * darker training renders pushed up have only the last tenth of the fit to come back down. On
 * photos the guard gains (kodim13 5000 Gaussians: +1.7 dB at 500 iterations, +6.5 at 1500). */
TEST(image2d_fit_synthetic_to_recorded_psnr) {
    cs_context *ctx = test_context(2);
    cs_image img = synthetic(ctx, 64, 64);
    struct {
        cs_gimage_rule rule;
        cs_gimage_loss loss;
        double recorded;
    } cases[] = {
        {CS_GIMAGE_TOPK, CS_GIMAGE_LOSS_L1_SSIM, 40.31},
        {CS_GIMAGE_TOPK, CS_GIMAGE_LOSS_L2, 37.74},
        {CS_GIMAGE_SUM, CS_GIMAGE_LOSS_L2, 35.52},
    };
    for (int t = 0; t < 3; t++) {
        double p[3];
        for (int k = 0; k < 3; k++) {
            cs_gimage_fit_desc d = {.count = 150,
                                    .iters = 300,
                                    .rule = cases[t].rule,
                                    .loss = cases[t].loss,
                                    .plateau = -1,
                                    .seed = 3 + (uint64_t)k};
            p[k] = fit_psnr(ctx, &img, &d, NULL);
        }
        double lo = fmin(p[0], fmin(p[1], p[2])), hi = fmax(p[0], fmax(p[1], p[2]));
        double median = p[0] + p[1] + p[2] - lo - hi;
        test_note("rule %d loss %d: PSNR %.2f %.2f %.2f dB, median %.2f (recorded %.2f)",
                  (int)cases[t].rule, (int)cases[t].loss, p[0], p[1], p[2], median,
                  cases[t].recorded);
        CHECK(median > cases[t].recorded - 0.5);
    }
    cs_image_free(&img);
    cs_context_destroy(ctx);
}

/* Same seed: the same bits, whatever the thread count. */
TEST(image2d_fit_is_deterministic_across_threads) {
    cs_context *c1 = test_context(1), *c3 = test_context(3);
    cs_image img = synthetic(c1, 40, 36);
    cs_gimage_fit_desc d = {.count = 60, .iters = 80, .plateau = -1, .seed = 5};
    cs_gimage *a, *b;
    fit_psnr(c1, &img, &d, &a);
    fit_psnr(c3, &img, &d, &b);
    cs_gimage_params pa = cs_gimage_get_params(a), pb = cs_gimage_get_params(b);
    CHECK(pa.count == 60 && pb.count == 60);
    CHECK(memcmp(pa.xy, pb.xy, sizeof(float) * 60 * 8) == 0); /* the whole block */
    cs_gimage_destroy(a);
    cs_gimage_destroy(b);
    cs_image_free(&img);
    cs_context_destroy(c1);
    cs_context_destroy(c3);
}

static int cmp_tuple(const void *a, const void *b) {
    return memcmp(a, b, 8 * sizeof(float));
}

/* Gaussians of an image as sorted 8-float tuples (order-free comparison). */
static float *tuples(cs_gimage *g) {
    cs_gimage_params p = cs_gimage_get_params(g);
    float *t = calloc((size_t)p.count, 8 * sizeof(float));
    for (int64_t i = 0; i < p.count; i++) {
        memcpy(t + 8 * i, p.xy + 2 * i, 2 * sizeof(float));
        memcpy(t + 8 * i + 2, p.chol + 3 * i, 3 * sizeof(float));
        memcpy(t + 8 * i + 5, p.colour + 3 * i, 3 * sizeof(float));
    }
    qsort(t, (size_t)p.count, 8 * sizeof(float), cmp_tuple);
    return t;
}

/* After the quantization-aware fine-tune, saving with the same depths stores exactly the
 * fine-tuned values, and the fine-tune recovers part of what quantization cost (seeds 1..4 of
 * this setting: +0.55 to +1.23 dB; with the former constant rate it lost 0.1-1.8 dB). */
TEST(image2d_finetune_is_stored_exactly) {
    cs_context *ctx = test_context(2);
    cs_image img = synthetic(ctx, 64, 64);
    cs_gsi_options q = {.bits_position = 9, .bits_cholesky = 5, .bits_colour = 4};
    cs_gimage_fit_desc d = {
        .count = 150, .iters = 300, .plateau = -1, .seed = 3, .loss = CS_GIMAGE_LOSS_L2};
    cs_gimage *plain, *tuned, *dec;
    double p_float = fit_psnr(ctx, &img, &d, &plain);
    d.finetune_iters = 100;
    d.quant = &q;
    double p_tuned = fit_psnr(ctx, &img, &d, &tuned);
    uint8_t *data;
    size_t len;
    CHECK_OK(ctx, cs_gimage_encode(ctx, tuned, &q, &data, &len));
    CHECK_OK(ctx, cs_gimage_decode(ctx, data, len, &dec));
    float *ta = tuples(tuned), *tb = tuples(dec);
    CHECK(memcmp(ta, tb, sizeof(float) * 8 * 150) == 0);
    cs_gimage_buffer_free(data);
    /* the plain fit quantized at the same depths, for comparison */
    CHECK_OK(ctx, cs_gimage_encode(ctx, plain, &q, &data, &len));
    cs_gimage *pq;
    CHECK_OK(ctx, cs_gimage_decode(ctx, data, len, &pq));
    cs_image r;
    double p_quant;
    CHECK_OK(ctx, cs_gimage_render(ctx, pq, NULL, &r));
    CHECK_OK(ctx, cs_image_quality(ctx, &r, &img, &p_quant, NULL));
    test_note("float %.2f dB, quantized %.2f dB, fine-tuned %.2f dB", p_float, p_quant, p_tuned);
    CHECK(p_tuned > p_quant + 0.5);
    cs_image_free(&r);
    cs_gimage_buffer_free(data);
    free(ta);
    free(tb);
    cs_gimage_destroy(pq);
    cs_gimage_destroy(plain);
    cs_gimage_destroy(tuned);
    cs_gimage_destroy(dec);
    cs_image_free(&img);
    cs_context_destroy(ctx);
}

static void count_warnings(void *user, cs_log_level level, const char *message) {
    (void)message;
    if (level == CS_LOG_WARN) ++*(int *)user;
}

TEST(image2d_fit_bad_inputs) {
    int warnings = 0;
    cs_context *ctx;
    CHECK_OK(
        NULL,
        cs_context_create(
            &(cs_context_desc){.threads = 2, .log = count_warnings, .log_user = &warnings}, &ctx));
    cs_gimage *g;
    /* 1x1: the budget is clamped to the one pixel, with a warning; the colour is reproduced. */
    cs_image one;
    CHECK_OK(ctx, cs_image_alloc(ctx, 1, 1, 3, &one));
    one.data[0] = 0.25f, one.data[1] = 0.5f, one.data[2] = 0.75f;
    double psnr = fit_psnr(ctx, &one, &(cs_gimage_fit_desc){.count = 10, .iters = 30}, &g);
    CHECK(cs_gimage_get_params(g).count == 1 && warnings == 1);
    CHECK(psnr > 40.0);
    cs_gimage_destroy(g);
    cs_image_free(&one);
    /* More Gaussians than pixels. */
    cs_image small = synthetic(ctx, 8, 6);
    fit_psnr(ctx, &small, &(cs_gimage_fit_desc){.count = 1000, .iters = 20}, &g);
    CHECK(cs_gimage_get_params(g).count == 48 && warnings == 2);
    cs_gimage_destroy(g);
    cs_image_free(&small);
    /* Gray+alpha and RGBA: alpha ignored, gray and RGB fitted. */
    for (int C = 2; C <= 4; C += 2) {
        cs_image img;
        CHECK_OK(ctx, cs_image_alloc(ctx, 24, 20, C, &img));
        for (int i = 0; i < 24 * 20; i++)
            for (int c = 0; c < C; c++)
                img.data[i * C + c] = c == C - 1 ? 0.0f : (float)((i % 24) * (c + 1)) / 80.0f;
        psnr = fit_psnr(ctx, &img, &(cs_gimage_fit_desc){.count = 60, .iters = 100}, &g);
        cs_gimage_info info;
        cs_gimage_get_info(g, &info);
        CHECK(info.channels == (C == 2 ? 1 : 3));
        test_note("%d channels in: fitted %d, PSNR %.2f dB", C, info.channels, psnr);
        CHECK(psnr > 25.0);
        cs_gimage_destroy(g);
        cs_image_free(&img);
    }
    /* A 16-bit PNG round trip as input. */
    cs_image img = synthetic(ctx, 32, 32), back;
    char path[4096];
    snprintf(path, sizeof path, "%s", test_tmp("fit16.png"));
    CHECK_OK(ctx, cs_image_save_png(ctx, &img, path, 16));
    CHECK_OK(ctx, cs_image_load(ctx, path, &back));
    psnr = fit_psnr(ctx, &back, &(cs_gimage_fit_desc){.count = 80, .iters = 150}, NULL);
    CHECK(psnr > 25.0);
    cs_image_free(&back);
    /* Bad descriptions and targets. */
    g = NULL;
    CHECK(cs_gimage_fit(ctx, &img, &(cs_gimage_fit_desc){.count = -1}, NULL, NULL, &g) ==
              CS_ERR_ARGUMENT &&
          g == NULL);
    CHECK(cs_gimage_fit(ctx, &img, &(cs_gimage_fit_desc){.init_fraction = 2.0f}, NULL, NULL, &g) ==
          CS_ERR_ARGUMENT);
    cs_gsi_options bad = {.bits_colour = 20};
    CHECK(cs_gimage_fit(ctx, &img, &(cs_gimage_fit_desc){.finetune_iters = 5, .quant = &bad}, NULL,
                        NULL, &g) == CS_ERR_ARGUMENT);
    cs_image empty = {0, 0, 3, NULL};
    CHECK(cs_gimage_fit(ctx, &empty, NULL, NULL, NULL, &g) == CS_ERR_ARGUMENT);
    /* Allocation failures anywhere in the fit are reported. */
    int reported = 0;
    for (long n = 1; n <= 12; n++) {
        g = NULL;
        cs__test_fail_alloc_after(n);
        cs_status st = cs_gimage_fit(ctx, &img, &(cs_gimage_fit_desc){.count = 30, .iters = 3},
                                     NULL, NULL, &g);
        cs__test_fail_alloc_after(0);
        if (st == CS_OK) {
            cs_gimage_destroy(g);
            continue;
        }
        reported++;
        CHECK_MSG(st == CS_ERR_NOMEM && g == NULL, "allocation %ld: %s", n, cs_status_string(st));
    }
    CHECK(reported >= 10);
    cs_image_free(&img);
    cs_context_destroy(ctx);
}

/* A crop of kodim23 to a recorded PSNR. */
TEST(image2d_fit_kodim23_crop) {
    const char *path = test_data("kodak/kodim23.png");
    if (!path) SKIP("../shared/data/kodak/kodim23.png is absent");
    cs_context *ctx = test_context(2);
    cs_image full, crop;
    CHECK_OK(ctx, cs_image_load(ctx, path, &full));
    CHECK_OK(ctx, cs_image_alloc(ctx, 128, 128, 3, &crop));
    for (int y = 0; y < 128; y++)
        memcpy(crop.data + (size_t)y * 128 * 3,
               full.data + ((size_t)(100 + y) * full.width + 300) * 3, sizeof(float) * 128 * 3);
    double psnr = fit_psnr(ctx, &crop,
                           &(cs_gimage_fit_desc){.count = 400, .iters = 300, .plateau = -1}, NULL);
    /* recorded 41.99 dB before the coverage guard, which costs this crop ~0.6 dB (see above) */
    test_note("kodim23 128x128 crop, 400 Gaussians: PSNR %.2f dB (recorded 41.42)", psnr);
    CHECK(psnr > 41.42 - 0.5);
    cs_image_free(&full);
    cs_image_free(&crop);
    cs_context_destroy(ctx);
}

/* The 3250x4333 grayscale progressive JPEG: a few iterations and a small render. */
TEST(image2d_fit_albert_large_gray) {
    const char *path = test_data("albert/albert.jpg");
    if (!path) SKIP("../shared/data/albert/albert.jpg is absent");
    cs_context *ctx = test_context(2);
    cs_image img, r;
    cs_gimage *g;
    CHECK_OK(ctx, cs_image_load(ctx, path, &img));
    CHECK(img.width == 3250 && img.height == 4333 && img.channels == 1);
    double t0 = (double)clock() / CLOCKS_PER_SEC;
    CHECK_OK(ctx, cs_gimage_fit(
                      ctx, &img,
                      &(cs_gimage_fit_desc){.count = 20000, .iters = 1, .loss = CS_GIMAGE_LOSS_L2},
                      NULL, NULL, &g));
    test_note("albert, 20000 Gaussians, 1 iteration: %.1f s CPU",
              (double)clock() / CLOCKS_PER_SEC - t0);
    CHECK(cs_gimage_get_params(g).count == 20000);
    CHECK_OK(ctx, cs_gimage_render(ctx, g, &(cs_gimage_render_desc){.scale = 0.05f}, &r));
    CHECK(r.width == 163 && r.height == 217 && r.channels == 1);
    cs_image_free(&r);
    cs_gimage_destroy(g);
    cs_image_free(&img);
    cs_context_destroy(ctx);
}

/* The coverage guard (image2d_fit.c): a long top-K fit of a textured crop leaves (almost) no pixel
 * uncovered. Without it, Gaussians drift off pixels that only their 3-sigma edge reached, and
 * those pixels render black: on this crop 2281 of 16384 pixels, 13.4 dB; with it 9, 20.9 dB. */
TEST(image2d_fit_leaves_no_pixel_uncovered) {
    const char *path = test_data("kodak/kodim13.png");
    if (!path) SKIP("../shared/data/kodak/kodim13.png is absent");
    cs_context *ctx = test_context(2);
    cs_image full, crop, r;
    CHECK_OK(ctx, cs_image_load(ctx, path, &full));
    CHECK_OK(ctx, cs_image_alloc(ctx, 128, 128, 3, &crop));
    for (int y = 0; y < 128; y++)
        memcpy(crop.data + (size_t)y * 128 * 3,
               full.data + ((size_t)(300 + y) * full.width + 200) * 3, sizeof(float) * 128 * 3);
    cs_gimage *g;
    cs_gimage_fit_desc d = {.count = 250, .iters = 1200, .loss = CS_GIMAGE_LOSS_L2, .plateau = -1};
    CHECK_OK(ctx, cs_gimage_fit(ctx, &crop, &d, NULL, NULL, &g));
    CHECK_OK(ctx, cs_gimage_render(ctx, g, NULL, &r));
    int black = 0;
    for (int i = 0; i < 128 * 128; i++)
        black += r.data[3 * i] == 0.0f && r.data[3 * i + 1] == 0.0f && r.data[3 * i + 2] == 0.0f;
    double psnr;
    CHECK_OK(ctx, cs_image_quality(ctx, &r, &crop, &psnr, NULL));
    test_note("kodim13 128x128 crop, 250 Gaussians, 1200 iterations: %d black pixels, %.2f dB",
              black, psnr);
    CHECK(black <= 128 * 128 / 100);
    cs_image_free(&r);
    cs_gimage_destroy(g);
    cs_image_free(&crop);
    cs_image_free(&full);
    cs_context_destroy(ctx);
}
