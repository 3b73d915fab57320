/*
 * pool.c - a small pthread pool with one operation, parallel_for.
 *
 * The caller's thread works too, so a pool of T threads starts T-1 workers. A job is a range
 * [0, n) cut into chunks of `grain` items with fixed boundaries; workers take chunks in order from
 * an atomic counter. Chunk boundaries do not depend on the thread count, so reductions that
 * combine per-chunk partials in chunk order give identical results for any thread count.
 *
 * One job runs at a time per pool (the context is single-threaded by contract); a nested call
 * from inside a task runs inline on the calling worker.
 */
#include "../internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

struct cs_pool {
    int threads;
    pthread_t *workers;
    pthread_mutex_t lock;
    pthread_cond_t start;    /* signalled when a new job (generation) is posted */
    pthread_cond_t done;     /* signalled when the last worker leaves a job */
    uint64_t generation;
    int active;              /* workers still inside the current job */
    bool quit;
    /* the current job */
    cs_task_fn fn;
    void *user;
    int64_t n, grain, chunks;
    atomic_llong next_chunk;
    atomic_int busy;         /* non-zero while a job runs: nested calls go inline */
};

typedef struct worker_arg {
    cs_pool *pool;
    int index;
} worker_arg;

static void run_chunks(cs_pool *pool, int worker) {
    for (;;) {
        int64_t c = atomic_fetch_add(&pool->next_chunk, 1);
        if (c >= pool->chunks) break;
        int64_t begin = c * pool->grain;
        int64_t end = begin + pool->grain < pool->n ? begin + pool->grain : pool->n;
        pool->fn(pool->user, begin, end, worker);
    }
}

static void *worker_main(void *p) {
    worker_arg *arg = p;
    cs_pool *pool = arg->pool;
    int index = arg->index;
    cs__free(arg);
    uint64_t seen = 0;
    pthread_mutex_lock(&pool->lock);
    for (;;) {
        while (!pool->quit && pool->generation == seen) pthread_cond_wait(&pool->start, &pool->lock);
        if (pool->quit) break;
        seen = pool->generation;
        pthread_mutex_unlock(&pool->lock);
        run_chunks(pool, index);
        pthread_mutex_lock(&pool->lock);
        if (--pool->active == 0) pthread_cond_signal(&pool->done);
    }
    pthread_mutex_unlock(&pool->lock);
    return NULL;
}

cs_status cs__pool_create(cs_context *ctx, int threads, cs_pool **out) {
    *out = NULL;
    cs_pool *pool = cs__calloc(1, sizeof *pool);
    if (!pool) return cs__alloc_error(ctx, "thread pool", sizeof *pool);
    pool->threads = threads;
    pool->workers = cs__calloc((size_t)threads, sizeof *pool->workers);
    if (!pool->workers) {
        cs__free(pool);
        return cs__alloc_error(ctx, "thread pool", sizeof *pool->workers * (size_t)threads);
    }
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->start, NULL);
    pthread_cond_init(&pool->done, NULL);
    for (int i = 1; i < threads; i++) {
        worker_arg *arg = cs__malloc(sizeof *arg);
        if (arg) *arg = (worker_arg){pool, i};
        if (!arg || pthread_create(&pool->workers[i], NULL, worker_main, arg) != 0) {
            cs__free(arg);
            pool->threads = i; /* only workers 1..i-1 exist */
            cs__pool_destroy(pool);
            return cs__error(ctx, CS_ERR_NOMEM, "thread pool: cannot start thread %d of %d", i,
                             threads);
        }
    }
    *out = pool;
    return CS_OK;
}

void cs__pool_destroy(cs_pool *pool) {
    if (!pool) return;
    pthread_mutex_lock(&pool->lock);
    pool->quit = true;
    pthread_cond_broadcast(&pool->start);
    pthread_mutex_unlock(&pool->lock);
    for (int i = 1; i < pool->threads; i++) pthread_join(pool->workers[i], NULL);
    pthread_mutex_destroy(&pool->lock);
    pthread_cond_destroy(&pool->start);
    pthread_cond_destroy(&pool->done);
    cs__free(pool->workers);
    cs__free(pool);
}

void cs__parallel_for(cs_context *ctx, int64_t n, int64_t grain, cs_task_fn fn, void *user) {
    if (n <= 0) return;
    if (grain < 1) grain = 1;
    cs_pool *pool = ctx->pool;
    int64_t chunks = (n + grain - 1) / grain;
    if (!pool || chunks == 1 || atomic_load(&pool->busy)) {
        /* Same chunk boundaries as the threaded path, so results match it exactly. */
        for (int64_t begin = 0; begin < n; begin += grain)
            fn(user, begin, begin + grain < n ? begin + grain : n, 0);
        return;
    }
    atomic_store(&pool->busy, 1);
    pthread_mutex_lock(&pool->lock);
    pool->fn = fn;
    pool->user = user;
    pool->n = n;
    pool->grain = grain;
    pool->chunks = chunks;
    atomic_store(&pool->next_chunk, 0);
    pool->active = pool->threads - 1;
    pool->generation++;
    pthread_cond_broadcast(&pool->start);
    pthread_mutex_unlock(&pool->lock);

    run_chunks(pool, 0);

    pthread_mutex_lock(&pool->lock);
    while (pool->active > 0) pthread_cond_wait(&pool->done, &pool->lock);
    pthread_mutex_unlock(&pool->lock);
    atomic_store(&pool->busy, 0);
}
