/*
 * train_cli.c - the training run behind `csplat train` and `csplat demo`, and the evaluation
 * outputs shared with `csplat eval`.
 *
 * A run writes into OUTDIR: scene.ply, cameras.json (every view of the dataset, at the trained
 * resolution), log.csv (iteration, loss, PSNR, Gaussians, seconds: every 10 iterations the means
 * over those 10, seconds of training so far), and with --eval metrics.json and eval/<view>.png
 * (ground truth | render | error map). With --save-every N it also writes checkpoint.bin (and
 * log.csv) every N iterations; --resume DIR continues from DIR/checkpoint.bin, keeping the log
 * rows up to the checkpoint. Every file is written to a temporary name and renamed.
 */
#include "train_cli.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

bool tcli_write_atomic(const char *path, const void *data, size_t len) {
    size_t n = strlen(path) + 32;
    char *tmp = malloc(n);
    if (!tmp) {
        fprintf(stderr, "csplat: %s: out of memory\n", path);
        return false;
    }
    snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    bool ok = f && fwrite(data, 1, len, f) == len;
    if (f) ok = fflush(f) == 0 && fsync(fileno(f)) == 0 && ok;
    if (f && fclose(f) != 0) ok = false;
    if (ok && rename(tmp, path) != 0) ok = false;
    if (!ok) {
        fprintf(stderr, "csplat: %s: cannot write: %s\n", path, strerror(errno));
        remove(tmp);
    }
    free(tmp);
    return ok;
}

bool tcli_write_json(const char *path, const cJSON *doc) {
    char *text = cJSON_Print(doc);
    if (!text) {
        fprintf(stderr, "csplat: %s: out of memory\n", path);
        return false;
    }
    size_t n = strlen(text);
    text[n] = '\n'; /* replaces the terminator; the length below excludes nothing else */
    bool ok = tcli_write_atomic(path, text, n + 1);
    cJSON_free(text);
    return ok;
}

bool tcli_make_dir(const char *path) {
    struct stat st;
    if (mkdir(path, 0755) == 0 || (errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode)))
        return true;
    fprintf(stderr, "csplat: %s: cannot create folder: %s\n", path, strerror(errno));
    return false;
}

/* ---------------------------------------------------------------------------------------------
 * Evaluation outputs
 */

/* The "hot" colour ramp (black, red, yellow, white) of an error e in [0, 1]. */
static void hot(float e, float rgb[3]) {
    for (int k = 0; k < 3; k++) {
        float v = 3.0f * e - (float)k;
        rgb[k] = v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
    }
}

/* ground truth | render | error map (mean absolute error over channels, times 4). */
static cs_status save_side_by_side(cs_context *ctx, const cs_eval_view *v, const char *path) {
    const cs_image *a = v->truth, *b = v->render;
    int w = a->width, h = a->height;
    cs_image out;
    cs_status st = cs_image_alloc(ctx, 3 * w, h, 3, &out);
    if (st != CS_OK) return st;
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            size_t i = ((size_t)y * (size_t)w + (size_t)x) * 3;
            float *row = out.data + (size_t)y * 9 * (size_t)w;
            float err = 0.0f;
            for (int k = 0; k < 3; k++) {
                row[3 * x + k] = a->data[i + k];
                row[3 * (w + x) + k] = b->data[i + k];
                err += fabsf(a->data[i + k] - b->data[i + k]);
            }
            hot(fminf(1.0f, 4.0f * err / 3.0f), row + 3 * (2 * w + x));
        }
    }
    st = cs_image_save_png(ctx, &out, path, 8);
    cs_image_free(&out);
    return st;
}

cs_status tcli_eval_view(void *user, const cs_eval_view *v) {
    tcli_eval *e = user;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", v->name);
    cJSON_AddNumberToObject(o, "psnr", v->psnr);
    cJSON_AddNumberToObject(o, "ssim", v->ssim);
    cJSON_AddItemToArray(e->views, o);
    if (!e->quiet) fprintf(stderr, "  %-28s PSNR %6.2f dB  SSIM %.4f\n", v->name, v->psnr, v->ssim);
    if (!e->dir) return CS_OK;
    /* "train/r_8.png" -> "train_r_8.png" */
    char name[512], path[4096];
    snprintf(name, sizeof name, "%s", v->name);
    char *dot = strrchr(name, '.');
    if (dot && !strchr(dot, '/')) *dot = '\0';
    for (char *c = name; *c; c++)
        if (*c == '/' || *c == '\\') *c = '_';
    snprintf(path, sizeof path, "%s/%s.png", e->dir, name);
    return save_side_by_side(e->ctx, v, path);
}

/* ---------------------------------------------------------------------------------------------
 * The training run
 */
typedef struct text {
    char *data;
    size_t len, cap;
} text;

static bool text_add(text *t, const char *s) {
    size_t n = strlen(s);
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 4096;
        while (cap < t->len + n + 1) cap *= 2;
        char *p = realloc(t->data, cap);
        if (!p) return false;
        t->data = p;
        t->cap = cap;
    }
    memcpy(t->data + t->len, s, n + 1);
    t->len += n;
    return true;
}

#define LOG_HEADER "iteration,loss,psnr,gaussians,seconds\n"
#define LOG_EVERY 10

/* Rows of an earlier log.csv up to iteration `upto`; *seconds = the last kept row's. */
static bool resume_log(const char *path, long long upto, text *log, double *seconds) {
    FILE *f = fopen(path, "rb");
    if (!f) return true; /* no log: start a new one */
    char line[512];
    bool ok = true;
    while (ok && fgets(line, sizeof line, f)) {
        long long it;
        double loss, psnr, secs;
        long long gaussians;
        if (sscanf(line, "%lld,%lf,%lf,%lld,%lf", &it, &loss, &psnr, &gaussians, &secs) != 5)
            continue; /* the header */
        if (it > upto) break;
        ok = text_add(log, line);
        *seconds = secs;
    }
    fclose(f);
    return ok;
}

static cs_status save_cameras(cs_context *ctx, const cs_dataset *ds, const char *path) {
    cs_camera_set *set;
    cs_status st = cs_camera_set_create(ctx, &set);
    for (int64_t i = 0; st == CS_OK && i < cs_dataset_count(ds); i++)
        st = cs_camera_set_add(set, cs_dataset_camera(ds, i), cs_dataset_name(ds, i), NULL);
    if (st == CS_OK) st = cs_camera_set_save(ctx, set, path);
    if (set) cs_camera_set_destroy(set);
    return st;
}

static char *join(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

int tcli_run_train(tcli_train *o) {
    int rc = CLI_FAILURE;
    cs_context *ctx = cli_context((int)o->threads);
    if (!ctx) return CLI_FAILURE;
    cs_dataset *ds = NULL;
    cs_trainer *t = NULL;
    text log = {0};
    cJSON *metrics = NULL;
    char *p_scene = join(o->out, "scene.ply"), *p_cams = join(o->out, "cameras.json");
    char *p_log = join(o->out, "log.csv"), *p_ckpt = join(o->out, "checkpoint.bin");
    char *p_metrics = join(o->out, "metrics.json"), *p_eval = join(o->out, "eval");
    if (!p_scene || !p_cams || !p_log || !p_ckpt || !p_metrics || !p_eval) {
        fprintf(stderr, "csplat: out of memory\n");
        goto done;
    }
    if (!tcli_make_dir(o->out)) goto done;

    cs_dataset_desc dd = {.downscale = (int)o->downscale, .hold_out = o->eval};
    if (cs_dataset_load(ctx, o->data, &dd, &ds) != CS_OK) {
        rc = cli_fail(ctx);
        goto done;
    }
    cs_trainer_desc td = {.seed = (uint64_t)o->seed,
                          .max_gaussians = o->max_gaussians,
                          .random_points = o->random_points};
    if (cs_trainer_create(ctx, ds, &td, &t) != CS_OK) {
        rc = cli_fail(ctx);
        goto done;
    }
    double base_seconds = 0.0;
    if (!text_add(&log, LOG_HEADER)) goto oom;
    if (o->resume) {
        char *ck = join(o->resume, "checkpoint.bin"), *lg = join(o->resume, "log.csv");
        cs_status st = ck && lg ? cs_trainer_load_checkpoint(t, ck) : CS_ERR_NOMEM;
        bool ok =
            st == CS_OK && resume_log(lg, (long long)cs_trainer_iteration(t), &log, &base_seconds);
        free(ck);
        free(lg);
        if (st != CS_OK) {
            rc = cli_fail(ctx);
            goto done;
        }
        if (!ok) goto oom;
    }
    long long start = (long long)cs_trainer_iteration(t);
    cli_progress prog;
    cli_progress_begin(&prog, "train", "it", o->iters > start ? o->iters - start : 0);
    double t0 = cli_now(), loss_sum = 0.0, psnr_sum = 0.0;
    int window = 0;
    cs_train_step_info info = {0};
    for (long long it = start; it < o->iters; it++) {
        if (cs_trainer_step(t, &info) != CS_OK) {
            if (!o->quiet) fputc('\n', stderr);
            rc = cli_fail(ctx);
            goto done;
        }
        loss_sum += info.loss;
        psnr_sum += info.psnr;
        window++;
        double seconds = base_seconds + cli_now() - t0;
        char line[256];
        if (info.iteration % LOG_EVERY == 0 || info.iteration == o->iters) {
            snprintf(line, sizeof line, "%lld,%.6f,%.4f,%lld,%.3f\n", (long long)info.iteration,
                     loss_sum / window, psnr_sum / window, (long long)info.gaussians, seconds);
            if (!text_add(&log, line)) goto oom;
            loss_sum = psnr_sum = 0.0;
            window = 0;
        }
        if (!o->quiet) {
            snprintf(line, sizeof line, "iteration %lld  loss %.4f  PSNR %.2f  %lld Gaussians",
                     (long long)info.iteration, info.loss, info.psnr, (long long)info.gaussians);
            cli_progress_update(&prog, info.iteration - start, line);
        }
        if (o->save_every > 0 && info.iteration % o->save_every == 0 && info.iteration < o->iters) {
            /* The log first: a kill in between leaves rows past the checkpoint, which a
             * resume drops, rather than a gap. */
            if (!tcli_write_atomic(p_log, log.data, log.len)) goto done;
            if (cs_trainer_save_checkpoint(t, p_ckpt) != CS_OK) {
                rc = cli_fail(ctx);
                goto done;
            }
        }
    }
    double train_seconds = base_seconds + cli_now() - t0;
    if (!o->quiet) {
        char line[128];
        snprintf(line, sizeof line, "%lld Gaussians",
                 (long long)cs_scene_count(cs_trainer_scene(t)));
        cli_progress_end(&prog, (long long)cs_trainer_iteration(t) - start, line);
    }
    if (!tcli_write_atomic(p_log, log.data, log.len)) goto done;
    if (cs_scene_save(ctx, cs_trainer_scene(t), p_scene) != CS_OK ||
        save_cameras(ctx, ds, p_cams) != CS_OK) {
        rc = cli_fail(ctx);
        goto done;
    }
    if (o->eval) {
        if (!tcli_make_dir(p_eval)) goto done;
        tcli_eval ev = {ctx, p_eval, cJSON_CreateArray(), o->quiet};
        cs_eval_result er;
        cs_status st = cs_evaluate(ctx, cs_trainer_scene(t), ds, tcli_eval_view, &ev, &er);
        metrics = cJSON_CreateObject();
        if (st != CS_OK) {
            cJSON_Delete(ev.views);
            rc = cli_fail(ctx);
            goto done;
        }
        cJSON_AddNumberToObject(metrics, "psnr", er.psnr);
        cJSON_AddNumberToObject(metrics, "ssim", er.ssim);
        cJSON_AddItemToObject(metrics, "views", ev.views);
        cJSON_AddNumberToObject(metrics, "iterations", (double)cs_trainer_iteration(t));
        cJSON_AddNumberToObject(metrics, "gaussians", (double)cs_scene_count(cs_trainer_scene(t)));
        cJSON_AddNumberToObject(metrics, "train_seconds", train_seconds);
        if (!tcli_write_json(p_metrics, metrics)) goto done;
        o->psnr = er.psnr;
        o->ssim = er.ssim;
        if (!o->quiet)
            fprintf(stderr, "held-out views: PSNR %.2f dB, SSIM %.4f (%lld views)\n", er.psnr,
                    er.ssim, (long long)er.views);
    }
    rc = CLI_OK;
    goto done;
oom:
    fprintf(stderr, "csplat: out of memory\n");
done:
    cJSON_Delete(metrics);
    free(log.data);
    free(p_scene);
    free(p_cams);
    free(p_log);
    free(p_ckpt);
    free(p_metrics);
    free(p_eval);
    cs_trainer_destroy(t);
    cs_dataset_destroy(ds);
    cs_context_destroy(ctx);
    return rc;
}
