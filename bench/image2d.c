/*
 * bench/image2d.c - decode time of a 2D Gaussian image: 768x512 from 10,000 Gaussians.
 *
 *   build/bench/image2d [FILE.gsi] [--runs N]
 *
 * Without a file, a fitted-looking scene is synthesised: 10,000 Gaussians placed on a jittered
 * grid over 768x512 with sigma about the grid spacing (so each pixel sees ~10 Gaussians within
 * 3 sigma, as in a fitted kodim23), random anisotropy, random colours. With a file (for example
 * `csplat image fit kodim23.png -o k.gsi`) that model is used, decoded from its bytes each run.
 * For both rules, it reports the median of N runs (default 9, at least 5) of decode (file bytes
 * -> gimage, with a file) + render at the native size with all cores, then with one thread: the
 * best kernels (AVX-512 where the CPU has it), the AVX2 ones (CSPLAT_SIMD=avx2) and the scalar
 * ones (CSPLAT_SCALAR=1), with the ratios to the best. Each run's
 * process CPU time (all threads) is reported too: on a machine shared with other work the wall
 * time of a run includes waiting for a core, its CPU time does not.
 */
#include "csplat.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double clock_s(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static unsigned long long rng_state = 88172645463325252ULL;
static double uniform(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}

static cs_gimage *synthesise(cs_context *ctx, cs_gimage_rule rule) {
    int W = 768, H = 512, gx = 125, gy = 80; /* 10,000 on a grid */
    cs_gimage *g;
    if (cs_gimage_create(ctx, W, H, 3, rule, (int64_t)gx * gy, &g) != CS_OK) return NULL;
    cs_gimage_params p = cs_gimage_get_params(g);
    double sx = (double)W / gx, sy = (double)H / gy;
    for (int j = 0; j < gy; j++)
        for (int i = 0; i < gx; i++) {
            int k = j * gx + i;
            p.xy[2 * k] = (float)((i + uniform()) * sx);
            p.xy[2 * k + 1] = (float)((j + uniform()) * sy);
            double s = 0.6 * sqrt(sx * sy) * (0.6 + 0.8 * uniform());
            p.chol[3 * k] = (float)log(s * (0.6 + 0.8 * uniform()));
            p.chol[3 * k + 1] = (float)(s * (uniform() - 0.5));
            p.chol[3 * k + 2] = (float)log(s * (0.6 + 0.8 * uniform()));
            for (int c = 0; c < 3; c++)
                p.colour[3 * k + c] = (float)(rule == CS_GIMAGE_SUM ? 0.4 * uniform() : uniform());
        }
    return g;
}

/* Median wall and CPU milliseconds of runs decodes (when bytes) + renders. */
static void time_decode(cs_context *ctx, cs_gimage *g, const uint8_t *bytes, size_t len, int runs,
                        double *wall, double *cpu) {
    double *ms = malloc(sizeof(double) * (size_t)runs), *cs = malloc(sizeof(double) * (size_t)runs);
    for (int r = 0; r < runs; r++) {
        double t0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
        cs_gimage *d = g;
        if (bytes && cs_gimage_decode(ctx, bytes, len, &d) != CS_OK) {
            fprintf(stderr, "decode: %s\n", cs_context_last_error(ctx));
            exit(1);
        }
        cs_image img;
        if (cs_gimage_render(ctx, d, NULL, &img) != CS_OK) {
            fprintf(stderr, "render: %s\n", cs_context_last_error(ctx));
            exit(1);
        }
        ms[r] = (clock_s(CLOCK_MONOTONIC) - t0) * 1e3;
        cs[r] = (clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0) * 1e3;
        cs_image_free(&img);
        if (bytes) cs_gimage_destroy(d);
    }
    qsort(ms, (size_t)runs, sizeof *ms, cmp);
    qsort(cs, (size_t)runs, sizeof *cs, cmp);
    *wall = ms[runs / 2];
    *cpu = cs[runs / 2];
    free(ms);
    free(cs);
}

int main(int argc, char **argv) {
    const char *file = NULL;
    int runs = 9;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
            runs = atoi(argv[++i]);
        else
            file = argv[i];
    }
    if (runs < 5) runs = 5;
    cs_context *all, *one;
    if (cs_context_create(NULL, &all) != CS_OK ||
        cs_context_create(&(cs_context_desc){.threads = 1}, &one) != CS_OK)
        return 1;
    for (int rule = 0; rule < 2; rule++) {
        cs_gimage *g = NULL;
        uint8_t *bytes = NULL;
        size_t len = 0;
        if (file) {
            if (rule == 1) break; /* a file has its own rule */
            FILE *f = fopen(file, "rb");
            if (!f) {
                fprintf(stderr, "%s: cannot open\n", file);
                return 1;
            }
            fseek(f, 0, SEEK_END);
            len = (size_t)ftell(f);
            fseek(f, 0, SEEK_SET);
            bytes = malloc(len);
            if (fread(bytes, 1, len, f) != len) return 1;
            fclose(f);
            if (cs_gimage_decode(all, bytes, len, &g) != CS_OK) {
                fprintf(stderr, "%s: %s\n", file, cs_context_last_error(all));
                return 1;
            }
        } else {
            g = synthesise(all, (cs_gimage_rule)rule);
        }
        cs_gimage_info info;
        cs_gimage_get_info(g, &info);
        double fast, fast_cpu, one_simd, one_cpu, avx2, avx2_cpu, slow, slow_cpu;
        time_decode(all, g, bytes, len, runs, &fast, &fast_cpu);
        time_decode(one, g, bytes, len, runs, &one_simd, &one_cpu);
        setenv("CSPLAT_SIMD", "avx2", 1);
        time_decode(one, g, bytes, len, runs, &avx2, &avx2_cpu);
        unsetenv("CSPLAT_SIMD");
        setenv("CSPLAT_SCALAR", "1", 1);
        time_decode(one, g, bytes, len, runs, &slow, &slow_cpu);
        unsetenv("CSPLAT_SCALAR");
        printf("%s %dx%d, %lld Gaussians, rule %s (medians of %d runs):\n"
               "  %d threads: %.2f ms wall (%.2f ms CPU)\n"
               "  1 thread:   %.2f ms wall (%.2f ms CPU)\n"
               "  1 thread, AVX2 kernels:   %.2f ms wall (%.2f ms CPU), %.2fx the best CPU time\n"
               "  1 thread, scalar kernels: %.2f ms wall (%.2f ms CPU), %.1fx the best CPU time\n",
               file ? file : "synthetic", info.width, info.height, (long long)info.count,
               info.rule == CS_GIMAGE_TOPK ? "topk" : "sum", runs, cs_context_threads(all), fast,
               fast_cpu, one_simd, one_cpu, avx2, avx2_cpu, avx2_cpu / one_cpu, slow, slow_cpu,
               slow_cpu / one_cpu);
        cs_gimage_destroy(g);
        free(bytes);
    }
    cs_context_destroy(all);
    cs_context_destroy(one);
    return 0;
}
