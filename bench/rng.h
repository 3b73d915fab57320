/*
 * rng.h - the deterministic random stream of the benchmarks that build scenes (bench/render.c,
 * bench/render_bwd.c, bench/compress.c): PCG32 (XSH-RR output of a 64-bit LCG, O'Neill 2014),
 * uniforms in (0, 1) from its 32-bit outputs, standard normals by Box-Muller, and the logit that
 * turns an opacity into the stored parameter. One stream per program (the Makefile builds every
 * bench .c file as its own program); a benchmark restarts it with `rng_state = RNG_SEED` where a
 * scene must not depend on the scenes built before it.
 */
#ifndef CSPLAT_BENCH_RNG_H
#define CSPLAT_BENCH_RNG_H

#include <math.h>
#include <stdint.h>

#define RNG_SEED 0x853c49e6748fea9bULL
static uint64_t rng_state = RNG_SEED;

static inline double uniform(void) {
    uint64_t old = rng_state;
    rng_state = old * 6364136223846793005ULL + 1442695040888963407ULL;
    uint32_t x = (uint32_t)(((old >> 18u) ^ old) >> 27u), rot = (uint32_t)(old >> 59u);
    x = (x >> rot) | (x << ((-rot) & 31));
    return (x + 0.5) / 4294967296.0;
}

static inline double normal(void) {
    return sqrt(-2.0 * log(uniform())) * cos(6.283185307179586 * uniform());
}

static inline float logit(double o) {
    return (float)log(o / (1 - o));
}

#endif
