/*
 * cmd_image_eval.c - `csplat image eval DIR -n N[,N2,..]`: fit every image of a folder at each
 * Gaussian budget and compare with JPEG at the same bits per pixel.
 *
 * Per image and budget: PSNR and SSIM of the stored .gsi (encoded in memory, decoded again,
 * rendered at the native size: quantization included), its bits per pixel (file bytes * 8 /
 * pixels), fit seconds, decode milliseconds (load of the bytes + render, median of 5). Then
 * libjpeg-turbo: the image (8-bit, 4:2:0 chroma for colour, optimized Huffman tables) at every
 * quality 1..100; the quality whose bpp is closest to ours is decoded and scored the same way.
 * The table goes to stdout and, with -o, to a CSV (.csv) or markdown file holding only image
 * names (not DIR), so runs on different machines compare directly; the file is rewritten whole
 * (temporary file + rename) after every row, so an interrupted run keeps what it measured.
 * With --models DIR every fitted model is kept as DIR/IMAGE.N.gsi and, when such a file is
 * already there, loaded instead of fitted: a run can be split or resumed, and a change of the
 * file format rescored without refitting (the model is re-encoded with the current writer).
 *
 * Not here: other codecs (WebP, JPEG 2000), perceptual metrics beyond SSIM.
 */
#include "cmd_image.h"

#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jpeglib.h> /* after stdio.h, which it needs */

#define MAX_BUDGETS 8

static const char help[] =
    "usage: csplat image eval DIR -n N[,N2,...] [-o TABLE.csv|TABLE.md] [--limit K] [--models DIR]\n"
    "                         [options]\n\n"
    "Fit every PNG/JPEG in DIR (name order) with each Gaussian budget; report PSNR, SSIM, bits\n"
    "per pixel, fit seconds and decode milliseconds of the stored file, and JPEG (libjpeg-turbo)\n"
    "at the closest bits per pixel.\n\n"
    "  -o FILE            also write the table: CSV when FILE ends in .csv, else markdown\n"
    "  --limit K          only the first K images\n"
    "  --models DIR       keep each fitted model as DIR/IMAGE.N.gsi, and reuse one already\n"
    "                     there instead of fitting (it is re-encoded with the current format,\n"
    "                     so a format change is rescored without refitting; fit s is then 0)\n";

/* ---------------------------------------------------------------------------------------------
 * JPEG through libjpeg-turbo, in memory, with errors returned instead of exit()
 */
typedef struct jerr {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
} jerr;

static void jerr_exit(j_common_ptr c) {
    longjmp(((jerr *)c->err)->jump, 1);
}

/* Encode 8-bit pixels [H, W, C] (C 1 or 3) at quality q; *out is malloc'd by libjpeg. */
static bool jpeg_encode(const uint8_t *px, int W, int H, int C, int q, unsigned char **out,
                        unsigned long *len) {
    struct jpeg_compress_struct ci;
    jerr e;
    ci.err = jpeg_std_error(&e.mgr);
    e.mgr.error_exit = jerr_exit;
    *out = NULL;
    *len = 0;
    if (setjmp(e.jump)) {
        jpeg_destroy_compress(&ci);
        free(*out);
        *out = NULL;
        return false;
    }
    jpeg_create_compress(&ci);
    jpeg_mem_dest(&ci, out, len);
    ci.image_width = (JDIMENSION)W;
    ci.image_height = (JDIMENSION)H;
    ci.input_components = C;
    ci.in_color_space = C == 3 ? JCS_RGB : JCS_GRAYSCALE;
    jpeg_set_defaults(&ci);
    jpeg_set_quality(&ci, q, TRUE);
    ci.optimize_coding = TRUE;
    jpeg_start_compress(&ci, TRUE);
    while (ci.next_scanline < ci.image_height) {
        JSAMPROW row = (JSAMPROW)(px + (size_t)ci.next_scanline * (size_t)W * (size_t)C);
        jpeg_write_scanlines(&ci, &row, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    return true;
}

/* Decode a JPEG produced by jpeg_encode into floats [H, W, C]. */
static bool jpeg_decode(const unsigned char *data, unsigned long len, cs_image *img) {
    struct jpeg_decompress_struct di;
    jerr e;
    di.err = jpeg_std_error(&e.mgr);
    e.mgr.error_exit = jerr_exit;
    uint8_t *row = NULL;
    if (setjmp(e.jump)) {
        jpeg_destroy_decompress(&di);
        free(row);
        return false;
    }
    jpeg_create_decompress(&di);
    jpeg_mem_src(&di, data, len);
    jpeg_read_header(&di, TRUE);
    di.out_color_space = img->channels == 3 ? JCS_RGB : JCS_GRAYSCALE;
    jpeg_start_decompress(&di);
    if ((int)di.output_width != img->width || (int)di.output_height != img->height)
        longjmp(e.jump, 1);
    row = malloc((size_t)img->width * (size_t)img->channels);
    if (!row) longjmp(e.jump, 1);
    while (di.output_scanline < di.output_height) {
        size_t y = di.output_scanline;
        JSAMPROW r = row;
        jpeg_read_scanlines(&di, &r, 1);
        for (size_t i = 0; i < (size_t)img->width * (size_t)img->channels; i++)
            img->data[y * (size_t)img->width * (size_t)img->channels + i] = row[i] / 255.0f;
    }
    jpeg_finish_decompress(&di);
    jpeg_destroy_decompress(&di);
    free(row);
    return true;
}

typedef struct jpeg_result {
    int quality;
    double bpp, psnr, ssim;
} jpeg_result;

/* JPEG at the quality whose bpp is closest to target_bpp. */
static bool jpeg_closest(cs_context *ctx, const cs_image *target, const uint8_t *px,
                         double target_bpp, jpeg_result *out) {
    double pixels = (double)target->width * target->height, best = 1e300;
    int best_q = 0;
    for (int q = 1; q <= 100; q++) {
        unsigned char *buf;
        unsigned long len;
        if (!jpeg_encode(px, target->width, target->height, target->channels, q, &buf, &len))
            return false;
        double bpp = (double)len * 8.0 / pixels;
        free(buf);
        if (fabs(bpp - target_bpp) < best) {
            best = fabs(bpp - target_bpp);
            best_q = q;
            out->bpp = bpp;
        }
    }
    unsigned char *buf;
    unsigned long len;
    cs_image dec = {0};
    bool ok =
        jpeg_encode(px, target->width, target->height, target->channels, best_q, &buf, &len) &&
        cs_image_alloc(ctx, target->width, target->height, target->channels, &dec) == CS_OK &&
        jpeg_decode(buf, len, &dec) &&
        cs_image_quality(ctx, &dec, target, &out->psnr, &out->ssim) == CS_OK;
    free(buf);
    cs_image_free(&dec);
    out->quality = best_q;
    return ok;
}

/* ---------------------------------------------------------------------------------------------
 * The table
 */
typedef struct row {
    char name[128];
    long long count;
    double psnr, ssim, bpp, fit_s, decode_ms;
    jpeg_result jpeg;
} row;

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int cmp_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_image(const char *name) {
    const char *dot = strrchr(name, '.');
    return dot && (strcasecmp(dot, ".png") == 0 || strcasecmp(dot, ".jpg") == 0 ||
                   strcasecmp(dot, ".jpeg") == 0);
}

static void print_header(FILE *f, bool csv) {
    if (csv) {
        fprintf(f, "image,gaussians,psnr,ssim,bpp,fit_s,decode_ms,jpeg_quality,jpeg_bpp,"
                   "jpeg_psnr,jpeg_ssim\n");
    } else {
        fprintf(f, "| image | Gaussians | PSNR dB | SSIM | bpp | fit s | decode ms | JPEG q | "
                   "JPEG bpp | JPEG PSNR | JPEG SSIM |\n"
                   "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    }
}

static void print_row(FILE *f, bool csv, const row *r) {
    const char *fmt = csv ? "%s,%lld,%.3f,%.4f,%.4f,%.2f,%.2f,%d,%.4f,%.3f,%.4f\n"
                          : "| %s | %lld | %.2f | %.4f | %.3f | %.1f | %.2f | %d | %.3f | %.2f "
                            "| %.4f |\n";
    fprintf(f, fmt, r->name, r->count, r->psnr, r->ssim, r->bpp, r->fit_s, r->decode_ms,
            r->jpeg.quality, r->jpeg.bpp, r->jpeg.psnr, r->jpeg.ssim);
}

/* Means per budget, and how often we beat JPEG's PSNR (overall and below 1 bpp). */
static void print_summary(FILE *f, bool csv, const row *rows, int n, const long long *budgets,
                          int nb) {
    if (!csv)
        fprintf(f, "\n| Gaussians | images | mean PSNR | mean SSIM | mean bpp | mean fit s | "
                   "mean decode ms | JPEG mean PSNR | JPEG mean SSIM | PSNR wins | wins < 1 bpp "
                   "|\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (int b = 0; b < nb; b++) {
        double s[7] = {0};
        int k = 0, wins = 0, below = 0, wins_below = 0;
        for (int i = 0; i < n; i++) {
            const row *r = &rows[i];
            if (r->count != budgets[b]) continue;
            double v[7] = {r->psnr,      r->ssim,      r->bpp,      r->fit_s,
                           r->decode_ms, r->jpeg.psnr, r->jpeg.ssim};
            for (int j = 0; j < 7; j++) s[j] += v[j];
            k++;
            wins += r->psnr > r->jpeg.psnr;
            if (r->bpp < 1.0) {
                below++;
                wins_below += r->psnr > r->jpeg.psnr;
            }
        }
        if (!k) continue;
        for (int j = 0; j < 7; j++) s[j] /= k;
        if (csv)
            fprintf(f, "mean,%lld,%.3f,%.4f,%.4f,%.2f,%.2f,,,%.3f,%.4f\n", budgets[b], s[0], s[1],
                    s[2], s[3], s[4], s[5], s[6]);
        else
            fprintf(f,
                    "| %lld | %d | %.2f | %.4f | %.3f | %.1f | %.2f | %.2f | %.4f | %d/%d | "
                    "%d/%d |\n",
                    budgets[b], k, s[0], s[1], s[2], s[3], s[4], s[5], s[6], wins, k, wins_below,
                    below);
    }
}

/* Write the table to path through a temporary file and a rename, so the file is always whole;
 * called after every row, so an interrupted run keeps what it measured. */
static bool write_table(const char *path, const row *rows, int n, const long long *budgets,
                        int nb) {
    size_t L = strlen(path);
    bool csv = L >= 4 && strcasecmp(path + L - 4, ".csv") == 0;
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return false;
    print_header(f, csv);
    for (int i = 0; i < n; i++) print_row(f, csv, &rows[i]);
    if (!csv) fputc('\n', f);
    print_summary(f, csv, rows, n, budgets, nb);
    bool ok = !ferror(f);
    ok = fclose(f) == 0 && ok;
    if (ok) ok = rename(tmp, path) == 0;
    if (!ok) remove(tmp);
    return ok;
}

/* Evaluate one image at one budget; with models, reuse or keep DIR/IMAGE.N.gsi. */
static bool eval_one(cs_context *ctx, const image_opts *o, const char *models,
                     const cs_image *target, const uint8_t *px, row *r) {
    cs_gimage *g = NULL, *dec = NULL;
    uint8_t *bytes = NULL;
    size_t len = 0;
    cs_image shown = {0};
    char kept[4400] = "";
    if (models) snprintf(kept, sizeof kept, "%s/%s.%lld.gsi", models, r->name, r->count);
    FILE *probe = kept[0] ? fopen(kept, "rb") : NULL;
    bool ok;
    if (probe) { /* an earlier run's model: rescore it */
        fclose(probe);
        ok = cs_gimage_load(ctx, kept, &g) == CS_OK;
        r->fit_s = 0.0;
    } else {
        cli_progress pr;
        cli_progress_begin(&pr, "fit", "it", o->fit.iters);
        cs_gimage_fit_desc fd = o->fit;
        fd.count = r->count;
        fd.quant = &o->gsi; /* snapped to the depths it is stored with */
        double t0 = cli_now();
        ok = cs_gimage_fit(ctx, target, &fd, o->quiet ? NULL : image_progress, &pr, &g) == CS_OK;
        r->fit_s = cli_now() - t0;
        if (pr.tty && !o->quiet) fputs("\r\033[K", stderr);
        if (ok && kept[0]) ok = cs_gimage_save(ctx, g, kept, &o->gsi) == CS_OK;
    }
    ok = ok && cs_gimage_encode(ctx, g, &o->gsi, &bytes, &len) == CS_OK;
    double ms[5];
    for (int k = 0; ok && k < 5; k++) {
        cs_gimage_destroy(dec);
        cs_image_free(&shown);
        dec = NULL;
        double t1 = cli_now();
        ok = cs_gimage_decode(ctx, bytes, len, &dec) == CS_OK &&
             cs_gimage_render(ctx, dec, NULL, &shown) == CS_OK;
        ms[k] = (cli_now() - t1) * 1e3;
    }
    if (ok) {
        qsort(ms, 5, sizeof *ms, cmp_double);
        r->decode_ms = ms[2];
        r->bpp = (double)len * 8.0 / ((double)target->width * target->height);
        ok = cs_image_quality(ctx, &shown, target, &r->psnr, &r->ssim) == CS_OK;
    }
    if (ok && !jpeg_closest(ctx, target, px, r->bpp, &r->jpeg)) {
        fprintf(stderr, "csplat: %s: libjpeg failed\n", r->name);
        ok = false;
    } else if (!ok) {
        fprintf(stderr, "csplat: %s: %s\n", r->name, cs_context_last_error(ctx));
    }
    cs_gimage_buffer_free(bytes);
    cs_image_free(&shown);
    cs_gimage_destroy(g);
    cs_gimage_destroy(dec);
    return ok;
}

int cmd_image_eval(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs(help, stdout);
        fputs(image_fit_options_help, stdout);
        return CLI_OK;
    }
    image_opts o = {0};
    const char *dir = NULL, *out = NULL, *models = NULL;
    long long budgets[MAX_BUDGETS];
    int nb = 0;
    long limit = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-n") == 0 && i + 1 < argc) {
            char buf[256];
            snprintf(buf, sizeof buf, "%s", argv[++i]);
            char *save = NULL;
            for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                long x;
                if (nb == MAX_BUDGETS || !cli_parse_int(t, 1, 1L << 28, &x))
                    return cli_usage_error("image eval", "bad budget list '%s' (at most %d)",
                                           argv[i], MAX_BUDGETS);
                budgets[nb++] = x;
            }
            continue;
        }
        if (strcmp(a, "-o") == 0 && i + 1 < argc) {
            out = argv[++i];
            continue;
        }
        if (strcmp(a, "--models") == 0 && i + 1 < argc) {
            models = argv[++i];
            continue;
        }
        if (strcmp(a, "--limit") == 0 && i + 1 < argc) {
            if (!cli_parse_int(argv[++i], 1, 1000000, &limit))
                return cli_usage_error("image eval", "bad value for --limit");
            continue;
        }
        int r = image_parse_option("image eval", argc, argv, &i, &o);
        if (r < 0) return CLI_USAGE;
        if (r > 0) continue;
        if (a[0] == '-' && a[1]) return cli_usage_error("image eval", "unknown option '%s'", a);
        if (dir) return cli_usage_error("image eval", "more than one DIR given");
        dir = a;
    }
    if (!dir || nb == 0) return cli_usage_error("image eval", "expected DIR and -n N[,N2,...]");
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "csplat: %s: cannot open the folder\n", dir);
        return CLI_FAILURE;
    }
    char **names = NULL;
    int nn = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (!is_image(e->d_name)) continue;
        char **grown = realloc(names, sizeof *names * (size_t)(nn + 1));
        if (!grown) break;
        names = grown;
        names[nn++] = strdup(e->d_name);
    }
    closedir(d);
    if (!nn) {
        fprintf(stderr, "csplat: %s: no PNG or JPEG images\n", dir);
        free(names);
        return CLI_FAILURE;
    }
    qsort(names, (size_t)nn, sizeof *names, cmp_name);
    int n_names = nn;
    if (limit && nn > limit) nn = (int)limit;
    cs_context *ctx = cli_context(o.threads);
    row *rows = calloc((size_t)nn * (size_t)nb, sizeof *rows);
    int n_rows = 0, rc = ctx && rows ? CLI_OK : CLI_FAILURE;
    if (rc == CLI_OK) print_header(stdout, false);
    for (int i = 0; rc == CLI_OK && i < nn; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        cs_image src = {0}, target = {0};
        if (cs_image_load(ctx, path, &src) != CS_OK ||
            image_fit_target(ctx, &src, &target) != CS_OK) {
            rc = cli_fail(ctx);
            cs_image_free(&src);
            break;
        }
        size_t np = (size_t)target.width * (size_t)target.height * (size_t)target.channels;
        uint8_t *px = malloc(np);
        for (size_t k = 0; px && k < np; k++) {
            float v = target.data[k] < 0.0f ? 0.0f : target.data[k] > 1.0f ? 1.0f : target.data[k];
            px[k] = (uint8_t)(v * 255.0f + 0.5f);
        }
        for (int b = 0; px && b < nb; b++) {
            row *r = &rows[n_rows];
            snprintf(r->name, sizeof r->name, "%s", names[i]);
            r->count = budgets[b];
            if (!eval_one(ctx, &o, models, &target, px, r)) {
                rc = CLI_FAILURE;
                break;
            }
            print_row(stdout, false, r);
            fflush(stdout);
            n_rows++;
            if (out && !write_table(out, rows, n_rows, budgets, nb)) {
                fprintf(stderr, "csplat: %s: cannot write\n", out);
                rc = CLI_FAILURE;
            }
        }
        if (!px) rc = CLI_FAILURE;
        free(px);
        cs_image_free(&src);
        cs_image_free(&target);
    }
    if (n_rows) print_summary(stdout, false, rows, n_rows, budgets, nb);
    for (int i = 0; i < n_names; i++) free(names[i]);
    free(names);
    free(rows);
    cs_context_destroy(ctx);
    return rc;
}
