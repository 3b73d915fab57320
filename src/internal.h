/*
 * internal.h - types and helpers shared inside libcsplat (never installed).
 *
 * Naming: cs__name for cross-file internal functions. Every fallible helper returns cs_status and
 * records its message with cs__error(), which names the file and the problem.
 *
 * Memory: all library allocations go through cs__malloc/cs__calloc/cs__realloc so tests can inject
 * allocation failures (cs__test_fail_alloc_after). Sizes are multiplied with cs__mul_size, which
 * reports overflow instead of wrapping.
 */
#ifndef CSPLAT_INTERNAL_H
#define CSPLAT_INTERNAL_H

#include "csplat.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#if defined(__GNUC__) || defined(__clang__)
#define CS_PRINTF(fmt_index, first_arg) __attribute__((format(printf, fmt_index, first_arg)))
#else
#define CS_PRINTF(fmt_index, first_arg)
#endif

/* Broken internal invariants: always on, in every build. */
void cs__assert_fail(const char *expr, const char *file, int line);
#define CS_ASSERT(expr) ((expr) ? (void)0 : cs__assert_fail(#expr, __FILE__, __LINE__))

typedef struct cs_pool cs_pool;

struct cs_context {
    int threads;
    cs_log_fn log;
    void *log_user;
    cs_pool *pool;     /* NULL when threads == 1 */
    char error[1024];
};

/* Record a failure: formats the message into ctx->error and returns status. ctx may be NULL. */
cs_status cs__error(cs_context *ctx, cs_status status, const char *fmt, ...) CS_PRINTF(3, 4);
/* Log through the context's callback (no-op without one). */
void cs__log(cs_context *ctx, cs_log_level level, const char *fmt, ...) CS_PRINTF(3, 4);

/* Allocation (failure injection aware). Returns NULL on failure without recording an error;
 * use cs__alloc_error to record one. */
void *cs__malloc(size_t size);
void *cs__calloc(size_t count, size_t size);
void *cs__realloc(void *ptr, size_t size);
void cs__free(void *ptr);
char *cs__strdup(const char *s);
cs_status cs__alloc_error(cs_context *ctx, const char *what, size_t bytes);
/* Test hook: the n-th allocation from now fails (n >= 1); 0 disables. Counts every thread. */
void cs__test_fail_alloc_after(long n);

/* *out = a * b; false on overflow. */
bool cs__mul_size(size_t a, size_t b, size_t *out);
/* *out = a + b; false on overflow. */
bool cs__add_size(size_t a, size_t b, size_t *out);

/* Whole-file read, refusing files larger than max_bytes. *data is NUL-terminated (not counted in
 * *len) and freed with cs__free. */
cs_status cs__read_file(cs_context *ctx, const char *path, size_t max_bytes, uint8_t **data,
                        size_t *len);

/* Atomic output: write to "<path>.tmp.<pid>.<n>", then fsync + rename on commit. abort removes
 * the temporary file. Both are safe to call after a failed open (file == NULL). */
typedef struct cs_outfile {
    FILE *file;
    char *path;
    char *tmp_path;
} cs_outfile;

cs_status cs__outfile_open(cs_context *ctx, const char *path, cs_outfile *out);
cs_status cs__outfile_commit(cs_context *ctx, cs_outfile *of);
void cs__outfile_abort(cs_outfile *of);
/* Write all of buf or record an I/O error naming the path. */
cs_status cs__outfile_write(cs_context *ctx, cs_outfile *of, const void *buf, size_t len);

/* Path helpers. cs__path_ext returns the extension including the dot, lowercase-compared by
 * callers with cs__ext_is; "" when none. cs__path_join allocates. */
const char *cs__path_ext(const char *path);
bool cs__ext_is(const char *path, const char *ext);
const char *cs__path_basename(const char *path);
char *cs__path_dirname(const char *path);
char *cs__path_join(const char *dir, const char *name);
bool cs__file_exists(const char *path);
bool cs__dir_exists(const char *path);

/* Little-endian scalar access for parsers (unaligned safe). */
static inline uint32_t cs__rd_u32le(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t cs__rd_u64le(const uint8_t *p) {
    return (uint64_t)cs__rd_u32le(p) | (uint64_t)cs__rd_u32le(p + 4) << 32;
}
/* Inline: the PLY and npz loaders call these once per value of files of hundreds of MB. */
static inline float cs__rd_f32le(const uint8_t *p) {
    uint32_t u = cs__rd_u32le(p);
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static inline double cs__rd_f64le(const uint8_t *p) {
    uint64_t u = cs__rd_u64le(p);
    double d;
    memcpy(&d, &u, 8);
    return d;
}
static inline void cs__wr_f32le(uint8_t *p, float v) {
    uint32_t u;
    memcpy(&u, &v, 4);
    p[0] = (uint8_t)u;
    p[1] = (uint8_t)(u >> 8);
    p[2] = (uint8_t)(u >> 16);
    p[3] = (uint8_t)(u >> 24);
}

/* ---------------------------------------------------------------------------------------------
 * Thread pool (src/cpu/pool.c). parallel_for splits [0, n) into ceil(n / grain) chunks with fixed
 * boundaries and hands them out dynamically; fn gets [begin, end) and the worker index
 * (0 .. threads-1) for per-thread scratch. Reductions that must be deterministic accumulate per
 * chunk (chunk = begin / grain) and combine in chunk order afterwards.
 */
typedef void (*cs_task_fn)(void *user, int64_t begin, int64_t end, int worker);

cs_status cs__pool_create(cs_context *ctx, int threads, cs_pool **out);
void cs__pool_destroy(cs_pool *pool);
/* Runs on the context's pool, or inline on the caller when it has one thread. */
void cs__parallel_for(cs_context *ctx, int64_t n, int64_t grain, cs_task_fn fn, void *user);

/* ---------------------------------------------------------------------------------------------
 * Scenes (src/scene.c). Parameters live in one block in the order of cs_scene_params.
 */
struct cs_scene {
    cs_context *ctx;
    cs_scene_params p;
    float *block;
    cs_format source_format;
};

/* Scene format codecs. Each format file (io_ply.c, io_splat.c, ...) defines one
 * `const cs_scene_codec cs__codec_<name>`, listed in src/formats.c. parse never reads outside
 * [data, data + len) and is the fuzzers' entry point; formats stored as several files provide
 * load/save by path instead. */
typedef struct cs_scene_codec {
    cs_format format;
    /* True when data starts like this format; NULL when only the extension identifies it. */
    bool (*detect)(const uint8_t *data, size_t len);
    cs_status (*parse)(cs_context *ctx, const char *name, const uint8_t *data, size_t len,
                       cs_scene **out);
    cs_status (*write)(cs_context *ctx, const cs_scene *scene, cs_outfile *of);
    /* Optional path-based forms, used instead of parse/write when set. */
    cs_status (*load)(cs_context *ctx, const char *path, cs_scene **out);
    cs_status (*save)(cs_context *ctx, const cs_scene *scene, const char *path);
} cs_scene_codec;

/* The codec of a format, or NULL when csplat has none. */
const cs_scene_codec *cs__scene_codec(cs_format format);
/* The codec whose detect() accepts data, else the one named by path's extension, else NULL. */
const cs_scene_codec *cs__scene_codec_detect(const char *path, const uint8_t *data, size_t len);

/* Largest file the scene loaders read into memory (covers ~60M Gaussians of degree-3 PLY). */
#define CS_MAX_SCENE_FILE_BYTES ((size_t)16 << 30)

/* SH constants of the real spherical-harmonics basis as 3DGS uses it. */
#define CS_SH_C0 0.28209479177387814f

#endif /* CSPLAT_INTERNAL_H */
