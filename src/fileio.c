/*
 * fileio.c - whole-file reads with a size cap, atomic output files and path helpers.
 *
 * Atomic output: data goes to "<path>.tmp.<pid>.<counter>" in the same folder, is flushed and
 * fsync'd, then renamed over <path>. A failure at any point removes the temporary file, so a
 * reader never sees a half-written output.
 */
#include "internal.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

cs_status cs__read_file(cs_context *ctx, const char *path, size_t max_bytes, uint8_t **data,
                        size_t *len) {
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return cs__error(ctx, CS_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return cs__error(ctx, CS_ERR_IO, "%s: not a regular file", path);
    }
    if ((uint64_t)st.st_size > (uint64_t)max_bytes) {
        fclose(f);
        return cs__error(ctx, CS_ERR_UNSUPPORTED, "%s: file of %lld bytes exceeds the %zu-byte limit",
                         path, (long long)st.st_size, max_bytes);
    }
    size_t n = (size_t)st.st_size;
    uint8_t *buf = cs__malloc(n + 1);
    if (!buf) {
        fclose(f);
        return cs__alloc_error(ctx, path, n + 1);
    }
    size_t got = fread(buf, 1, n, f);
    int failed = ferror(f);
    fclose(f);
    if (failed || got != n) {
        cs__free(buf);
        return cs__error(ctx, CS_ERR_IO, "%s: read %zu of %zu bytes", path, got, n);
    }
    buf[n] = 0;
    *data = buf;
    *len = n;
    return CS_OK;
}

static atomic_uint tmp_counter;

cs_status cs__outfile_open(cs_context *ctx, const char *path, cs_outfile *out) {
    memset(out, 0, sizeof *out);
    size_t n = strlen(path) + 48;
    out->path = cs__strdup(path);
    out->tmp_path = cs__malloc(n);
    if (!out->path || !out->tmp_path) {
        cs__outfile_abort(out);
        return cs__alloc_error(ctx, path, n);
    }
    snprintf(out->tmp_path, n, "%s.tmp.%ld.%u", path, (long)getpid(),
             atomic_fetch_add(&tmp_counter, 1));
    out->file = fopen(out->tmp_path, "wb");
    if (!out->file) {
        cs_status st = cs__error(ctx, CS_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
        cs__free(out->tmp_path);
        out->tmp_path = NULL;
        cs__outfile_abort(out);
        return st;
    }
    return CS_OK;
}

cs_status cs__outfile_write(cs_context *ctx, cs_outfile *of, const void *buf, size_t len) {
    if (len && fwrite(buf, 1, len, of->file) != len)
        return cs__error(ctx, CS_ERR_IO, "%s: write failed: %s", of->path, strerror(errno));
    return CS_OK;
}

cs_status cs__outfile_commit(cs_context *ctx, cs_outfile *of) {
    cs_status st = CS_OK;
    if (fflush(of->file) != 0 || ferror(of->file) || fsync(fileno(of->file)) != 0)
        st = cs__error(ctx, CS_ERR_IO, "%s: write failed: %s", of->path, strerror(errno));
    if (fclose(of->file) != 0 && st == CS_OK)
        st = cs__error(ctx, CS_ERR_IO, "%s: close failed: %s", of->path, strerror(errno));
    of->file = NULL;
    if (st == CS_OK && rename(of->tmp_path, of->path) != 0)
        st = cs__error(ctx, CS_ERR_IO, "%s: cannot rename into place: %s", of->path,
                       strerror(errno));
    if (st == CS_OK) {
        cs__free(of->tmp_path);
        of->tmp_path = NULL;
    }
    cs__outfile_abort(of);
    return st;
}

void cs__outfile_abort(cs_outfile *of) {
    if (of->file) fclose(of->file);
    if (of->tmp_path) remove(of->tmp_path);
    cs__free(of->tmp_path);
    cs__free(of->path);
    memset(of, 0, sizeof *of);
}

const char *cs__path_ext(const char *path) {
    const char *base = cs__path_basename(path);
    const char *dot = strrchr(base, '.');
    return dot && dot != base ? dot : "";
}

bool cs__ext_is(const char *path, const char *ext) {
    const char *e = cs__path_ext(path);
    size_t n = strlen(ext);
    if (strlen(e) != n) return false;
    for (size_t i = 0; i < n; i++) {
        char a = e[i], b = ext[i];
        if (a >= 'A' && a <= 'Z') a = (char)(a - 'A' + 'a');
        if (a != b) return false;
    }
    return true;
}

const char *cs__path_basename(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

char *cs__path_dirname(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return cs__strdup(".");
    if (slash == path) return cs__strdup("/");
    size_t n = (size_t)(slash - path);
    char *d = cs__malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, path, n);
    d[n] = 0;
    return d;
}

char *cs__path_join(const char *dir, const char *name) {
    if (name[0] == '/' || dir[0] == 0) return cs__strdup(name);
    size_t a = strlen(dir), b = strlen(name);
    bool slash = dir[a - 1] == '/';
    char *p = cs__malloc(a + b + 2);
    if (!p) return NULL;
    memcpy(p, dir, a);
    if (!slash) p[a++] = '/';
    memcpy(p + a, name, b + 1);
    return p;
}

bool cs__file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

bool cs__dir_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}
