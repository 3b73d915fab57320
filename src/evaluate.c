/*
 * evaluate.c - cs_evaluate: held-out view metrics as the reference's render.py + metrics.py
 * compute them: render each held-out view over the dataset's background with every SH band the
 * scene holds, clamp to [0, 1], then per view PSNR = 10 log10(1 / MSE) with the MSE over all
 * pixels and channels, and mean SSIM (11x11 Gaussian window, sigma 1.5; src/ssim.h); the
 * reported numbers are the means over views. (The reference's metrics.py reads back 8-bit PNGs;
 * we score the float render, which differs by at most the quantisation.)
 *
 * Not here: LPIPS (it needs a learned network).
 */
#include "internal.h"
#include "ssim.h"

#include <string.h>

cs_status cs_evaluate(cs_context *ctx, const cs_scene *scene, const cs_dataset *ds, cs_eval_fn fn,
                      void *user, cs_eval_result *out) {
    memset(out, 0, sizeof *out);
    if (!scene || !ds) return cs__error(ctx, CS_ERR_ARGUMENT, "evaluate: no scene or dataset");
    int64_t n = cs_dataset_count(ds), held = 0;
    for (int64_t i = 0; i < n; i++) held += cs_dataset_is_held_out(ds, i) != 0;
    if (held == 0) return cs__error(ctx, CS_ERR_ARGUMENT, "evaluate: no held-out views");
    cs_renderer *r = NULL;
    cs_image img = {0};
    cs_status st = cs_renderer_create(ctx, NULL, &r);
    cs_render_options ro = {0};
    cs_dataset_background(ds, ro.background);
    double psnr_sum = 0.0, ssim_sum = 0.0;
    for (int64_t i = 0; i < n && st == CS_OK; i++) {
        if (!cs_dataset_is_held_out(ds, i)) continue;
        const cs_camera *cam = cs_dataset_camera(ds, i);
        const cs_image *truth = cs_dataset_image(ds, i);
        if (img.width != cam->width || img.height != cam->height) {
            cs_image_free(&img);
            if ((st = cs_image_alloc(ctx, cam->width, cam->height, 3, &img)) != CS_OK) break;
        }
        if ((st = cs_renderer_render(r, scene, cam, &ro, &img, NULL, NULL)) != CS_OK) break;
        size_t count = (size_t)img.width * (size_t)img.height * 3;
        for (size_t k = 0; k < count; k++)
            img.data[k] = img.data[k] < 0.0f ? 0.0f : img.data[k] > 1.0f ? 1.0f : img.data[k];
        cs_eval_view v = {
            .index = i, .name = cs_dataset_name(ds, i), .render = &img, .truth = truth};
        if ((st = cs_image_quality(ctx, &img, truth, &v.psnr, &v.ssim)) != CS_OK) break;
        psnr_sum += v.psnr;
        ssim_sum += v.ssim;
        out->views++;
        if (fn) st = fn(user, &v);
    }
    cs_image_free(&img);
    cs_renderer_destroy(r);
    if (st == CS_OK) {
        out->psnr = psnr_sum / (double)out->views;
        out->ssim = ssim_sum / (double)out->views;
    }
    return st;
}
