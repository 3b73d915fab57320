/*
 * io_npz.c - NumPy .npz reader: a ZIP archive whose entries are .npy arrays.
 *
 * ZIP (APPNOTE 6.3): the End Of Central Directory record (EOCD, "PK\5\6", 22 bytes + comment) is
 * found by scanning back from the end; when its counts/offsets are saturated (0xFFFF /
 * 0xFFFFFFFF) the ZIP64 locator ("PK\6\7") just before it points at the ZIP64 EOCD ("PK\6\6").
 * The central directory ("PK\1\2" records) gives each entry's method, CRC-32, sizes and local
 * header offset, with the ZIP64 extra field (id 0x0001) supplying saturated sizes/offsets; numpy
 * forces ZIP64 in local headers, so sizes are always taken from the central directory and the
 * local header ("PK\3\4") is read only to skip its name and extra field. Entries are STORED
 * (method 0) or DEFLATED (method 8, raw inflate capped at the declared size: a stream that would
 * produce more is an error, and a declared size beyond deflate's maximum ratio of 1032:1 is refused
 * before allocating). The CRC-32 of every entry is verified. Entries must not overlap each other
 * or the central directory, which bounds the total output by 1032x the file size.
 *
 * .npy (numpy format spec, versions 1.0/2.0/3.0): "\x93NUMPY", major, minor, a header length
 * (u16 for 1.0, u32 for 2.0/3.0), then a Python dict literal {'descr': ..., 'fortran_order': ...,
 * 'shape': (...)} padded with spaces and '\n', then the raw array data. Dtypes <f4 <f8 |u1 <i4
 * <i8 |b1; C order only.
 *
 * Every array is copied into its own allocation so its data is aligned for any dtype. Every
 * offset and size is checked against its buffer before use.
 *
 * Not done: writing .npz, encrypted or multi-disk archives, other compression methods,
 * big-endian or structured dtypes, Fortran-order arrays, object arrays (pickles).
 */
#include "npz.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* Deflate's best case is 258 bytes from one 1-bit-ish code pair: ~1032:1 (zlib's FAQ). */
#define DEFLATE_MAX_RATIO 1032
#define ZIP_MAX_ENTRIES 65536

typedef struct npz_entry {
    cs_npz_array a;
    uint8_t *block; /* owns a.data */
} npz_entry;

struct cs_npz {
    int count;
    npz_entry *entries;
};

/* One central-directory record, sizes resolved through ZIP64 when needed. */
typedef struct zip_entry {
    char name[64]; /* without ".npy" */
    uint16_t flags, method;
    uint32_t crc;
    uint64_t csize, usize, offset;
    uint64_t data_off; /* after the local header */
} zip_entry;

static uint16_t rd_u16(const uint8_t *p) {
    return (uint16_t)(p[0] | p[1] << 8);
}

/* ---------------------------------------------------------------------------------------------
 * ZIP container.
 */

typedef struct zip_dir {
    uint64_t entries, cd_off, cd_size;
    uint64_t cd_limit; /* the central directory must end here (start of the EOCD records) */
} zip_dir;

static cs_status find_directory(cs_context *ctx, const char *name, const uint8_t *d, size_t len,
                                zip_dir *dir) {
    /* The EOCD is the last 22 bytes plus a comment of up to 65535 bytes; require that its
     * comment length reaches the end of the file exactly, so a signature inside the comment or
     * a truncated file is not mistaken for it. */
    size_t pos = SIZE_MAX;
    if (len >= 22) {
        size_t lo = len - 22 > 65535 ? len - 22 - 65535 : 0;
        for (size_t p = len - 22 + 1; p-- > lo;) {
            if (cs__rd_u32le(d + p) == 0x06054b50 && p + 22 + rd_u16(d + p + 20) == len) {
                pos = p;
                break;
            }
        }
    }
    if (pos == SIZE_MAX)
        return cs__error(ctx, CS_ERR_FORMAT,
                         "%s: no ZIP end-of-central-directory record (not an .npz, or truncated)",
                         name);
    const uint8_t *e = d + pos;
    uint16_t disk = rd_u16(e + 4), cd_disk = rd_u16(e + 6);
    uint16_t n_disk = rd_u16(e + 8), n_total = rd_u16(e + 10);
    dir->entries = n_total;
    dir->cd_size = cs__rd_u32le(e + 12);
    dir->cd_off = cs__rd_u32le(e + 16);
    dir->cd_limit = pos;
    if (n_total == 0xFFFF || dir->cd_size == 0xFFFFFFFF || dir->cd_off == 0xFFFFFFFF) {
        /* ZIP64: locator (20 bytes) right before the EOCD, pointing at the 56-byte record. */
        if (pos < 20 || cs__rd_u32le(d + pos - 20) != 0x07064b50)
            return cs__error(ctx, CS_ERR_FORMAT, "%s: ZIP64 end-of-directory locator missing",
                             name);
        uint64_t z = cs__rd_u64le(d + pos - 20 + 8);
        if (z > pos - 20 || pos - 20 - z < 56 || cs__rd_u32le(d + z) != 0x06064b50)
            return cs__error(ctx, CS_ERR_FORMAT,
                             "%s: ZIP64 end-of-directory record at %llu is invalid", name,
                             (unsigned long long)z);
        const uint8_t *r = d + z;
        if (cs__rd_u32le(r + 16) != 0 || cs__rd_u32le(r + 20) != 0 ||
            cs__rd_u64le(r + 24) != cs__rd_u64le(r + 32))
            return cs__error(ctx, CS_ERR_UNSUPPORTED,
                             "%s: multi-disk ZIP archives are not supported", name);
        dir->entries = cs__rd_u64le(r + 32);
        dir->cd_size = cs__rd_u64le(r + 40);
        dir->cd_off = cs__rd_u64le(r + 48);
        dir->cd_limit = z;
    } else if (disk != 0 || cd_disk != 0 || n_disk != n_total) {
        return cs__error(ctx, CS_ERR_UNSUPPORTED, "%s: multi-disk ZIP archives are not supported",
                         name);
    }
    if (dir->cd_off > dir->cd_limit || dir->cd_size > dir->cd_limit - dir->cd_off)
        return cs__error(ctx, CS_ERR_FORMAT,
                         "%s: central directory (offset %llu, %llu bytes) lies outside the file",
                         name, (unsigned long long)dir->cd_off, (unsigned long long)dir->cd_size);
    if (dir->entries > dir->cd_size / 46)
        return cs__error(ctx, CS_ERR_FORMAT,
                         "%s: %llu entries do not fit a %llu-byte central directory", name,
                         (unsigned long long)dir->entries, (unsigned long long)dir->cd_size);
    if (dir->entries > ZIP_MAX_ENTRIES)
        return cs__error(ctx, CS_ERR_UNSUPPORTED, "%s: %llu entries exceed the limit of %d", name,
                         (unsigned long long)dir->entries, ZIP_MAX_ENTRIES);
    return CS_OK;
}

/* Resolve saturated sizes/offset from the ZIP64 extra field (id 1), whose 8-byte values appear
 * in the fixed order usize, csize, offset, each only when its 32-bit field is 0xFFFFFFFF. */
static bool apply_zip64_extra(const uint8_t *x, size_t n, zip_entry *z) {
    bool need_u = z->usize == 0xFFFFFFFF, need_c = z->csize == 0xFFFFFFFF;
    bool need_o = z->offset == 0xFFFFFFFF;
    while (n >= 4) {
        uint16_t id = rd_u16(x), sz = rd_u16(x + 2);
        if ((size_t)sz > n - 4) return false;
        if (id == 0x0001) {
            const uint8_t *f = x + 4;
            size_t left = sz;
            uint64_t *fields[3] = {need_u ? &z->usize : NULL, need_c ? &z->csize : NULL,
                                   need_o ? &z->offset : NULL};
            for (int i = 0; i < 3; i++) {
                if (!fields[i]) continue;
                if (left < 8) return false;
                *fields[i] = cs__rd_u64le(f);
                f += 8;
                left -= 8;
            }
            return true;
        }
        x += 4 + sz;
        n -= 4 + (size_t)sz;
    }
    return !need_u && !need_c && !need_o;
}

static int cmp_offset(const void *a, const void *b) {
    const zip_entry *x = a, *y = b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Parse the central directory into zs[dir->entries], then locate each entry's data. */
static cs_status read_directory(cs_context *ctx, const char *name, const uint8_t *d,
                                const zip_dir *dir, zip_entry *zs) {
    uint64_t p = dir->cd_off, end = dir->cd_off + dir->cd_size;
    for (uint64_t i = 0; i < dir->entries; i++) {
        zip_entry *z = &zs[i];
        if (end - p < 46 || cs__rd_u32le(d + p) != 0x02014b50)
            return cs__error(ctx, CS_ERR_FORMAT, "%s: central directory record %llu is invalid",
                             name, (unsigned long long)i);
        const uint8_t *c = d + p;
        size_t nlen = rd_u16(c + 28), xlen = rd_u16(c + 30), clen = rd_u16(c + 32);
        if (end - p - 46 < (uint64_t)(nlen + xlen + clen))
            return cs__error(ctx, CS_ERR_FORMAT,
                             "%s: central directory record %llu overruns the directory", name,
                             (unsigned long long)i);
        const char *fname = (const char *)c + 46;
        if (nlen < 5 || memcmp(fname + nlen - 4, ".npy", 4) != 0 || memchr(fname, 0, nlen))
            return cs__error(ctx, CS_ERR_FORMAT, "%s: entry '%.*s' is not a .npy array", name,
                             (int)nlen, fname);
        if (nlen - 4 >= sizeof z->name)
            return cs__error(ctx, CS_ERR_UNSUPPORTED,
                             "%s: entry name '%.*s' is longer than %zu characters", name, (int)nlen,
                             fname, sizeof z->name - 1);
        memcpy(z->name, fname, nlen - 4);
        z->name[nlen - 4] = 0;
        z->flags = rd_u16(c + 8);
        z->method = rd_u16(c + 10);
        z->crc = cs__rd_u32le(c + 16);
        z->csize = cs__rd_u32le(c + 20);
        z->usize = cs__rd_u32le(c + 24);
        z->offset = cs__rd_u32le(c + 42);
        if (!apply_zip64_extra(c + 46 + nlen, xlen, z))
            return cs__error(ctx, CS_ERR_FORMAT,
                             "%s: entry '%s': ZIP64 extra field missing or short", name, z->name);
        if (z->flags & 1)
            return cs__error(ctx, CS_ERR_UNSUPPORTED, "%s: entry '%s' is encrypted", name, z->name);
        if (z->method != 0 && z->method != 8)
            return cs__error(ctx, CS_ERR_UNSUPPORTED,
                             "%s: entry '%s' uses compression method %u "
                             "(only stored and deflated are supported)",
                             name, z->name, (unsigned)z->method);
        p += 46 + nlen + xlen + clen;
    }

    /* Local headers: skip their name and extra field. Entries must lie before the central
     * directory and must not overlap (a classic zip-bomb trick reuses one stream many times). */
    for (uint64_t i = 0; i < dir->entries; i++) {
        zip_entry *z = &zs[i];
        if (z->offset > dir->cd_off || dir->cd_off - z->offset < 30 ||
            cs__rd_u32le(d + z->offset) != 0x04034b50)
            return cs__error(ctx, CS_ERR_FORMAT, "%s: entry '%s': local header at %llu is invalid",
                             name, z->name, (unsigned long long)z->offset);
        const uint8_t *l = d + z->offset;
        uint64_t skip = 30 + (uint64_t)rd_u16(l + 26) + rd_u16(l + 28);
        if (dir->cd_off - z->offset < skip || dir->cd_off - z->offset - skip < z->csize)
            return cs__error(ctx, CS_ERR_FORMAT,
                             "%s: entry '%s': %llu bytes of data at %llu run "
                             "past the end of the archive data",
                             name, z->name, (unsigned long long)z->csize,
                             (unsigned long long)z->offset);
        z->data_off = z->offset + skip;
        if (z->method == 0 && z->csize != z->usize)
            return cs__error(ctx, CS_ERR_FORMAT,
                             "%s: entry '%s' is stored but its sizes differ (%llu vs %llu)", name,
                             z->name, (unsigned long long)z->csize, (unsigned long long)z->usize);
        if (z->method == 8 && z->usize / DEFLATE_MAX_RATIO > z->csize)
            return cs__error(ctx, CS_ERR_FORMAT,
                             "%s: entry '%s' declares %llu bytes from %llu "
                             "compressed, beyond deflate's maximum ratio",
                             name, z->name, (unsigned long long)z->usize,
                             (unsigned long long)z->csize);
    }
    qsort(zs, (size_t)dir->entries, sizeof *zs, cmp_offset);
    for (uint64_t i = 0; i + 1 < dir->entries; i++)
        if (zs[i].data_off + zs[i].csize > zs[i + 1].offset)
            return cs__error(ctx, CS_ERR_FORMAT, "%s: entries '%s' and '%s' overlap", name,
                             zs[i].name, zs[i + 1].name);
    return CS_OK;
}

static voidpf z_alloc(voidpf opaque, uInt items, uInt size) {
    (void)opaque;
    return cs__calloc(items, size);
}

static void z_free(voidpf opaque, voidpf p) {
    (void)opaque;
    cs__free(p);
}

/* Raw-inflate src[csize] into exactly dst[usize]; producing more or less is an error. */
static cs_status inflate_entry(cs_context *ctx, const char *name, const zip_entry *z,
                               const uint8_t *src, uint8_t *dst) {
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    zs.zalloc = z_alloc;
    zs.zfree = z_free;
    if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) return cs__alloc_error(ctx, name, 7168);
    uint64_t in_left = z->csize, out_left = z->usize;
    zs.next_in = (Bytef *)(uintptr_t)src;
    zs.next_out = dst;
    cs_status st = CS_OK;
    for (;;) {
        /* avail_in/avail_out are 32-bit: feed large entries in pieces. */
        if (zs.avail_in == 0 && in_left) {
            zs.avail_in = (uInt)(in_left < UINT_MAX ? in_left : UINT_MAX);
            in_left -= zs.avail_in;
        }
        if (zs.avail_out == 0 && out_left) {
            zs.avail_out = (uInt)(out_left < UINT_MAX ? out_left : UINT_MAX);
            out_left -= zs.avail_out;
        }
        int rc = inflate(&zs, Z_NO_FLUSH);
        if (rc == Z_STREAM_END) break;
        if (rc == Z_OK) continue;
        if (rc == Z_BUF_ERROR && zs.avail_out == 0 && out_left == 0)
            st = cs__error(ctx, CS_ERR_FORMAT,
                           "%s: entry '%s' inflates to more than its declared %llu bytes", name,
                           z->name, (unsigned long long)z->usize);
        else if (rc == Z_BUF_ERROR)
            st = cs__error(ctx, CS_ERR_FORMAT, "%s: entry '%s': deflate stream is truncated", name,
                           z->name);
        else if (rc == Z_MEM_ERROR)
            st = cs__alloc_error(ctx, name, 32768);
        else
            st = cs__error(ctx, CS_ERR_FORMAT, "%s: entry '%s': corrupt deflate data (%s)", name,
                           z->name, zs.msg ? zs.msg : "unknown error");
        break;
    }
    if (st == CS_OK && (zs.avail_out != 0 || out_left != 0))
        st = cs__error(ctx, CS_ERR_FORMAT, "%s: entry '%s' inflates to %llu bytes, declared %llu",
                       name, z->name, (unsigned long long)(z->usize - out_left - zs.avail_out),
                       (unsigned long long)z->usize);
    inflateEnd(&zs);
    return st;
}

/* ---------------------------------------------------------------------------------------------
 * .npy header: a Python dict literal.
 */

typedef struct lexer {
    const char *p, *end;
} lexer;

static void skip_ws(lexer *lx) {
    while (lx->p < lx->end && (*lx->p == ' ' || *lx->p == '\t' || *lx->p == '\n' || *lx->p == '\r'))
        lx->p++;
}

static bool eat(lexer *lx, char c) {
    skip_ws(lx);
    if (lx->p < lx->end && *lx->p == c) {
        lx->p++;
        return true;
    }
    return false;
}

/* A quoted string without escapes (numpy's keys and descrs never need them) into buf. */
static bool lex_string(lexer *lx, char *buf, size_t cap) {
    skip_ws(lx);
    if (lx->p >= lx->end || (*lx->p != '\'' && *lx->p != '"')) return false;
    char q = *lx->p++;
    size_t n = 0;
    while (lx->p < lx->end && *lx->p != q) {
        if (*lx->p == '\\' || n + 1 >= cap) return false;
        buf[n++] = *lx->p++;
    }
    if (lx->p >= lx->end) return false;
    lx->p++;
    buf[n] = 0;
    return true;
}

static bool lex_word(lexer *lx, const char *w) {
    skip_ws(lx);
    size_t n = strlen(w);
    if ((size_t)(lx->end - lx->p) < n || memcmp(lx->p, w, n) != 0) return false;
    lx->p += n;
    return true;
}

/* "(d0, d1, ...)" with an optional trailing comma and Python 2's "L" suffix. */
static bool lex_shape(lexer *lx, cs_npz_array *a) {
    if (!eat(lx, '(')) return false;
    a->ndim = 0;
    if (eat(lx, ')')) return true;
    for (;;) {
        skip_ws(lx);
        if (lx->p >= lx->end || *lx->p < '0' || *lx->p > '9') return false;
        int64_t v = 0;
        while (lx->p < lx->end && *lx->p >= '0' && *lx->p <= '9') {
            if (v > (INT64_MAX - 9) / 10) return false;
            v = v * 10 + (*lx->p++ - '0');
        }
        if (lx->p < lx->end && *lx->p == 'L') lx->p++;
        if (a->ndim == 8) return false;
        a->shape[a->ndim++] = v;
        if (eat(lx, ')')) return true;
        if (!eat(lx, ',')) return false;
        if (eat(lx, ')')) return true;
    }
}

static size_t dtype_size(const char *descr) {
    static const struct {
        const char *descr;
        size_t size;
    } known[] = {{"<f4", 4}, {"<f8", 8}, {"|u1", 1}, {"<i4", 4}, {"<i8", 8}, {"|b1", 1}};
    for (size_t i = 0; i < sizeof known / sizeof *known; i++)
        if (strcmp(descr, known[i].descr) == 0) return known[i].size;
    return 0;
}

/* Parse the .npy at npy[len]: fills a (but not a->data) and the data's offset and size. */
static cs_status parse_npy(cs_context *ctx, const char *name, const uint8_t *npy, size_t len,
                           cs_npz_array *a, size_t *data_off, size_t *data_bytes) {
    if (len < 10 || memcmp(npy, "\x93NUMPY", 6) != 0)
        return cs__error(ctx, CS_ERR_FORMAT, "%s: entry '%s' is not a .npy array (bad magic)", name,
                         a->name);
    int major = npy[6];
    size_t hlen, pre;
    if (major == 1) {
        hlen = rd_u16(npy + 8);
        pre = 10;
    } else if (major == 2 || major == 3) {
        if (len < 12)
            return cs__error(ctx, CS_ERR_FORMAT, "%s: entry '%s': truncated .npy preamble", name,
                             a->name);
        hlen = cs__rd_u32le(npy + 8);
        pre = 12;
    } else {
        return cs__error(ctx, CS_ERR_UNSUPPORTED,
                         "%s: entry '%s': .npy version %d.%d is not supported", name, a->name,
                         major, npy[7]);
    }
    if (hlen > len - pre)
        return cs__error(ctx, CS_ERR_FORMAT,
                         "%s: entry '%s': .npy header of %zu bytes runs past the entry", name,
                         a->name, hlen);

    lexer lx = {(const char *)npy + pre, (const char *)npy + pre + hlen};
    bool have_descr = false, have_order = false, have_shape = false, fortran = false;
    char key[32], descr[32];
    if (!eat(&lx, '{')) goto bad;
    while (!eat(&lx, '}')) {
        if (!lex_string(&lx, key, sizeof key) || !eat(&lx, ':')) goto bad;
        if (strcmp(key, "descr") == 0 && !have_descr) {
            if (!lex_string(&lx, descr, sizeof descr))
                return cs__error(ctx, CS_ERR_UNSUPPORTED,
                                 "%s: entry '%s': structured or unusual dtype is not supported",
                                 name, a->name);
            have_descr = true;
        } else if (strcmp(key, "fortran_order") == 0 && !have_order) {
            if (lex_word(&lx, "True"))
                fortran = true;
            else if (!lex_word(&lx, "False"))
                goto bad;
            have_order = true;
        } else if (strcmp(key, "shape") == 0 && !have_shape) {
            if (!lex_shape(&lx, a)) goto bad;
            have_shape = true;
        } else {
            goto bad;
        }
        if (!eat(&lx, ',')) {
            if (!eat(&lx, '}')) goto bad;
            break;
        }
    }
    skip_ws(&lx);
    if (lx.p != lx.end || !have_descr || !have_order || !have_shape) goto bad;

    size_t itemsize = dtype_size(descr);
    if (!itemsize)
        return cs__error(ctx, CS_ERR_UNSUPPORTED,
                         "%s: entry '%s': dtype '%s' is not supported "
                         "(<f4 <f8 |u1 <i4 <i8 |b1 are)",
                         name, a->name, descr);
    if (fortran)
        return cs__error(ctx, CS_ERR_UNSUPPORTED,
                         "%s: entry '%s': Fortran-order arrays are not "
                         "supported (save with C order)",
                         name, a->name);
    strcpy(a->dtype, descr);
    size_t count = 1, bytes;
    for (int i = 0; i < a->ndim; i++)
        if (!cs__mul_size(count, (size_t)a->shape[i], &count) || count > (size_t)INT64_MAX)
            return cs__error(ctx, CS_ERR_FORMAT, "%s: entry '%s': shape overflows", name, a->name);
    if (!cs__mul_size(count, itemsize, &bytes) || bytes > len - pre - hlen)
        return cs__error(ctx, CS_ERR_FORMAT,
                         "%s: entry '%s': shape needs %zu elements of %zu "
                         "bytes but the entry holds %zu data bytes",
                         name, a->name, count, itemsize, len - pre - hlen);
    a->count = (int64_t)count;
    *data_off = pre + hlen;
    *data_bytes = bytes;
    return CS_OK;
bad:
    return cs__error(ctx, CS_ERR_FORMAT, "%s: entry '%s': malformed .npy header '%.*s'", name,
                     a->name, (int)(hlen < 80 ? hlen : 80), (const char *)npy + pre);
}

/* Copy or inflate entry z into its own block and parse its .npy header. */
static cs_status extract(cs_context *ctx, const char *name, const uint8_t *d, const zip_entry *z,
                         npz_entry *out) {
    cs_npz_array *a = &out->a;
    memcpy(a->name, z->name, sizeof a->name);
    const uint8_t *src = d + z->data_off;
    size_t off, bytes;
    cs_status st;
    /* The CRC is checked after the header is parsed: a corrupt header is reported either way,
     * and the fuzzer's mutations of headers reach the parser. */
    if (z->method == 0) {
        st = parse_npy(ctx, name, src, (size_t)z->csize, a, &off, &bytes);
        if (st != CS_OK) return st;
        if (crc32_z(0, src, (z_size_t)z->csize) != z->crc)
            return cs__error(ctx, CS_ERR_FORMAT, "%s: entry '%s': CRC-32 mismatch (corrupt data)",
                             name, z->name);
        out->block = cs__malloc(bytes);
        if (!out->block) return cs__alloc_error(ctx, name, bytes);
        memcpy(out->block, src + off, bytes);
    } else {
        if (z->usize > SIZE_MAX) return cs__alloc_error(ctx, name, SIZE_MAX);
        out->block = cs__malloc((size_t)z->usize);
        if (!out->block) return cs__alloc_error(ctx, name, (size_t)z->usize);
        st = inflate_entry(ctx, name, z, src, out->block);
        if (st != CS_OK) return st;
        st = parse_npy(ctx, name, out->block, (size_t)z->usize, a, &off, &bytes);
        if (st != CS_OK) return st;
        if (crc32_z(0, out->block, (z_size_t)z->usize) != z->crc)
            return cs__error(ctx, CS_ERR_FORMAT, "%s: entry '%s': CRC-32 mismatch (corrupt data)",
                             name, z->name);
        /* Move the data to the start of the block so it is aligned like any allocation. */
        memmove(out->block, out->block + off, bytes);
    }
    a->data = out->block;
    return CS_OK;
}

cs_status cs__npz_parse(cs_context *ctx, const char *name, const uint8_t *data, size_t len,
                        cs_npz **out) {
    *out = NULL;
    zip_dir dir = {0};
    cs_status st = find_directory(ctx, name, data, len, &dir);
    if (st != CS_OK) return st;
    size_t n = (size_t)dir.entries;
    zip_entry *zs = cs__calloc(n ? n : 1, sizeof *zs);
    cs_npz *npz = cs__calloc(1, sizeof *npz);
    npz_entry *es = cs__calloc(n ? n : 1, sizeof *es);
    if (!zs || !npz || !es) {
        cs__free(zs);
        cs__free(npz);
        cs__free(es);
        return cs__alloc_error(ctx, name, n * (sizeof *zs + sizeof *es));
    }
    npz->entries = es;
    st = read_directory(ctx, name, data, &dir, zs);
    /* read_directory sorted the entries by offset: the order they are stored in. */
    for (size_t i = 0; st == CS_OK && i < n; i++) {
        st = extract(ctx, name, data, &zs[i], &es[i]);
        npz->count = (int)i + 1; /* so destroy frees a partially filled block */
    }
    cs__free(zs);
    if (st != CS_OK) {
        cs__npz_destroy(npz);
        return st;
    }
    *out = npz;
    return CS_OK;
}

cs_status cs__npz_load(cs_context *ctx, const char *path, cs_npz **out) {
    *out = NULL;
    uint8_t *data;
    size_t len;
    cs_status st = cs__read_file(ctx, path, CS_MAX_SCENE_FILE_BYTES, &data, &len);
    if (st != CS_OK) return st;
    st = cs__npz_parse(ctx, path, data, len, out);
    cs__free(data);
    return st;
}

int cs__npz_count(const cs_npz *npz) {
    return npz ? npz->count : 0;
}

const cs_npz_array *cs__npz_get(const cs_npz *npz, int i) {
    return npz && i >= 0 && i < npz->count ? &npz->entries[i].a : NULL;
}

const cs_npz_array *cs__npz_find(const cs_npz *npz, const char *name) {
    for (int i = 0; npz && i < npz->count; i++)
        if (strcmp(npz->entries[i].a.name, name) == 0) return &npz->entries[i].a;
    return NULL;
}

cs_status cs__npz_to_float(cs_context *ctx, const cs_npz_array *a, float *out) {
    const uint8_t *p = a->data;
    int64_t n = a->count;
    /* Reads go through the little-endian helpers so this is right on any host. */
    if (strcmp(a->dtype, "<f4") == 0) {
        for (int64_t i = 0; i < n; i++) out[i] = cs__rd_f32le(p + 4 * i);
    } else if (strcmp(a->dtype, "<f8") == 0) {
        for (int64_t i = 0; i < n; i++) out[i] = (float)cs__rd_f64le(p + 8 * i);
    } else if (strcmp(a->dtype, "|u1") == 0) {
        for (int64_t i = 0; i < n; i++) out[i] = (float)p[i];
    } else if (strcmp(a->dtype, "|b1") == 0) {
        for (int64_t i = 0; i < n; i++) out[i] = p[i] ? 1.0f : 0.0f;
    } else if (strcmp(a->dtype, "<i4") == 0) {
        for (int64_t i = 0; i < n; i++) out[i] = (float)(int32_t)cs__rd_u32le(p + 4 * i);
    } else if (strcmp(a->dtype, "<i8") == 0) {
        for (int64_t i = 0; i < n; i++) out[i] = (float)(int64_t)cs__rd_u64le(p + 8 * i);
    } else {
        return cs__error(ctx, CS_ERR_UNSUPPORTED,
                         "npz array '%s': dtype '%s' has no float conversion", a->name, a->dtype);
    }
    return CS_OK;
}

void cs__npz_destroy(cs_npz *npz) {
    if (!npz) return;
    for (int i = 0; i < npz->count; i++) cs__free(npz->entries[i].block);
    cs__free(npz->entries);
    cs__free(npz);
}
