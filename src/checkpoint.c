/*
 * checkpoint.c - the trainer's whole state in one file, written atomically (temporary file,
 * fsync, rename: a run killed mid-write leaves the previous checkpoint intact) and restored so
 * that the run continues bit-identically.
 *
 * State = everything a future iteration reads: the parameters, both Adam moments and each
 * group's step count, the densification statistics (gradient sums, counts, max radii), the
 * iteration, the SH degree in use, the random generator, and the epoch's view order with its
 * position. The learning rates are a function of the iteration; scratch is not state.
 *
 * Layout (host byte order, which the endian marker checks; every host csplat targets is
 * little-endian):
 *   header   "CSPLATCK", u32 version = 1, u32 0x01020304, then the fields of put_header()
 *   perm     [n_train] int64
 *   blocks   parameters, first moments, second moments: N (11 + 3K) floats each
 *   stats    grad_accum, denom, max_radii: N floats each
 *   trailer  u64 hash (FNV-1a over 64-bit words, zero-padded tail) of everything before it
 * The header repeats the trainer's desc and a hash of the dataset's views (names, sizes,
 * split) so a checkpoint is refused, not misapplied, with another dataset or other options.
 */
#include "trainer.h"

#include <string.h>

#define CKPT_MAGIC "CSPLATCK"
#define CKPT_VERSION 1u
#define CKPT_ENDIAN 0x01020304u
#define CKPT_MAX_BYTES ((size_t)64 << 30)

/* ---- hashing ---- */
#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

typedef struct hasher {
    uint64_t h;
    uint8_t tail[8];
    size_t n_tail;
} hasher;

static void hash_bytes(hasher *s, const void *data, size_t len) {
    const uint8_t *p = data;
    while (len > 0 && s->n_tail > 0 && s->n_tail < 8) {
        s->tail[s->n_tail++] = *p++;
        len--;
        if (s->n_tail == 8) {
            uint64_t w;
            memcpy(&w, s->tail, 8);
            s->h = (s->h ^ w) * FNV_PRIME;
            s->n_tail = 0;
        }
    }
    for (; len >= 8; p += 8, len -= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        s->h = (s->h ^ w) * FNV_PRIME;
    }
    for (; len > 0; len--) s->tail[s->n_tail++] = *p++;
}

static uint64_t hash_final(hasher *s) {
    if (s->n_tail > 0) {
        uint64_t w = 0;
        memcpy(&w, s->tail, s->n_tail);
        s->h = (s->h ^ w) * FNV_PRIME;
        s->n_tail = 0;
    }
    return s->h;
}

/* The dataset's identity as the trainer sees it. */
static uint64_t dataset_hash(const cs_dataset *ds) {
    hasher s = {FNV_OFFSET, {0}, 0};
    int64_t n = cs_dataset_count(ds);
    hash_bytes(&s, &n, sizeof n);
    for (int64_t i = 0; i < n; i++) {
        const char *name = cs_dataset_name(ds, i);
        const cs_camera *c = cs_dataset_camera(ds, i);
        int32_t v[3] = {c->width, c->height, cs_dataset_is_held_out(ds, i)};
        hash_bytes(&s, name, strlen(name) + 1);
        hash_bytes(&s, v, sizeof v);
    }
    return hash_final(&s);
}

/* ---- header ---- */
typedef struct header {
    uint64_t seed;
    int64_t max_gaussians, random_points;
    int64_t sh_bands, prune_screen_size;
    uint64_t dataset;
    int64_t iteration, active_degree, sh_degree, count, n_train, perm_pos;
    uint64_t rng_state, rng_inc;
    int64_t steps[CS_GROUPS];
} header;

static void fill_header(const cs_trainer *t, header *h) {
    memset(h, 0, sizeof *h);
    h->seed = t->desc.seed;
    h->max_gaussians = t->desc.max_gaussians;
    h->random_points = t->desc.random_points;
    h->sh_bands = t->desc.sh_bands;
    h->prune_screen_size = t->desc.prune_screen_size;
    h->dataset = dataset_hash(t->ds);
    h->iteration = t->iteration;
    h->active_degree = t->active_degree;
    h->sh_degree = t->g.params->p.sh_degree;
    h->count = t->g.params->p.count;
    h->n_train = t->n_train;
    h->perm_pos = t->perm_pos;
    h->rng_state = t->rng.state;
    h->rng_inc = t->rng.inc;
    for (int k = 0; k < CS_GROUPS; k++) h->steps[k] = t->adam.steps[k];
}

static size_t block_bytes(int64_t n, int degree) {
    size_t k = (size_t)(degree + 1) * (size_t)(degree + 1);
    return (size_t)n * (11 + 3 * k) * sizeof(float);
}

/* ---- save ---- */
typedef struct writer {
    cs_context *ctx;
    cs_outfile of;
    hasher hash;
    cs_status st;
} writer;

static void put(writer *w, const void *data, size_t len) {
    if (w->st != CS_OK) return;
    hash_bytes(&w->hash, data, len);
    w->st = cs__outfile_write(w->ctx, &w->of, data, len);
}

cs_status cs_trainer_save_checkpoint(cs_trainer *t, const char *path) {
    writer w = {t->ctx, {0}, {FNV_OFFSET, {0}, 0}, CS_OK};
    cs_status st = cs__outfile_open(t->ctx, path, &w.of);
    if (st != CS_OK) return st;
    header h;
    fill_header(t, &h);
    uint32_t v[2] = {CKPT_VERSION, CKPT_ENDIAN};
    put(&w, CKPT_MAGIC, 8);
    put(&w, v, sizeof v);
    put(&w, &h, sizeof h);
    put(&w, t->perm, (size_t)t->n_train * sizeof(int64_t));
    const cs_scene_params *p = &t->g.params->p;
    size_t bytes = block_bytes(p->count, p->sh_degree), stat = (size_t)p->count * sizeof(float);
    put(&w, t->g.params->block, bytes);
    put(&w, t->g.m->block, bytes);
    put(&w, t->g.v->block, bytes);
    put(&w, t->g.grad_accum, stat);
    put(&w, t->g.denom, stat);
    put(&w, t->g.max_radii, stat);
    uint64_t sum = hash_final(&w.hash);
    if (w.st == CS_OK) w.st = cs__outfile_write(t->ctx, &w.of, &sum, sizeof sum);
    if (w.st != CS_OK) {
        cs__outfile_abort(&w.of);
        return w.st;
    }
    return cs__outfile_commit(t->ctx, &w.of);
}

/* ---- load ---- */
cs_status cs_trainer_load_checkpoint(cs_trainer *t, const char *path) {
    cs_context *ctx = t->ctx;
    uint8_t *data;
    size_t len;
    cs_status st = cs__read_file(ctx, path, CKPT_MAX_BYTES, &data, &len);
    if (st != CS_OK) return st;
    header h, want;
    size_t head = 8 + 8 + sizeof h;
    uint32_t v[2];
    if (len < head + 8 || memcmp(data, CKPT_MAGIC, 8) != 0) {
        st = cs__error(ctx, CS_ERR_FORMAT, "%s: not a csplat checkpoint", path);
        goto done;
    }
    memcpy(v, data + 8, sizeof v);
    memcpy(&h, data + 16, sizeof h);
    if (v[0] != CKPT_VERSION || v[1] != CKPT_ENDIAN) {
        st = cs__error(ctx, CS_ERR_UNSUPPORTED,
                       "%s: checkpoint version %u or byte order not supported", path, v[0]);
        goto done;
    }
    hasher s = {FNV_OFFSET, {0}, 0};
    hash_bytes(&s, data, len - 8);
    uint64_t sum;
    memcpy(&sum, data + len - 8, 8);
    if (hash_final(&s) != sum) {
        st = cs__error(ctx, CS_ERR_FORMAT, "%s: checkpoint is corrupt (checksum mismatch)", path);
        goto done;
    }
    fill_header(t, &want);
    if (h.seed != want.seed || h.max_gaussians != want.max_gaussians ||
        h.random_points != want.random_points || h.sh_bands != want.sh_bands ||
        h.prune_screen_size != want.prune_screen_size || h.dataset != want.dataset ||
        h.n_train != want.n_train || h.sh_degree != want.sh_degree) {
        st = cs__error(ctx, CS_ERR_ARGUMENT,
                       "%s: checkpoint was written for another dataset or other training options",
                       path);
        goto done;
    }
    size_t bytes, stat, need;
    bool ok = h.count >= 0 && h.count <= INT32_MAX && h.perm_pos >= 0 && h.perm_pos <= h.n_train &&
              h.active_degree >= 0 && h.active_degree <= h.sh_degree && h.iteration >= 0;
    if (ok) {
        bytes = block_bytes(h.count, (int)h.sh_degree);
        stat = (size_t)h.count * sizeof(float);
        need = head + (size_t)h.n_train * 8 + 3 * bytes + 3 * stat + 8;
        ok = need == len;
    }
    if (!ok) {
        st = cs__error(ctx, CS_ERR_FORMAT, "%s: checkpoint sizes are inconsistent", path);
        goto done;
    }
    const uint8_t *p = data + head;
    int64_t *perm = cs__malloc((size_t)h.n_train * sizeof(int64_t));
    cs__gset g;
    cs_scene *grads = NULL;
    if (!perm) {
        st = cs__alloc_error(ctx, path, (size_t)h.n_train * 8);
        goto done;
    }
    memcpy(perm, p, (size_t)h.n_train * 8);
    p += (size_t)h.n_train * 8;
    for (int64_t i = 0; i < h.n_train; i++) {
        bool found = false; /* a permutation of the training views */
        for (int64_t j = 0; j < t->n_train && !found; j++) found = perm[i] == t->train[j];
        if (!found) {
            cs__free(perm);
            st = cs__error(ctx, CS_ERR_FORMAT, "%s: checkpoint view order is invalid", path);
            goto done;
        }
    }
    if ((st = cs__gset_create(ctx, h.count, (int)h.sh_degree, &g)) != CS_OK) {
        cs__free(perm);
        goto done;
    }
    if ((st = cs__scene_zeros(ctx, h.count, (int)h.sh_degree, &grads)) != CS_OK) {
        cs__free(perm);
        cs__gset_destroy(&g);
        goto done;
    }
    memcpy(g.params->block, p, bytes);
    memcpy(g.m->block, p + bytes, bytes);
    memcpy(g.v->block, p + 2 * bytes, bytes);
    p += 3 * bytes;
    memcpy(g.grad_accum, p, stat);
    memcpy(g.denom, p + stat, stat);
    memcpy(g.max_radii, p + 2 * stat, stat);

    cs__gset_destroy(&t->g);
    t->g = g;
    cs_scene_destroy(t->grads);
    t->grads = grads;
    cs__free(t->perm);
    t->perm = perm;
    t->perm_pos = h.perm_pos;
    t->iteration = h.iteration;
    t->active_degree = (int)h.active_degree;
    t->rng.state = h.rng_state;
    t->rng.inc = h.rng_inc;
    for (int k = 0; k < CS_GROUPS; k++) t->adam.steps[k] = h.steps[k];
    st = cs__trainer_size_view_stats(t);
done:
    cs__free(data);
    return st;
}
