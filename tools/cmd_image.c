/*
 * cmd_image.c - `csplat image fit|render|info|eval`: 2D Gaussian images from the command line.
 *
 *   fit IMAGE -o OUT.gsi      fit Gaussians to a PNG/JPEG, store them, report PSNR/SSIM/bpp of
 *                             the stored file (decoded again, so quantization is included)
 *   render IN.gsi -o OUT.png  any scale (--scale, or --width and --height) and --crop
 *   info IN.gsi               count, size, rule, bit depths, bits per pixel
 *   eval DIR -n N[,N2..]      table over a folder, against JPEG at equal bpp (cmd_image_eval.c)
 *
 * Exit codes as every subcommand: 0 success, 1 runtime failure, 2 bad usage.
 */
#include "cmd_image.h"

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char help[] =
    "usage: csplat image fit IMAGE -o OUT.gsi [options]\n"
    "       csplat image render IN.gsi -o OUT.png [--scale S | --width W --height H]\n"
    "                          [--crop X,Y,W,H] [--bit-depth 8|16] [--threads N]\n"
    "       csplat image info IN.gsi [--json]\n"
    "       csplat image eval DIR -n N[,N2,N3] [-o TABLE.csv|.md] [--limit K] [--models DIR]\n"
    "                         [options]\n\n"
    "2D Gaussian images: fit a photo with N anisotropic Gaussians, store them compactly in a\n"
    ".gsi file (docs/gsi.md), render them at any scale.\n\n"
    "fit options (also for eval):\n";

const char image_fit_options_help[] =
    "  -n N               Gaussians (default 10000; at most the pixel count)\n"
    "  --iters N          maximum iterations (default 600); the fit also stops on a plateau\n"
    "  --no-plateau       run all iterations\n"
    "  --rule topk|sum    normalized top-10 blend (default) or plain sum\n"
    "  --loss l1ssim|l2   L1 + 0.1 (1 - SSIM) (default) or mean squared error\n"
    "  --quality low|medium|high|lossless   bit depths preset (default medium: position\n"
    "                     1/4 pixel, Cholesky 7, colour 6 bits; low 1/2, 5, 5; high 1/8, 8, 8)\n"
    "  --bits P,C,K       bit depths of position, Cholesky, colour (1..16 or 32)\n"
    "  --finetune N       quantization-aware fine-tune steps at the chosen bit depths after\n"
    "                     fitting (default 0; the result is always snapped to those depths and\n"
    "                     pixels they leave uncovered are patched)\n"
    "  --no-zstd          store the payload uncompressed\n"
    "  --seed S           random placement seed (default 0)\n"
    "  --threads N        worker threads (default: all cores)\n"
    "  -q, --quiet        no progress line\n";

static const char fit_only_help[] =
    "  --png OUT.png      also write the render of the stored file\n";

/* ---------------------------------------------------------------------------------------------
 * Shared helpers
 */
static bool parse_ints(const char *s, int *v, int n) {
    char buf[128];
    if (strlen(s) >= sizeof buf) return false;
    strcpy(buf, s);
    char *save = NULL, *tok = strtok_r(buf, ",", &save);
    for (int k = 0; k < n; k++) {
        long x;
        if (!tok || !cli_parse_int(tok, -1000000000L, 1000000000L, &x)) return false;
        v[k] = (int)x;
        tok = strtok_r(NULL, ",", &save);
    }
    return tok == NULL;
}

int image_parse_option(const char *cmd, int argc, char **argv, int *i, image_opts *o) {
    const char *a = argv[*i];
    const char *v = *i + 1 < argc ? argv[*i + 1] : NULL;
    long x;
    if (strcmp(a, "--no-plateau") == 0) {
        o->fit.plateau = -1;
        return 1;
    }
    if (strcmp(a, "--no-zstd") == 0) {
        o->gsi.no_zstd = 1;
        return 1;
    }
    if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
        o->quiet = true;
        return 1;
    }
    static const char *const with_value[] = {"-n",         "--iters",   "--rule",
                                             "--loss",     "--quality", "--bits",
                                             "--finetune", "--seed",    "--threads"};
    int which = -1;
    for (int k = 0; k < (int)(sizeof with_value / sizeof *with_value); k++)
        if (strcmp(a, with_value[k]) == 0) which = k;
    if (which < 0) return 0;
    if (!v) {
        cli_usage_error(cmd, "%s needs a value", a);
        return -1;
    }
    (*i)++;
    bool ok = true;
    switch (which) {
    case 0:
        ok = cli_parse_int(v, 1, 1L << 28, &x);
        o->fit.count = x;
        break;
    case 1:
        ok = cli_parse_int(v, 1, 100000000, &x);
        o->fit.iters = (int)x;
        break;
    case 2:
        ok = strcmp(v, "topk") == 0 || strcmp(v, "sum") == 0;
        o->fit.rule = strcmp(v, "sum") == 0 ? CS_GIMAGE_SUM : CS_GIMAGE_TOPK;
        break;
    case 3:
        ok = strcmp(v, "l1ssim") == 0 || strcmp(v, "l2") == 0;
        o->fit.loss = strcmp(v, "l2") == 0 ? CS_GIMAGE_LOSS_L2 : CS_GIMAGE_LOSS_L1_SSIM;
        break;
    case 4:
        if (strcmp(v, "low") == 0)
            o->gsi.quality = CS_GSI_LOW;
        else if (strcmp(v, "medium") == 0)
            o->gsi.quality = CS_GSI_MEDIUM;
        else if (strcmp(v, "high") == 0)
            o->gsi.quality = CS_GSI_HIGH;
        else if (strcmp(v, "lossless") == 0)
            o->gsi.quality = CS_GSI_LOSSLESS;
        else
            ok = false;
        break;
    case 5: {
        int b[3];
        ok = parse_ints(v, b, 3);
        o->gsi.bits_position = b[0];
        o->gsi.bits_cholesky = b[1];
        o->gsi.bits_colour = b[2];
        for (int k = 0; ok && k < 3; k++) ok = (b[k] >= 1 && b[k] <= 16) || b[k] == 32;
        break;
    }
    case 6:
        ok = cli_parse_int(v, 0, 1000000, &x);
        o->fit.finetune_iters = (int)x;
        break;
    case 7:
        ok = cli_parse_int(v, 0, 2147483647L, &x);
        o->fit.seed = (uint64_t)x;
        break;
    default:
        ok = cli_parse_int(v, 1, 1024, &x);
        o->threads = (int)x;
        break;
    }
    if (!ok) {
        cli_usage_error(cmd, "bad value '%s' for %s", v, a);
        return -1;
    }
    return 1;
}

int image_progress(void *user, const cs_gimage_progress *p) {
    cli_progress *pr = user;
    char extra[128];
    snprintf(extra, sizeof extra, "PSNR %.2f dB  %lld Gaussians%s", p->psnr, (long long)p->count,
             p->finetune ? "  (quantization fine-tune)" : "");
    pr->total = p->iters;
    pr->label = p->finetune ? "fine-tune" : "fit";
    if (pr->tty) {
        cli_progress_update(pr, p->iter, extra);
    } else if (p->iter % 250 == 0) {
        fprintf(stderr, "%s %d/%d  %.1f it/s  %s\n", pr->label, p->iter, p->iters,
                p->seconds > 0 ? p->iter / p->seconds : 0.0, extra);
    }
    return 0;
}

cs_status image_fit_target(cs_context *ctx, const cs_image *in, cs_image *out) {
    int C = in->channels >= 3 ? 3 : 1;
    cs_status st = cs_image_alloc(ctx, in->width, in->height, C, out);
    if (st != CS_OK) return st;
    size_t n = (size_t)in->width * (size_t)in->height;
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < C; c++) out->data[i * C + c] = in->data[i * in->channels + c];
    return CS_OK;
}

/* ---------------------------------------------------------------------------------------------
 * fit
 */
static int image_fit(int argc, char **argv) {
    image_opts o = {0};
    const char *in = NULL, *out = NULL, *png = NULL;
    for (int i = 1; i < argc; i++) {
        int r = image_parse_option("image fit", argc, argv, &i, &o);
        if (r < 0) return CLI_USAGE;
        if (r > 0) continue;
        if ((strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--png") == 0) && i + 1 < argc) {
            if (argv[i][1] == 'o')
                out = argv[++i];
            else
                png = argv[++i];
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_usage_error("image fit", "unknown option '%s'", argv[i]);
        } else if (in) {
            return cli_usage_error("image fit", "more than one IMAGE given");
        } else {
            in = argv[i];
        }
    }
    if (!in || !out) return cli_usage_error("image fit", "expected IMAGE and -o OUT.gsi");
    cs_context *ctx = cli_context(o.threads);
    if (!ctx) return CLI_FAILURE;
    cs_image src = {0}, target = {0}, shown = {0};
    cs_gimage *g = NULL, *stored = NULL;
    int rc = CLI_FAILURE;
    o.fit.quant = &o.gsi;
    cli_progress pr;
    cli_progress_begin(&pr, "fit", "it", o.fit.iters);
    double t0 = cli_now();
    if (cs_image_load(ctx, in, &src) != CS_OK || image_fit_target(ctx, &src, &target) != CS_OK ||
        cs_gimage_fit(ctx, &target, &o.fit, o.quiet ? NULL : image_progress, &pr, &g) != CS_OK) {
        rc = cli_fail(ctx);
        goto done;
    }
    double fit_s = cli_now() - t0;
    if (pr.tty && !o.quiet) fputc('\n', stderr);
    double psnr, ssim;
    if (cs_gimage_save(ctx, g, out, &o.gsi) != CS_OK ||
        cs_gimage_load(ctx, out, &stored) != CS_OK ||
        cs_gimage_render(ctx, stored, NULL, &shown) != CS_OK ||
        cs_image_quality(ctx, &shown, &target, &psnr, &ssim) != CS_OK ||
        (png && cs_image_save_png(ctx, &shown, png, 8) != CS_OK)) {
        rc = cli_fail(ctx);
        goto done;
    }
    cs_gimage_info info;
    cs_gimage_get_info(stored, &info);
    fprintf(stderr,
            "csplat: wrote %s: %lld Gaussians, %lld bytes (%.3f bpp); PSNR %.2f dB, SSIM %.4f; "
            "fit %.1f s\n",
            out, (long long)info.count, (long long)info.file_bytes, info.bits_per_pixel, psnr, ssim,
            fit_s);
    rc = CLI_OK;
done:
    cs_image_free(&src);
    cs_image_free(&target);
    cs_image_free(&shown);
    cs_gimage_destroy(g);
    cs_gimage_destroy(stored);
    cs_context_destroy(ctx);
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * render
 */
static int image_render(int argc, char **argv) {
    const char *in = NULL, *out = NULL;
    cs_gimage_render_desc d = {0};
    long threads = 0, depth = 8;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = true;
        long x;
        if (a[0] != '-' || !a[1]) {
            if (in) return cli_usage_error("image render", "more than one IN.gsi given");
            in = a;
            continue;
        }
        if (!v) return cli_usage_error("image render", "unknown option or missing value '%s'", a);
        i++;
        if (strcmp(a, "-o") == 0)
            out = v;
        else if (strcmp(a, "--scale") == 0)
            ok = cli_parse_float(v, &d.scale) && d.scale > 0.0f;
        else if (strcmp(a, "--width") == 0)
            ok = cli_parse_int(v, 1, 1 << 20, &x) && (d.width = (int)x) > 0;
        else if (strcmp(a, "--height") == 0)
            ok = cli_parse_int(v, 1, 1 << 20, &x) && (d.height = (int)x) > 0;
        else if (strcmp(a, "--crop") == 0) {
            int c[4];
            ok = parse_ints(v, c, 4) && c[0] >= 0 && c[1] >= 0 && c[2] > 0 && c[3] > 0;
            d.crop_x = c[0];
            d.crop_y = c[1];
            d.crop_w = c[2];
            d.crop_h = c[3];
        } else if (strcmp(a, "--bit-depth") == 0)
            ok = cli_parse_int(v, 8, 16, &depth) && (depth == 8 || depth == 16);
        else if (strcmp(a, "--threads") == 0)
            ok = cli_parse_int(v, 1, 1024, &threads);
        else
            return cli_usage_error("image render", "unknown option '%s'", a);
        if (!ok) return cli_usage_error("image render", "bad value '%s' for %s", v, a);
    }
    if (!in || !out) return cli_usage_error("image render", "expected IN.gsi and -o OUT.png");
    if ((d.width > 0) != (d.height > 0))
        return cli_usage_error("image render", "give both --width and --height");
    if (d.width > 0 && d.scale > 0.0f)
        return cli_usage_error("image render", "give --scale or --width/--height, not both");
    cs_context *ctx = cli_context((int)threads);
    if (!ctx) return CLI_FAILURE;
    cs_gimage *g = NULL;
    cs_image img = {0};
    int rc = CLI_OK;
    if (cs_gimage_load(ctx, in, &g) != CS_OK || cs_gimage_render(ctx, g, &d, &img) != CS_OK ||
        cs_image_save_png(ctx, &img, out, (int)depth) != CS_OK) {
        rc = cli_fail(ctx);
    } else {
        fprintf(stderr, "csplat: wrote %s (%dx%d) from %lld Gaussians\n", out, img.width,
                img.height, (long long)cs_gimage_get_params(g).count);
    }
    cs_image_free(&img);
    cs_gimage_destroy(g);
    cs_context_destroy(ctx);
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * info
 */
static int image_info(int argc, char **argv) {
    const char *in = NULL;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            json = true;
        else if (argv[i][0] == '-' && argv[i][1])
            return cli_usage_error("image info", "unknown option '%s'", argv[i]);
        else if (in)
            return cli_usage_error("image info", "more than one IN.gsi given");
        else
            in = argv[i];
    }
    if (!in) return cli_usage_error("image info", "missing IN.gsi");
    cs_context *ctx = cli_context(1);
    if (!ctx) return CLI_FAILURE;
    cs_gimage *g = NULL;
    if (cs_gimage_load(ctx, in, &g) != CS_OK) {
        int rc = cli_fail(ctx);
        cs_context_destroy(ctx);
        return rc;
    }
    cs_gimage_info s;
    cs_gimage_get_info(g, &s);
    bool topk = s.rule == CS_GIMAGE_TOPK;
    const char *rule = topk ? "topk" : "sum";
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "path", in);
        cJSON_AddNumberToObject(o, "width", s.width);
        cJSON_AddNumberToObject(o, "height", s.height);
        cJSON_AddNumberToObject(o, "channels", s.channels);
        cJSON_AddNumberToObject(o, "gaussians", (double)s.count);
        cJSON_AddStringToObject(o, "rule", rule);
        cJSON *b = cJSON_AddObjectToObject(o, "bits");
        cJSON_AddNumberToObject(b, "position", s.bits_position);
        cJSON_AddNumberToObject(b, "cholesky", s.bits_cholesky);
        cJSON_AddNumberToObject(b, "colour", s.bits_colour);
        cJSON_AddBoolToObject(o, "zstd", s.zstd);
        cJSON_AddNumberToObject(o, "bytes", (double)s.file_bytes);
        cJSON_AddNumberToObject(o, "bits_per_pixel", s.bits_per_pixel);
        char *text = cJSON_Print(o);
        if (text) puts(text);
        free(text);
        cJSON_Delete(o);
    } else {
        printf("%s\n  image       %dx%d, %d channel%s\n  gaussians   %lld\n  rule        %s\n"
               "  bits        position %d, cholesky %d, colour %d%s\n"
               "  size        %lld bytes, %.4f bits per pixel\n",
               in, s.width, s.height, s.channels, s.channels == 1 ? "" : "s", (long long)s.count,
               topk ? "topk (normalized top-10 blend)" : "sum (accumulated)", s.bits_position,
               s.bits_cholesky, s.bits_colour, s.zstd ? ", zstd" : "", (long long)s.file_bytes,
               s.bits_per_pixel);
    }
    cs_gimage_destroy(g);
    cs_context_destroy(ctx);
    return CLI_OK;
}

int cmd_image(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        FILE *f = argc < 2 ? stderr : stdout;
        fputs(help, f);
        fputs(image_fit_options_help, f);
        fputs(fit_only_help, f);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "eval") != 0 && cli_wants_help(argc - 1, argv + 1)) {
        fputs(help, stdout);
        fputs(image_fit_options_help, stdout);
        fputs(fit_only_help, stdout);
        return CLI_OK;
    }
    if (strcmp(sub, "fit") == 0) return image_fit(argc - 1, argv + 1);
    if (strcmp(sub, "render") == 0) return image_render(argc - 1, argv + 1);
    if (strcmp(sub, "info") == 0) return image_info(argc - 1, argv + 1);
    if (strcmp(sub, "eval") == 0) return cmd_image_eval(argc - 1, argv + 1);
    return cli_usage_error("image", "unknown subcommand '%s' (fit, render, info, eval)", sub);
}
