/*
 * sort.c - the depth sort: the indices of the visible splats (radius > 0), ordered front to back
 * by view depth, ties kept in index order (a stable sort, as the reference's).
 *
 * Depths are > 0.2, so their IEEE-754 bit patterns, read as unsigned integers, order exactly as
 * the floats do; the key is those 32 bits. An LSD radix sort with 11-bit digits (3 passes)
 * orders them; a pass whose digit is the same for every key is skipped. Each pass is threaded
 * over fixed slices: every slice counts its digits, the counts are prefix-summed digit-major then
 * slice-minor, and every slice scatters its keys in order, so the result is the unique stable
 * order whatever the slice count. This is the depth part of sorting by (tile, depth); bin.c does
 * the tile digit (see render.h).
 *
 * Shapes: splats [N] -> order [V] (V = visible count), with keys/tmp arrays [N] and
 * hist [chunks, 2048] as scratch owned by the renderer.
 */
#include "render.h"

#include <string.h>

typedef struct sort_job {
    cs_sort_args *a;
    const uint32_t *src_keys, *src_vals;
    uint32_t *dst_keys, *dst_vals;
    int64_t n;
    int shift;
} sort_job;

static void slice(int64_t n, int chunks, int64_t c, int64_t *begin, int64_t *end) {
    *begin = n * c / chunks;
    *end = n * (c + 1) / chunks;
}

static uint32_t depth_key(float depth) {
    uint32_t k;
    memcpy(&k, &depth, sizeof k);
    return k;
}

/* Compaction, pass 1: visible splats per slice of [0, N). */
static void count_visible_task(void *user, int64_t c, int64_t c_end, int worker) {
    (void)c_end, (void)worker;
    sort_job *job = user;
    int64_t begin, end, n = 0;
    slice(job->n, job->a->chunks, c, &begin, &end);
    for (int64_t i = begin; i < end; i++) n += job->a->splats[i].radius != 0;
    job->a->hist[c * CS_SORT_BUCKETS] = n;
}

/* Compaction, pass 2: write keys and indices at the slice's offset. */
static void write_visible_task(void *user, int64_t c, int64_t c_end, int worker) {
    (void)c_end, (void)worker;
    sort_job *job = user;
    cs_sort_args *a = job->a;
    int64_t begin, end, o = a->hist[c * CS_SORT_BUCKETS];
    slice(job->n, a->chunks, c, &begin, &end);
    for (int64_t i = begin; i < end; i++) {
        if (!a->splats[i].radius) continue;
        a->keys[o] = depth_key(a->splats[i].depth);
        a->order[o] = (uint32_t)i;
        o++;
    }
}

static void hist_task(void *user, int64_t c, int64_t c_end, int worker) {
    (void)c_end, (void)worker;
    sort_job *job = user;
    int64_t *h = job->a->hist + c * CS_SORT_BUCKETS;
    int64_t begin, end;
    slice(job->n, job->a->chunks, c, &begin, &end);
    memset(h, 0, CS_SORT_BUCKETS * sizeof *h);
    for (int64_t i = begin; i < end; i++)
        h[(job->src_keys[i] >> job->shift) & (CS_SORT_BUCKETS - 1)]++;
}

static void scatter_task(void *user, int64_t c, int64_t c_end, int worker) {
    (void)c_end, (void)worker;
    sort_job *job = user;
    int64_t *h = job->a->hist + c * CS_SORT_BUCKETS; /* this slice's offsets per digit */
    int64_t begin, end;
    slice(job->n, job->a->chunks, c, &begin, &end);
    for (int64_t i = begin; i < end; i++) {
        uint32_t k = job->src_keys[i];
        int64_t o = h[(k >> job->shift) & (CS_SORT_BUCKETS - 1)]++;
        job->dst_keys[o] = k;
        job->dst_vals[o] = job->src_vals[i];
    }
}

void cs__sort_cpu(cs_context *ctx, cs_sort_args *a) {
    int chunks = a->chunks;
    sort_job job = {.a = a, .n = a->count};
    cs__parallel_for(ctx, chunks, 1, count_visible_task, &job);
    int64_t v = 0;
    for (int c = 0; c < chunks; c++) {
        int64_t n = a->hist[c * CS_SORT_BUCKETS];
        a->hist[c * CS_SORT_BUCKETS] = v;
        v += n;
    }
    cs__parallel_for(ctx, chunks, 1, write_visible_task, &job);
    a->visible = v;

    /* Ping-pong between (keys, order) and (tmp_keys, tmp_order); copy back at the end. */
    uint32_t *keys = a->keys, *vals = a->order, *tkeys = a->tmp_keys, *tvals = a->tmp_order;
    job.n = v;
    for (int shift = 0; shift < 32; shift += CS_SORT_BITS) {
        job.src_keys = keys;
        job.src_vals = vals;
        job.dst_keys = tkeys;
        job.dst_vals = tvals;
        job.shift = shift;
        cs__parallel_for(ctx, chunks, 1, hist_task, &job);
        /* Offsets digit-major, slice-minor; a digit holding every key means a no-op pass. */
        int64_t o = 0;
        bool constant = false;
        for (int d = 0; d < CS_SORT_BUCKETS && !constant; d++) {
            int64_t total = 0;
            for (int c = 0; c < chunks; c++) {
                int64_t *h = &a->hist[(int64_t)c * CS_SORT_BUCKETS + d];
                int64_t n = *h;
                *h = o;
                o += n;
                total += n;
            }
            constant = total == v;
        }
        if (constant) continue;
        cs__parallel_for(ctx, chunks, 1, scatter_task, &job);
        uint32_t *t = keys;
        keys = tkeys;
        tkeys = t;
        t = vals;
        vals = tvals;
        tvals = t;
    }
    if (vals != a->order) memcpy(a->order, vals, (size_t)v * sizeof *vals);
}
