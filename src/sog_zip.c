/*
 * sog_zip.c - the zip container of bundled .sog files (PKWARE APPNOTE 6.3, the subset used).
 *
 * PlayCanvas bundles a SOG (meta.json and its .webp images) as a zip of STORED entries
 * (splat-transform io/write/zip-file-system.ts); other tools may DEFLATE them. Reading goes
 * through the central directory found from the end-of-central-directory record (the only
 * reliable source of sizes: local headers may defer them to data descriptors), bounds-checks
 * every offset, inflates DEFLATE entries into a buffer of the declared size (a longer stream is
 * an error) and checks each entry's CRC-32. Writing emits STORED entries, or DEFLATE ones where
 * the caller asks and it is smaller (meta.json: the PlayCanvas engine's and splat-transform's
 * readers inflate such entries; WebP images stay STORED, they do not shrink), with sizes and CRC
 * in the local headers (no data descriptors), UTF-8 names, a fixed 1980-01-01 timestamp so
 * output is reproducible.
 *
 * Not supported: ZIP64 (archives or entries of 4 GiB and more), encryption, multi-disk archives,
 * methods other than 0 and 8.
 */
#include "sog.h"

#include <string.h>
#include <zlib.h>

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_END 0x06054b50u

static uint16_t rd16(const uint8_t *p) {
    return (uint16_t)(p[0] | p[1] << 8);
}

static void wr16(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void wr32(uint8_t *p, uint32_t v) {
    wr16(p, v & 0xffff);
    wr16(p + 2, v >> 16);
}

void cs__zip_close(cs_zip *zip) {
    if (!zip) return;
    for (int i = 0; i < zip->count; i++) cs__free(zip->entries[i].name);
    cs__free(zip->entries);
    memset(zip, 0, sizeof *zip);
}

cs_status cs__zip_open(cs_context *ctx, const char *name, const uint8_t *data, size_t len,
                       cs_zip *out) {
    memset(out, 0, sizeof *out);
    out->data = data;
    out->len = len;
    /* The end record is the last 22 bytes plus a comment of up to 65535 bytes. */
    if (len < 22) return cs__error(ctx, CS_ERR_FORMAT, "%s: not a zip archive (too short)", name);
    size_t eocd = SIZE_MAX;
    size_t lowest = len - 22 > 65535 ? len - 22 - 65535 : 0;
    for (size_t i = len - 22 + 1; i-- > lowest;)
        if (cs__rd_u32le(data + i) == SIG_END) {
            eocd = i;
            break;
        }
    if (eocd == SIZE_MAX)
        return cs__error(ctx, CS_ERR_FORMAT, "%s: not a zip archive (no end record)", name);
    const uint8_t *e = data + eocd;
    unsigned entries = rd16(e + 10);
    size_t cd_size = cs__rd_u32le(e + 12), cd_off = cs__rd_u32le(e + 16);
    if (rd16(e + 4) != 0 || rd16(e + 6) != 0 || rd16(e + 8) != entries)
        return cs__error(ctx, CS_ERR_UNSUPPORTED, "%s: multi-disk zip archives are not supported",
                         name);
    if (cd_off == 0xffffffffu || entries == 0xffff)
        return cs__error(ctx, CS_ERR_UNSUPPORTED, "%s: ZIP64 archives are not supported", name);
    if (cd_off > eocd || cd_size > eocd - cd_off)
        return cs__error(ctx, CS_ERR_FORMAT, "%s: zip central directory lies outside the file",
                         name);
    out->entries = cs__calloc(entries ? entries : 1, sizeof *out->entries);
    if (!out->entries) return cs__alloc_error(ctx, name, entries * sizeof *out->entries);
    size_t at = cd_off, end = cd_off + cd_size;
    for (unsigned i = 0; i < entries; i++) {
        if (end - at < 46 || cs__rd_u32le(data + at) != SIG_CENTRAL) {
            cs__zip_close(out);
            return cs__error(ctx, CS_ERR_FORMAT, "%s: zip central directory entry %u is corrupt",
                             name, i);
        }
        const uint8_t *c = data + at;
        size_t nlen = rd16(c + 28), xlen = rd16(c + 30), clen = rd16(c + 32);
        if (end - at - 46 < nlen + xlen + clen) {
            cs__zip_close(out);
            return cs__error(ctx, CS_ERR_FORMAT, "%s: zip entry %u runs past the directory", name,
                             i);
        }
        cs_zip_entry *z = &out->entries[out->count];
        z->method = rd16(c + 10);
        z->crc = cs__rd_u32le(c + 16);
        z->csize = cs__rd_u32le(c + 20);
        z->usize = cs__rd_u32le(c + 24);
        size_t local = cs__rd_u32le(c + 42);
        z->name = cs__malloc(nlen + 1);
        if (!z->name) {
            cs__zip_close(out);
            return cs__alloc_error(ctx, name, nlen + 1);
        }
        memcpy(z->name, c + 46, nlen);
        z->name[nlen] = 0;
        out->count++;
        if (rd16(c + 8) & 1) {
            cs__zip_close(out);
            return cs__error(ctx, CS_ERR_UNSUPPORTED, "%s: zip entry %u is encrypted", name, i);
        }
        if (z->csize == 0xffffffffu || z->usize == 0xffffffffu || local == 0xffffffffu) {
            cs__zip_close(out);
            return cs__error(ctx, CS_ERR_UNSUPPORTED, "%s: ZIP64 entries are not supported", name);
        }
        /* The data follows the local header, whose name and extra lengths may differ. */
        /* Messages naming the entry are formatted before the names are freed. */
        if (local > len || len - local < 30 || cs__rd_u32le(data + local) != SIG_LOCAL) {
            cs_status st = cs__error(ctx, CS_ERR_FORMAT,
                                     "%s: zip local header of '%s' is "
                                     "corrupt",
                                     name, z->name);
            cs__zip_close(out);
            return st;
        }
        size_t skip = 30 + (size_t)rd16(data + local + 26) + rd16(data + local + 28);
        if (len - local < skip || len - local - skip < z->csize) {
            cs_status st = cs__error(ctx, CS_ERR_FORMAT, "%s: zip entry '%s' runs past the end",
                                     name, z->name);
            cs__zip_close(out);
            return st;
        }
        z->data_offset = local + skip;
        at += 46 + nlen + xlen + clen;
    }
    return CS_OK;
}

const cs_zip_entry *cs__zip_find(const cs_zip *zip, const char *entry) {
    for (int i = 0; i < zip->count; i++)
        if (strcmp(zip->entries[i].name, entry) == 0) return &zip->entries[i];
    return NULL;
}

cs_status cs__zip_extract(cs_context *ctx, const char *name, const cs_zip *zip,
                          const cs_zip_entry *e, size_t max_bytes, uint8_t **data, size_t *len) {
    *data = NULL;
    *len = 0;
    if (e->usize > max_bytes)
        return cs__error(ctx, CS_ERR_UNSUPPORTED,
                         "%s: zip entry '%s' of %zu bytes exceeds the "
                         "%zu-byte limit",
                         name, e->name, e->usize, max_bytes);
    if (e->method != 0 && e->method != 8)
        return cs__error(ctx, CS_ERR_UNSUPPORTED,
                         "%s: zip entry '%s' uses compression method "
                         "%u (only stored and deflate are supported)",
                         name, e->name, e->method);
    if (e->method == 0 && e->csize != e->usize)
        return cs__error(ctx, CS_ERR_FORMAT, "%s: stored zip entry '%s' has sizes %zu and %zu",
                         name, e->name, e->csize, e->usize);
    uint8_t *buf = cs__malloc(e->usize + 1);
    if (!buf) return cs__alloc_error(ctx, name, e->usize + 1);
    const uint8_t *src = zip->data + e->data_offset;
    if (e->method == 0) {
        memcpy(buf, src, e->usize);
    } else {
        z_stream zs;
        memset(&zs, 0, sizeof zs);
        if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) {
            cs__free(buf);
            return cs__error(ctx, CS_ERR_NOMEM, "%s: cannot start inflate", name);
        }
        /* Sizes are below 4 GiB (no ZIP64), so they fit zlib's 32-bit counters. One byte of
         * spare output room reveals a stream longer than declared. */
        zs.next_in = (Bytef *)(uintptr_t)src;
        zs.avail_in = (uInt)e->csize;
        zs.next_out = buf;
        zs.avail_out = (uInt)(e->usize + 1);
        int zr = inflate(&zs, Z_FINISH);
        size_t got = e->usize + 1 - zs.avail_out;
        inflateEnd(&zs);
        if (zr != Z_STREAM_END || got != e->usize) {
            cs__free(buf);
            return cs__error(ctx, CS_ERR_FORMAT,
                             "%s: zip entry '%s' inflates to %s%zu bytes, "
                             "not the declared %zu",
                             name, e->name, zr == Z_STREAM_END ? "" : "at least ", got, e->usize);
        }
    }
    uint32_t crc = (uint32_t)crc32(0L, Z_NULL, 0);
    for (size_t off = 0; off < e->usize;) {
        size_t n = e->usize - off > (1u << 30) ? (1u << 30) : e->usize - off;
        crc = (uint32_t)crc32(crc, buf + off, (uInt)n);
        off += n;
    }
    if (crc != e->crc) {
        cs__free(buf);
        return cs__error(ctx, CS_ERR_FORMAT, "%s: zip entry '%s' fails its CRC check", name,
                         e->name);
    }
    buf[e->usize] = 0;
    *data = buf;
    *len = e->usize;
    return CS_OK;
}

/* Raw DEFLATE (level 9) of data into a new buffer; false when it would not be smaller. */
static bool deflate_entry(const uint8_t *data, size_t len, uint8_t **out, size_t *out_len) {
    *out = NULL;
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (len == 0 || len > 0x7fffffffu ||
        deflateInit2(&zs, 9, Z_DEFLATED, -MAX_WBITS, 9, Z_DEFAULT_STRATEGY) != Z_OK)
        return false;
    size_t cap = deflateBound(&zs, (uLong)len);
    uint8_t *buf = cs__malloc(cap);
    bool ok = buf != NULL;
    if (ok) {
        zs.next_in = (Bytef *)(uintptr_t)data;
        zs.avail_in = (uInt)len;
        zs.next_out = buf;
        zs.avail_out = (uInt)cap;
        ok = deflate(&zs, Z_FINISH) == Z_STREAM_END && zs.total_out < len;
    }
    deflateEnd(&zs);
    if (!ok) {
        cs__free(buf);
        return false;
    }
    *out = buf;
    *out_len = zs.total_out;
    return true;
}

cs_status cs__zip_write(cs_context *ctx, cs_outfile *of, const cs_zip_file *files, int n) {
    if (n < 0 || n > 0xfffe)
        return cs__error(ctx, CS_ERR_ARGUMENT, "%s: %d zip entries", of->path, n);
    size_t cd_bytes = 0, offset = 0;
    for (int i = 0; i < n; i++) {
        size_t nlen = strlen(files[i].name);
        if (nlen > 0xffff || files[i].len >= 0xffffffffu)
            return cs__error(ctx, CS_ERR_UNSUPPORTED, "%s: zip entry '%s' too large (no ZIP64)",
                             of->path, files[i].name);
        cd_bytes += 46 + nlen;
    }
    uint8_t *cd = cs__malloc(cd_bytes + 22);
    if (!cd) return cs__alloc_error(ctx, of->path, cd_bytes + 22);
    cs_status st = CS_OK;
    uint8_t *c = cd;
    const uint32_t dos_date = (0 << 9) | (1 << 5) | 1; /* 1980-01-01 */
    for (int i = 0; i < n && st == CS_OK; i++) {
        size_t nlen = strlen(files[i].name), len = files[i].len, clen = len;
        uint32_t crc = (uint32_t)crc32(0L, Z_NULL, 0);
        if (len) crc = (uint32_t)crc32(crc, files[i].data, (uInt)len);
        uint8_t *packed = NULL;
        const uint8_t *body = files[i].data;
        uint16_t method = 0;
        if (files[i].deflate && deflate_entry(files[i].data, len, &packed, &clen)) {
            body = packed;
            method = 8;
        }
        uint8_t local[30];
        memset(local, 0, sizeof local);
        wr32(local, SIG_LOCAL);
        wr16(local + 4, 20);    /* version needed: 2.0 */
        wr16(local + 6, 0x800); /* UTF-8 names */
        wr16(local + 8, method);
        wr16(local + 12, dos_date);
        wr32(local + 14, crc);
        wr32(local + 18, (uint32_t)clen);
        wr32(local + 22, (uint32_t)len);
        wr16(local + 26, (uint32_t)nlen);
        memset(c, 0, 46);
        wr32(c, SIG_CENTRAL);
        wr16(c + 4, 20);
        wr16(c + 6, 20);
        wr16(c + 8, 0x800);
        wr16(c + 10, method);
        wr16(c + 14, dos_date);
        wr32(c + 16, crc);
        wr32(c + 20, (uint32_t)clen);
        wr32(c + 24, (uint32_t)len);
        wr16(c + 28, (uint32_t)nlen);
        if (offset >= 0xffffffffu) {
            cs__free(packed);
            st = cs__error(ctx, CS_ERR_UNSUPPORTED, "%s: archive exceeds 4 GiB (no ZIP64)",
                           of->path);
            break;
        }
        wr32(c + 42, (uint32_t)offset);
        memcpy(c + 46, files[i].name, nlen);
        c += 46 + nlen;
        st = cs__outfile_write(ctx, of, local, sizeof local);
        if (st == CS_OK) st = cs__outfile_write(ctx, of, files[i].name, nlen);
        if (st == CS_OK) st = cs__outfile_write(ctx, of, body, clen);
        cs__free(packed);
        offset += 30 + nlen + clen;
    }
    if (st == CS_OK && offset >= 0xffffffffu)
        st = cs__error(ctx, CS_ERR_UNSUPPORTED, "%s: archive exceeds 4 GiB (no ZIP64)", of->path);
    if (st == CS_OK) {
        memset(c, 0, 22);
        wr32(c, SIG_END);
        wr16(c + 8, (uint32_t)n);
        wr16(c + 10, (uint32_t)n);
        wr32(c + 12, (uint32_t)cd_bytes);
        wr32(c + 16, (uint32_t)offset);
        st = cs__outfile_write(ctx, of, cd, cd_bytes + 22);
    }
    cs__free(cd);
    return st;
}
