/*
 * train_cli.h - what `csplat train`, `csplat eval` and `csplat demo` share: atomic text files,
 * the side-by-side evaluation images, metrics.json, and the training run itself (so the demo
 * runs exactly what `csplat train` runs).
 */
#ifndef CSPLAT_TRAIN_CLI_H
#define CSPLAT_TRAIN_CLI_H

#include "cli.h"

#include <cJSON.h>
#include <stdio.h>

/* Write len bytes to path through a temporary file and a rename, so the file appears whole or
 * not at all. false on failure (message on stderr). */
bool tcli_write_atomic(const char *path, const void *data, size_t len);
/* cJSON_Print(doc) written atomically with a final newline. */
bool tcli_write_json(const char *path, const cJSON *doc);
/* mkdir that accepts an existing folder; false on failure (message on stderr). */
bool tcli_make_dir(const char *path);

/* Per-view metrics gathered during an evaluation, and the side-by-side images when dir is set
 * (ground truth | render | error map, one PNG per view named after it). */
typedef struct tcli_eval {
    cs_context *ctx;
    const char *dir; /* NULL: no images */
    cJSON *views;    /* array of {"name", "psnr", "ssim"} */
    bool quiet;      /* no per-view lines on stderr */
} tcli_eval;

/* The cs_evaluate callback for a tcli_eval. */
cs_status tcli_eval_view(void *user, const cs_eval_view *view);

/* Options of one training run. */
typedef struct tcli_train {
    const char *data, *out, *resume;
    long iters, downscale, threads, save_every;
    long long seed, max_gaussians, random_points;
    bool eval;
    bool quiet;        /* no progress line */
    double psnr, ssim; /* out: held-out metrics when eval */
} tcli_train;

/* The whole of `csplat train`; returns a CLI exit code. */
int tcli_run_train(tcli_train *opt);

#endif
