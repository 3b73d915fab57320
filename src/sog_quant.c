/*
 * sog_quant.c - deterministic codebooks for SOG: a 256-entry scalar codebook (scales, DC colour,
 * SH palette values) and the k-means palette of SH coefficient vectors.
 *
 * Scalar codebook: 1D k-means (minimum squared error). On sorted values every cluster is a
 * contiguous run, so one Lloyd step is: boundaries at midpoints between neighbouring centroids,
 * cluster means from prefix sums, O(k log n) per step. Seeds blend quantiles with uniformly
 * spaced values (half each) so both the dense centre and sparse tails (huge scales, saturated
 * colours: the values whose errors show most) start with centroids; Lloyd then runs to a fixed
 * point (at most 300 steps). When there are no more distinct values than entries, the codebook
 * holds them exactly.
 *
 * Vector palette: a balanced binary tree of 2-means splits seeds k centroids (each node splits
 * along its widest coordinate into two groups by a few 2-means steps, leaves shared out in
 * proportion to the group sizes), numbering leaves in depth-first order so that centroids with
 * close numbers are close in space. Lloyd steps then refine it, each point searching only the
 * centroids within +-32 of its current one in that order (the tree neighbourhood), which keeps a
 * step at O(n * 65 * dim) instead of O(n * k * dim). Centroid means are accumulated per centroid
 * over its members in index order, so results do not depend on the thread count. When the points
 * hold no more distinct vectors than k (found with a hash table), the palette is exactly those
 * vectors, tree-ordered: re-encoding a SOG, whose SH already are a palette, then loses nothing.
 * (Measured on the playbot scene: reordering the palette by first use along the file, or sorting
 * it in 2D with PLAS, compressed its image no better than the tree order.)
 */
#include "sog.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Index of the first sorted value >= x. */
static size_t lower_bound(const float *v, size_t n, float x) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid] < x) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

typedef struct label_job {
    const float *values;
    const float *codebook;
    int k;
    uint8_t *labels;
} label_job;

static void label_task(void *user, int64_t begin, int64_t end, int worker) {
    (void)worker;
    label_job *j = user;
    for (int64_t i = begin; i < end; i++) {
        float v = j->values[i];
        int lo = 0, hi = j->k - 1;
        if (v != v) v = j->codebook[0]; /* NaN: the low end */
        /* Smallest entry whose upper midpoint lies above v. */
        while (lo < hi) {
            int mid = (lo + hi) / 2;
            if (v < 0.5f * (j->codebook[mid] + j->codebook[mid + 1])) hi = mid;
            else lo = mid + 1;
        }
        j->labels[i] = (uint8_t)lo;
    }
}

cs_status cs__codebook_1d(cs_context *ctx, const float *values, size_t n, int k, float *codebook,
                          uint8_t *labels) {
    CS_ASSERT(k >= 1 && k <= 256);
    float *sorted = cs__malloc((n ? n : 1) * sizeof *sorted);
    double *pre1 = cs__malloc((n + 1) * sizeof *pre1);
    if (!sorted || !pre1) {
        cs__free(sorted);
        cs__free(pre1);
        return cs__alloc_error(ctx, "codebook", n * 12);
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(values[i])) sorted[m++] = values[i];
    qsort(sorted, m, sizeof *sorted, cmp_float);
    size_t distinct = 0;
    for (size_t i = 0; i < m; i++) distinct += i == 0 || sorted[i] != sorted[i - 1];
    if (m == 0) {
        for (int j = 0; j < k; j++) codebook[j] = 0.0f;
    } else if (distinct <= (size_t)k) {
        int j = 0;
        for (size_t i = 0; i < m; i++)
            if (i == 0 || sorted[i] != sorted[i - 1]) codebook[j++] = sorted[i];
        for (; j < k; j++) codebook[j] = sorted[m - 1];
    } else {
        pre1[0] = 0;
        for (size_t i = 0; i < m; i++) pre1[i + 1] = pre1[i] + (double)sorted[i];
        float lo = sorted[0], hi = sorted[m - 1];
        for (int j = 0; j < k; j++) {
            double t = (j + 0.5) / k;
            double q = sorted[(size_t)(t * (double)m)], u = (double)lo + t * ((double)hi - (double)lo);
            codebook[j] = (float)(0.5 * q + 0.5 * u);
        }
        qsort(codebook, (size_t)k, sizeof *codebook, cmp_float);
        for (int step = 0; step < 300; step++) {
            bool changed = false;
            size_t begin = 0;
            for (int j = 0; j < k; j++) {
                size_t end = j == k - 1 ? m
                                        : lower_bound(sorted, m,
                                                      0.5f * (codebook[j] + codebook[j + 1]));
                if (end < begin) end = begin;
                if (end > begin) {
                    float c = (float)((pre1[end] - pre1[begin]) / (double)(end - begin));
                    changed = changed || c != codebook[j];
                    codebook[j] = c;
                }
                begin = end;
            }
            /* Means of ordered runs stay ordered, but keep it explicit for the label search. */
            qsort(codebook, (size_t)k, sizeof *codebook, cmp_float);
            if (!changed) break;
        }
    }
    cs__free(sorted);
    cs__free(pre1);
    label_job job = {values, codebook, k, labels};
    cs__parallel_for(ctx, (int64_t)n, 65536, label_task, &job);
    return CS_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Vector k-means.
 */

typedef struct tree_node {
    size_t begin, end; /* range of idx[] */
    int leaves;        /* centroids to produce under this node */
    int first_leaf;    /* number of its first leaf in depth-first order */
} tree_node;

typedef struct split_job {
    const float *points;
    int dim;
    uint32_t *idx;
    uint8_t *side;     /* scratch: 0/1 per point position */
    uint32_t *tmp;     /* scratch for the stable partition */
    tree_node *nodes;  /* this level's nodes */
    tree_node *next;   /* children: 2 per node (leaves == 0 means absent) */
    float *centroids;  /* leaves write their mean here ... */
    uint32_t *labels;  /* ... and their number into their points' labels */
} split_job;

static double dist2(const float *a, const float *b, int dim) {
    double d = 0;
    for (int c = 0; c < dim; c++) {
        double t = (double)a[c] - (double)b[c];
        d += t * t;
    }
    return d;
}

static void mean_of(const split_job *j, size_t begin, size_t end, double *acc, float *out) {
    int dim = j->dim;
    for (int c = 0; c < dim; c++) acc[c] = 0;
    for (size_t i = begin; i < end; i++) {
        const float *p = j->points + (size_t)j->idx[i] * (size_t)dim;
        for (int c = 0; c < dim; c++) acc[c] += (double)p[c];
    }
    for (int c = 0; c < dim; c++) out[c] = (float)(acc[c] / (double)(end - begin));
}

/* Split one node into two by 2-means, or emit its centroid when it is a leaf. */
static void split_node(split_job *j, int64_t ni) {
    tree_node *node = &j->nodes[ni];
    tree_node *kids = &j->next[2 * ni];
    int dim = j->dim;
    kids[0].leaves = kids[1].leaves = 0;
    double acc[64], acc1[64];
    float c0[64], c1[64];
    size_t n = node->end - node->begin;
    if (node->leaves == 1) {
        mean_of(j, node->begin, node->end, acc, j->centroids + (size_t)node->first_leaf * dim);
        for (size_t i = node->begin; i < node->end; i++)
            j->labels[j->idx[i]] = (uint32_t)node->first_leaf;
        return;
    }
    /* Seeds: the mean -+ one standard deviation along the coordinate of widest spread. */
    float mean[64];
    mean_of(j, node->begin, node->end, acc, mean);
    int wide = 0;
    double best = -1, var_w = 0;
    for (int c = 0; c < dim; c++) {
        double v = 0;
        for (size_t i = node->begin; i < node->end; i++) {
            double t = (double)j->points[(size_t)j->idx[i] * dim + c] - (double)mean[c];
            v += t * t;
        }
        if (v > best) {
            best = v;
            wide = c;
            var_w = v / (double)n;
        }
    }
    memcpy(c0, mean, sizeof(float) * (size_t)dim);
    memcpy(c1, mean, sizeof(float) * (size_t)dim);
    c0[wide] -= (float)sqrt(var_w);
    c1[wide] += (float)sqrt(var_w);
    size_t n1 = 0;
    for (int step = 0; step < 4; step++) {
        for (int c = 0; c < dim; c++) acc[c] = acc1[c] = 0;
        n1 = 0;
        for (size_t i = node->begin; i < node->end; i++) {
            const float *p = j->points + (size_t)j->idx[i] * dim;
            int s = dist2(p, c1, dim) < dist2(p, c0, dim);
            j->side[i] = (uint8_t)s;
            double *a = s ? acc1 : acc;
            for (int c = 0; c < dim; c++) a[c] += (double)p[c];
            n1 += (size_t)s;
        }
        if (n1 == 0 || n1 == n) break;
        for (int c = 0; c < dim; c++) {
            c0[c] = (float)(acc[c] / (double)(n - n1));
            c1[c] = (float)(acc1[c] / (double)n1);
        }
    }
    if (n1 == 0 || n1 == n) {
        /* Identical points (or no separation): split the run in half. */
        n1 = n / 2;
        for (size_t i = node->begin; i < node->end; i++) j->side[i] = i - node->begin >= n - n1;
    }
    /* Stable partition: side 0 first. */
    size_t a = node->begin, b = 0;
    for (size_t i = node->begin; i < node->end; i++) {
        if (j->side[i]) j->tmp[node->begin + b++] = j->idx[i];
        else j->idx[a++] = j->idx[i];
    }
    memcpy(j->idx + a, j->tmp + node->begin, b * sizeof *j->idx);
    size_t n0 = n - n1;
    int t = node->leaves;
    int t0 = (int)((double)t * (double)n0 / (double)n + 0.5);
    if (t0 < 1) t0 = 1;
    if (t0 > t - 1) t0 = t - 1;
    if ((size_t)t0 > n0) t0 = (int)n0;
    if ((size_t)(t - t0) > n1) t0 = t - (int)n1;
    kids[0] = (tree_node){node->begin, node->begin + n0, t0, node->first_leaf};
    kids[1] = (tree_node){node->begin + n0, node->end, t - t0, node->first_leaf + t0};
}

static void split_task(void *user, int64_t begin, int64_t end, int worker) {
    (void)worker;
    for (int64_t i = begin; i < end; i++) split_node(user, i);
}

typedef struct assign_job {
    const float *points;
    int dim, k;
    const float *centroids;
    uint32_t *labels;
} assign_job;

static void assign_task(void *user, int64_t begin, int64_t end, int worker) {
    (void)worker;
    assign_job *j = user;
    for (int64_t i = begin; i < end; i++) {
        const float *p = j->points + (size_t)i * j->dim;
        int cur = (int)j->labels[i];
        int lo = cur - 32 < 0 ? 0 : cur - 32, hi = cur + 32 >= j->k ? j->k - 1 : cur + 32;
        double best = dist2(p, j->centroids + (size_t)cur * j->dim, j->dim);
        int arg = cur;
        for (int c = lo; c <= hi; c++) {
            double d = dist2(p, j->centroids + (size_t)c * j->dim, j->dim);
            if (d < best) {
                best = d;
                arg = c;
            }
        }
        j->labels[i] = (uint32_t)arg;
    }
}

typedef struct update_job {
    const float *points;
    int dim;
    const uint32_t *members; /* point indices grouped by centroid */
    const size_t *start;     /* [k + 1] */
    float *centroids;
} update_job;

static void update_task(void *user, int64_t begin, int64_t end, int worker) {
    (void)worker;
    update_job *j = user;
    double acc[64];
    for (int64_t c = begin; c < end; c++) {
        size_t b = j->start[c], e = j->start[c + 1];
        if (b == e) continue; /* empty: keep the centroid where it was */
        for (int d = 0; d < j->dim; d++) acc[d] = 0;
        for (size_t m = b; m < e; m++) {
            const float *p = j->points + (size_t)j->members[m] * j->dim;
            for (int d = 0; d < j->dim; d++) acc[d] += (double)p[d];
        }
        for (int d = 0; d < j->dim; d++)
            j->centroids[(size_t)c * j->dim + d] = (float)(acc[d] / (double)(e - b));
    }
}

/* Tree of 2-means splits with k leaves (k <= n): each leaf's mean goes to centroids in depth-
 * first order and its number to its points' labels. */
static cs_status tree_leaves(cs_context *ctx, const float *points, int64_t n, int dim, int k,
                             float *centroids, uint32_t *labels) {
    size_t count = (size_t)n;
    uint32_t *idx = cs__malloc(count * sizeof *idx), *tmp = cs__malloc(count * sizeof *tmp);
    uint8_t *side = cs__malloc(count);
    tree_node *level = cs__malloc((size_t)k * sizeof *level);
    tree_node *next = cs__malloc(2 * (size_t)k * sizeof *next);
    cs_status st = CS_OK;
    if (!idx || !tmp || !side || !level || !next) {
        st = cs__alloc_error(ctx, "k-means", count * 9 + (size_t)k * 40);
    } else {
        for (size_t i = 0; i < count; i++) idx[i] = (uint32_t)i;
        /* Grow the tree level by level; leaves write their centroid and drop out. */
        level[0] = (tree_node){0, count, k, 0};
        int nlevel = 1;
        split_job sj = {points, dim, idx, side, tmp, level, next, centroids, labels};
        while (nlevel > 0) {
            sj.nodes = level;
            cs__parallel_for(ctx, nlevel, 1, split_task, &sj);
            int nn = 0;
            for (int i = 0; i < 2 * nlevel; i++)
                if (next[i].leaves > 0) level[nn++] = next[i];
            nlevel = nn;
        }
    }
    cs__free(idx);
    cs__free(tmp);
    cs__free(side);
    cs__free(level);
    cs__free(next);
    return st;
}

/* Lloyd steps from initial centroids and labels: assign within the window, then `iterations`
 * times update the centroids and re-assign. */
static cs_status lloyd(cs_context *ctx, const float *points, int64_t n, int dim, int k,
                       int iterations, float *centroids, uint32_t *labels) {
    size_t count = (size_t)n;
    uint32_t *members = cs__malloc(count * sizeof *members);
    size_t *start = cs__malloc(((size_t)k + 1) * sizeof *start);
    if (!members || !start) {
        cs__free(members);
        cs__free(start);
        return cs__alloc_error(ctx, "k-means", count * 4 + (size_t)k * 8);
    }
    assign_job aj = {points, dim, k, centroids, labels};
    cs__parallel_for(ctx, n, 4096, assign_task, &aj);
    for (int it = 0; it < iterations; it++) {
        /* Group members by centroid (counting sort keeps index order). */
        memset(start, 0, ((size_t)k + 1) * sizeof *start);
        for (size_t i = 0; i < count; i++) start[labels[i] + 1]++;
        for (int c = 0; c < k; c++) start[c + 1] += start[c];
        for (size_t i = 0; i < count; i++) members[start[labels[i]]++] = (uint32_t)i;
        for (int c = k; c > 0; c--) start[c] = start[c - 1];
        start[0] = 0;
        update_job uj = {points, dim, members, start, centroids};
        cs__parallel_for(ctx, k, 256, update_task, &uj);
        cs__parallel_for(ctx, n, 4096, assign_task, &aj);
    }
    cs__free(members);
    cs__free(start);
    return CS_OK;
}

/* FNV-1a over a vector's bytes (with -0 and +0 alike, so equal values hash equal). */
static uint64_t hash_vec(const float *v, int dim) {
    uint64_t h = 1469598103934665603ULL;
    for (int c = 0; c < dim; c++) {
        float x = v[c] == 0.0f ? 0.0f : v[c];
        uint32_t u;
        memcpy(&u, &x, 4);
        for (int b = 0; b < 4; b++) h = (h ^ ((u >> (8 * b)) & 0xff)) * 1099511628211ULL;
    }
    return h;
}

static bool same_vec(const float *a, const float *b, int dim) {
    for (int c = 0; c < dim; c++)
        if (!(a[c] == b[c])) return false;
    return true;
}

cs_status cs__kmeans(cs_context *ctx, const float *points, int64_t n, int dim, int k,
                     int iterations, float *centroids, uint32_t *labels, int *k_out) {
    CS_ASSERT(dim >= 1 && dim <= 64 && k >= 1);
    *k_out = 0;
    if (n <= 0) return CS_OK;
    /* Distinct vectors, numbered in order of first occurrence (a hash table of 2^b >= 2n
     * slots). When they fit in k entries the palette holds them exactly: re-encoding a SOG
     * (whose SH are already a palette) loses nothing. */
    size_t count = (size_t)n, slots = 1;
    while (slots < 2 * count) slots <<= 1;
    uint32_t *table = cs__malloc(slots * sizeof *table), *uid = cs__malloc(count * sizeof *uid);
    uint32_t *first = cs__malloc(count * sizeof *first);
    if (!table || !uid || !first) {
        cs__free(table);
        cs__free(uid);
        cs__free(first);
        return cs__alloc_error(ctx, "k-means", slots * 4 + count * 8);
    }
    memset(table, 0xff, slots * sizeof *table);
    uint32_t unique = 0;
    for (size_t i = 0; i < count; i++) {
        const float *v = points + i * (size_t)dim;
        size_t h = (size_t)hash_vec(v, dim) & (slots - 1);
        while (table[h] != UINT32_MAX &&
               !same_vec(points + (size_t)first[table[h]] * dim, v, dim))
            h = (h + 1) & (slots - 1);
        if (table[h] == UINT32_MAX) {
            first[unique] = (uint32_t)i;
            table[h] = unique++;
        }
        uid[i] = table[h];
    }
    cs__free(table);
    /* Order the distinct vectors depth first in a tree with one leaf each: neighbours in that
     * order are similar, which the palette image and the windowed search both rely on. */
    cs_status st = CS_OK;
    float *upts = cs__malloc(((size_t)unique * dim + 1) * sizeof *upts);
    float *ordered = cs__malloc(((size_t)unique * dim + 1) * sizeof *ordered);
    uint32_t *upos = cs__malloc(((size_t)unique + 1) * sizeof *upos);
    if (!upts || !ordered || !upos) st = cs__alloc_error(ctx, "k-means", (size_t)unique * dim * 8);
    for (uint32_t u = 0; st == CS_OK && u < unique; u++)
        memcpy(upts + (size_t)u * dim, points + (size_t)first[u] * dim, (size_t)dim * sizeof *upts);
    if (st == CS_OK) st = tree_leaves(ctx, upts, unique, dim, (int)unique, ordered, upos);
    if (st == CS_OK && unique <= (uint32_t)k) {
        memcpy(centroids, ordered, (size_t)unique * dim * sizeof *centroids);
        for (size_t i = 0; i < count; i++) labels[i] = upos[uid[i]];
        *k_out = (int)unique;
    } else if (st == CS_OK) {
        /* Seeds: k distinct vectors evenly spaced along that order (so every region of the
         * distribution gets seeds in proportion to its distinct vectors, and a set only
         * slightly larger than k keeps most vectors exact); each point starts at the seed of
         * its stretch of the order, then Lloyd refines. */
        for (int j = 0; j < k; j++) {
            size_t at = (size_t)(((double)j + 0.5) * unique / k);
            memcpy(centroids + (size_t)j * dim, ordered + at * dim, (size_t)dim * sizeof *centroids);
        }
        for (size_t i = 0; i < count; i++) {
            uint64_t j = (uint64_t)upos[uid[i]] * (uint64_t)k / unique;
            labels[i] = (uint32_t)(j < (uint64_t)k ? j : (uint64_t)k - 1);
        }
        st = lloyd(ctx, points, n, dim, k, iterations, centroids, labels);
        if (st == CS_OK) *k_out = k;
    }
    cs__free(upts);
    cs__free(ordered);
    cs__free(upos);
    cs__free(uid);
    cs__free(first);
    return st;
}
