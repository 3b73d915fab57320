/*
 * bench/train.c - training speed: milliseconds per iteration (median) split per stage (forward,
 * loss, backward, optimizer, densify), and peak memory (getrusage ru_maxrss).
 *
 *   build/bench/train DATA [--downscale K] [--iters N] [--skip S] [--threads T] [--eval]
 *                          [--points P]
 *
 * Trains from scratch for S + N iterations (default S = 0, N = 300) and reports the medians of
 * the last N; the count of Gaussians grows with densification, so runs that start later (S) see
 * the heavier scenes of a long training. --eval holds out views as `csplat train --eval` does;
 * --points sets the number of random initial points (default 100,000) of datasets without any.
 * Targets (docs): lego --downscale 2 (400 x 400) <= 100 ms per iteration.
 */
#include <csplat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
    const char *data = NULL;
    int downscale = 1, iters = 300, skip = 0, threads = 0, eval = 0;
    long long points = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--downscale") == 0 && i + 1 < argc)
            downscale = atoi(argv[++i]);
        else if (strcmp(argv[i], "--iters") == 0 && i + 1 < argc)
            iters = atoi(argv[++i]);
        else if (strcmp(argv[i], "--skip") == 0 && i + 1 < argc)
            skip = atoi(argv[++i]);
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--points") == 0 && i + 1 < argc)
            points = atoll(argv[++i]);
        else if (strcmp(argv[i], "--eval") == 0)
            eval = 1;
        else if (!data)
            data = argv[i];
        else {
            fprintf(stderr, "unexpected argument %s\n", argv[i]);
            return 2;
        }
    }
    if (!data || iters < 1 || skip < 0) {
        fprintf(stderr, "usage: train DATA [--downscale K] [--iters N] [--skip S] "
                        "[--threads T] [--eval] [--points P]\n");
        return 2;
    }
    cs_context *ctx;
    cs_context_desc cd = {.threads = threads};
    if (cs_context_create(&cd, &ctx) != CS_OK) return 1;
    cs_dataset *ds;
    cs_dataset_desc dd = {.downscale = downscale, .hold_out = eval};
    double t_load = now_s();
    if (cs_dataset_load(ctx, data, &dd, &ds) != CS_OK) {
        fprintf(stderr, "%s\n", cs_context_last_error(ctx));
        return 1;
    }
    t_load = now_s() - t_load;
    cs_trainer *t;
    double t_init = now_s();
    cs_trainer_desc td = {.random_points = points};
    if (cs_trainer_create(ctx, ds, &td, &t) != CS_OK) {
        fprintf(stderr, "%s\n", cs_context_last_error(ctx));
        return 1;
    }
    t_init = now_s() - t_init;
    const cs_camera *cam0 = cs_dataset_camera(ds, 0);
    printf("dataset %s: %lld views, %dx%d, %d threads; load %.2f s, init %.2f s (%lld Gaussians)\n",
           data, (long long)cs_dataset_count(ds), cam0->width, cam0->height,
           cs_context_threads(ctx), t_load, t_init, (long long)cs_scene_count(cs_trainer_scene(t)));
    double *ms[6];
    for (int k = 0; k < 6; k++) ms[k] = malloc((size_t)iters * sizeof(double));
    double wall = now_s();
    cs_train_step_info info = {0};
    for (int i = 0; i < skip + iters; i++) {
        if (cs_trainer_step(t, &info) != CS_OK) {
            fprintf(stderr, "%s\n", cs_context_last_error(ctx));
            return 1;
        }
        if (i < skip) continue;
        if (i == skip) wall = now_s();
        int j = i - skip;
        ms[0][j] = info.ms_forward;
        ms[1][j] = info.ms_loss;
        ms[2][j] = info.ms_backward;
        ms[3][j] = info.ms_optimizer;
        ms[4][j] = info.ms_densify;
        ms[5][j] = info.ms_total;
    }
    wall = now_s() - wall;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    const char *names[6] = {"forward", "loss", "backward", "optimizer", "densify", "total"};
    printf("iterations %d..%d: median ms per iteration\n", skip + 1, skip + iters);
    for (int k = 0; k < 6; k++) printf("  %-10s %8.2f\n", names[k], median(ms[k], iters));
    printf("  mean total %.2f ms (%.2f s per 1000 iterations), last loss %.4f, PSNR %.2f\n",
           1e3 * wall / iters, 1e3 * wall / iters, info.loss, info.psnr);
    printf("  Gaussians at the end %lld; peak memory %.1f MiB\n", (long long)info.gaussians,
           (double)ru.ru_maxrss / 1024.0);
    for (int k = 0; k < 6; k++) free(ms[k]);
    cs_trainer_destroy(t);
    cs_dataset_destroy(ds);
    cs_context_destroy(ctx);
    return 0;
}
