/*
 * io_spz.c - Niantic SPZ, read (versions 1-4) and write (versions 2-4).
 *
 * Specification: github.com/nianticlabs/spz (README "File Format", src/cc/load-spz.cc). A file
 * holds N Gaussians as six attribute arrays, in this order:
 *   positions  N x 3 x 24-bit signed fixed point, `fractionalBits` fractional bits
 *              (version 1: N x 3 float16)
 *   alphas     N bytes, round(sigmoid(logit) * 255)
 *   colors     N x 3 bytes, round(f_dc * 0.15 * 255 + 127.5)  (0.15 instead of SH_C0 leaves
 *              room for base colours outside [0, 1] that higher bands bring back)
 *   scales     N x 3 bytes, round((log_scale + 10) * 16)
 *   rotations  versions 1-2: N x 3 bytes, xyz of the unit quaternion with w >= 0, b/127.5 - 1;
 *              versions 3-4: N x u32 "smallest three": 2 bits index of the largest |component|
 *              (made positive), then per other component (in x,y,z,w order, last one in the
 *              lowest bits) 1 sign bit and 9 bits of |c| / (1/sqrt2)
 *   sh         N x dim x 3 bytes, dim = 0, 3, 8, 15, 24 for degree 0..4, coefficient-major with
 *              the colour inner; value (b - 128) / 128. The writer rounds band 1 to 5 bits and
 *              higher bands to 4 bits (bucket centres), which compresses better and decodes the
 *              same way.
 * Versions 1-3: a 16-byte header {magic 0x5053474e "NGSP", version, numPoints, shDegree,
 * fractionalBits, flags (0x1 antialiased, 0x2 extensions), reserved}, then the arrays, all of it
 * one gzip stream. Version 4: a plain 32-byte header {magic, version, numPoints, shDegree,
 * fractionalBits, flags, numStreams, tocByteOffset, 12 reserved}, extension records up to
 * tocByteOffset, a table of contents of numStreams x {u64 compressed, u64 uncompressed}, then
 * each non-empty array as its own zstd frame.
 *
 * Coordinates: SPZ stores RUB (x right, y up, z back: OpenGL/three.js); csplat's scenes are the
 * Inria PLY frame RDF (x right, y down, z forward). Converting flips y and z: positions (x,-y,-z),
 * quaternion imaginary parts (x, -y, -z) (a rotation conjugated by diag(1,-1,-1)), and each SH
 * coefficient by the parity of its basis function under y -> -y, z -> -z (table below, from
 * spz's coordinateConverter). The flip is its own inverse, so reading and writing use it alike.
 *
 * Limits: the decoded size follows from the header, so the body is inflated into a buffer of
 * exactly that size and a stream that would produce more is refused (a gzip bomb cannot grow
 * memory), as is a header whose size exceeds 1032x the file (deflate's and spz's own bound on
 * the compression ratio). Extension records are skipped (none changes how the arrays decode).
 * SH degree 4 is read and truncated to degree 3 with a warning. Does not write version 1
 * (float16 positions were never released) or extensions.
 */
#include "sog.h"

#include <string.h>
#include <zlib.h>
#include <zstd.h>

#define SPZ_MAGIC 0x5053474eu
#define SPZ_FLAG_ANTIALIASED 0x1
#define SPZ_FLAG_EXTENSIONS 0x2
#define SPZ_COLOR_SCALE 0.15f
#define SPZ_SQRT1_2 0.70710678118654752f
/* Largest ratio of decoded body to file size accepted (deflate's limit is ~1032:1). */
#define SPZ_MAX_RATIO 1032u
/* Room allowed for extension records inside a legacy gzip body. */
#define SPZ_MAX_LEGACY_EXTENSIONS ((size_t)1 << 20)

/* SH coefficients per colour for SPZ degree 0..4. */
static const int spz_dim[5] = {0, 3, 8, 15, 24};

/* Sign of each SH coefficient (bands 1..3, coefficients 1..15 of the 3DGS basis) when y and z
 * flip: coefficient k of band l is odd in y, z or both as its basis polynomial is. */
static const float flip_sh[15] = {-1, -1, 1, -1, 1, 1, -1, 1, -1, 1, -1, -1, 1, -1, 1};

static uint16_t rd_u16(const uint8_t *p) {
    return (uint16_t)(p[0] | p[1] << 8);
}

static void wr_u32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void wr_u64(uint8_t *p, uint64_t v) {
    wr_u32(p, (uint32_t)v);
    wr_u32(p + 4, (uint32_t)(v >> 32));
}

static float half_to_float(uint16_t h) {
    int e = (h >> 10) & 0x1f, m = h & 0x3ff;
    float v = e == 0 ? ldexpf((float)m, -24) : (e == 31 ? (m ? NAN : INFINITY)
                                                        : ldexpf((float)(m | 0x400), e - 25));
    return (h & 0x8000) ? -v : v;
}

/* The parsed header, common to all versions. */
typedef struct spz_header {
    uint32_t version;
    uint32_t count;
    int sh_degree;
    int fractional_bits;
    int flags;
} spz_header;

/* Byte sizes of the six arrays (positions, alphas, colors, scales, rotations, sh). */
static void spz_sizes(const spz_header *h, size_t n, size_t sizes[6]) {
    sizes[0] = n * (h->version == 1 ? 6 : 9);
    sizes[1] = n;
    sizes[2] = n * 3;
    sizes[3] = n * 3;
    sizes[4] = n * (h->version >= 3 ? 4 : 3);
    sizes[5] = n * 3 * (size_t)spz_dim[h->sh_degree];
}

/* Validates a header's fields and returns the decoded body size in *body (overflow-safe since
 * count < 2^32 and at most 92 bytes per point). */
static cs_status check_header(cs_context *ctx, const char *name, const spz_header *h,
                              size_t file_len, size_t *body) {
    if (h->version < 1 || h->version > 4)
        return cs__error(ctx, CS_ERR_UNSUPPORTED, "%s: SPZ version %u is not supported (1-4)",
                         name, h->version);
    if (h->sh_degree < 0 || h->sh_degree > 4)
        return cs__error(ctx, CS_ERR_FORMAT, "%s: SPZ SH degree %d is not in 0..4", name,
                         h->sh_degree);
    if (h->fractional_bits > 24)
        return cs__error(ctx, CS_ERR_FORMAT, "%s: SPZ fractional bits %d exceed 24", name,
                         h->fractional_bits);
    size_t sizes[6];
    spz_sizes(h, h->count, sizes);
    size_t total = 0;
    for (int i = 0; i < 6; i++) total += sizes[i];
    uint64_t bound = (uint64_t)SPZ_MAX_RATIO * file_len + 4096;
    if ((uint64_t)total > bound)
        return cs__error(ctx, CS_ERR_FORMAT,
                         "%s: SPZ header declares %u Gaussians (%zu bytes) but the file has "
                         "only %zu bytes", name, h->count, total, file_len);
    *body = total;
    return CS_OK;
}

/* Decode the six arrays into a new scene, converting RUB to RDF. */
static cs_status spz_unpack(cs_context *ctx, const char *name, const spz_header *h,
                            const uint8_t *const arrays[6], cs_scene **out) {
    int degree = h->sh_degree > 3 ? 3 : h->sh_degree;
    if (h->sh_degree > 3)
        cs__log(ctx, CS_LOG_WARN, "%s: SPZ SH degree 4 truncated to degree 3", name);
    cs_scene *s;
    cs_status st = cs_scene_create(ctx, h->count, degree, &s);
    if (st != CS_OK) return st;
    cs_scene_params p = s->p;
    size_t n = h->count;
    int dim = spz_dim[h->sh_degree], keep = spz_dim[degree], k = p.sh_coeffs;
    const float fix = ldexpf(1.0f, -h->fractional_bits);
    const float flip_p[3] = {1.0f, -1.0f, -1.0f};
    for (size_t i = 0; i < n; i++) {
        float *m = p.means + 3 * i;
        for (int a = 0; a < 3; a++) {
            float v;
            if (h->version == 1) {
                v = half_to_float(rd_u16(arrays[0] + 6 * i + 2 * a));
            } else {
                const uint8_t *b = arrays[0] + 9 * i + 3 * a;
                uint32_t u = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16;
                int32_t fixed = (int32_t)(u ^ 0x800000u) - 0x800000; /* sign-extend 24 bits */
                v = (float)fixed * fix;
            }
            m[a] = flip_p[a] * v;
        }
        p.opacities[i] = cs__logitf((float)arrays[1][i] / 255.0f);
        for (int c = 0; c < 3; c++) {
            p.sh[(size_t)k * 3 * i + c] =
                ((float)arrays[2][3 * i + c] / 255.0f - 0.5f) / SPZ_COLOR_SCALE;
            p.log_scales[3 * i + c] = (float)arrays[3][3 * i + c] / 16.0f - 10.0f;
        }
        float xyzw[4];
        if (h->version >= 3) {
            uint32_t comp = cs__rd_u32le(arrays[4] + 4 * i);
            int largest = (int)(comp >> 30);
            float sum = 0;
            for (int c = 3; c >= 0; c--) {
                if (c == largest) continue;
                float mag = SPZ_SQRT1_2 * (float)(comp & 511u) / 511.0f;
                xyzw[c] = (comp >> 9) & 1u ? -mag : mag;
                sum += xyzw[c] * xyzw[c];
                comp >>= 10;
            }
            xyzw[largest] = sqrtf(fmaxf(0.0f, 1.0f - sum));
        } else {
            const uint8_t *r = arrays[4] + 3 * i;
            float sum = 0;
            for (int c = 0; c < 3; c++) {
                xyzw[c] = (float)r[c] / 127.5f - 1.0f;
                sum += xyzw[c] * xyzw[c];
            }
            xyzw[3] = sqrtf(fmaxf(0.0f, 1.0f - sum));
        }
        /* xyzw (RUB) -> wxyz (RDF): y and z of the rotation axis flip. */
        float *q = p.quats + 4 * i;
        q[0] = xyzw[3];
        q[1] = xyzw[0];
        q[2] = -xyzw[1];
        q[3] = -xyzw[2];
        const uint8_t *sh = arrays[5] + (size_t)dim * 3 * i;
        for (int j = 0; j < keep; j++)
            for (int c = 0; c < 3; c++)
                p.sh[(size_t)k * 3 * i + 3 * (size_t)(j + 1) + c] =
                    flip_sh[j] * ((float)sh[3 * j + c] - 128.0f) / 128.0f;
    }
    *out = s;
    return CS_OK;
}

/* Versions 1-3: inflate the header, then exactly the body it implies. */
static cs_status parse_gzip(cs_context *ctx, const char *name, const uint8_t *data, size_t len,
                            cs_scene **out) {
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
        return cs__error(ctx, CS_ERR_NOMEM, "%s: cannot start gzip decompression", name);
    uint8_t hdr[16];
    uint8_t *body = NULL;
    cs_status st = CS_OK;
    /* zlib's avail_in is 32-bit: feed the input in slices. */
    size_t fed = 0;
    int zr = Z_OK;
#define SPZ_FEED()                                                                                \
    do {                                                                                          \
        if (zs.avail_in == 0 && fed < len) {                                                      \
            size_t chunk = len - fed > (1u << 30) ? (1u << 30) : len - fed;                        \
            zs.next_in = (Bytef *)(uintptr_t)(data + fed);                                        \
            zs.avail_in = (uInt)chunk;                                                            \
            fed += chunk;                                                                         \
        }                                                                                         \
    } while (0)
    zs.next_out = hdr;
    zs.avail_out = sizeof hdr;
    while (zs.avail_out > 0 && zr == Z_OK) {
        SPZ_FEED();
        zr = inflate(&zs, Z_NO_FLUSH);
        if (zr == Z_BUF_ERROR && zs.avail_in == 0 && fed == len) break;
    }
    if (zs.avail_out > 0) {
        st = cs__error(ctx, CS_ERR_FORMAT, "%s: SPZ gzip stream %s before the 16-byte header",
                       name, zr == Z_STREAM_END || zr == Z_BUF_ERROR ? "ends" : "is corrupt");
        goto done;
    }
    if (cs__rd_u32le(hdr) != SPZ_MAGIC) {
        st = cs__error(ctx, CS_ERR_FORMAT, "%s: not an SPZ file (bad magic after gzip)", name);
        goto done;
    }
    spz_header h = {cs__rd_u32le(hdr + 4), cs__rd_u32le(hdr + 8), hdr[12], hdr[13], hdr[14]};
    if (h.version == 4) {
        st = cs__error(ctx, CS_ERR_FORMAT, "%s: SPZ version 4 must not be gzip-wrapped", name);
        goto done;
    }
    size_t expect;
    if ((st = check_header(ctx, name, &h, len, &expect)) != CS_OK) goto done;
    /* Extension records (if flagged) sit between header and arrays with no total length, so
     * allow a bounded zone for them and take the arrays from the end of what was inflated. */
    size_t cap = expect + ((h.flags & SPZ_FLAG_EXTENSIONS) ? SPZ_MAX_LEGACY_EXTENSIONS : 0);
    body = cs__malloc(cap + 1);
    if (!body) {
        st = cs__alloc_error(ctx, name, cap + 1);
        goto done;
    }
    size_t got = 0;
    while (zr == Z_OK) {
        /* One byte more than allowed, so an over-long stream is noticed. */
        size_t room = cap + 1 - got;
        zs.next_out = body + got;
        zs.avail_out = (uInt)(room > (1u << 30) ? (1u << 30) : room);
        uInt before = zs.avail_out;
        SPZ_FEED();
        zr = inflate(&zs, Z_NO_FLUSH);
        got += before - zs.avail_out;
        if (got > cap) {
            st = cs__error(ctx, CS_ERR_FORMAT,
                           "%s: SPZ body decompresses to more than the %zu bytes its header "
                           "implies", name, cap);
            goto done;
        }
        if (zr == Z_BUF_ERROR && zs.avail_in == 0 && fed == len) break;
    }
    if (zr != Z_STREAM_END) {
        st = cs__error(ctx, CS_ERR_FORMAT, "%s: SPZ gzip stream is %s after %zu body bytes",
                       name, zr == Z_BUF_ERROR ? "truncated" : "corrupt", got);
        goto done;
    }
    if (got < expect || (!(h.flags & SPZ_FLAG_EXTENSIONS) && got != expect)) {
        st = cs__error(ctx, CS_ERR_FORMAT,
                       "%s: SPZ body has %zu bytes, the header implies %zu", name, got, expect);
        goto done;
    }
    size_t sizes[6];
    spz_sizes(&h, h.count, sizes);
    const uint8_t *arrays[6];
    const uint8_t *at = body + (got - expect);
    for (int i = 0; i < 6; i++) {
        arrays[i] = at;
        at += sizes[i];
    }
    st = spz_unpack(ctx, name, &h, arrays, out);
done:
#undef SPZ_FEED
    inflateEnd(&zs);
    cs__free(body);
    return st;
}

/* Version 4 (and plain, un-gzipped bodies of versions 1-3 as some tools write them). */
static cs_status parse_plain(cs_context *ctx, const char *name, const uint8_t *data, size_t len,
                             cs_scene **out) {
    if (len < 16) return cs__error(ctx, CS_ERR_FORMAT, "%s: SPZ header truncated", name);
    spz_header h = {cs__rd_u32le(data + 4), cs__rd_u32le(data + 8), data[12], data[13],
                    data[14]};
    size_t expect;
    cs_status st = check_header(ctx, name, &h, len, &expect);
    if (st != CS_OK) return st;
    size_t sizes[6];
    spz_sizes(&h, h.count, sizes);
    if (h.version <= 3) {
        if (h.flags & SPZ_FLAG_EXTENSIONS ? len - 16 < expect : len - 16 != expect)
            return cs__error(ctx, CS_ERR_FORMAT, "%s: SPZ body has %zu bytes, expected %zu",
                             name, len - 16, expect);
        const uint8_t *arrays[6], *at = data + len - expect;
        for (int i = 0; i < 6; i++) {
            arrays[i] = at;
            at += sizes[i];
        }
        return spz_unpack(ctx, name, &h, arrays, out);
    }
    if (len < 32) return cs__error(ctx, CS_ERR_FORMAT, "%s: SPZ v4 header truncated", name);
    int nstreams = data[15];
    uint32_t toc = cs__rd_u32le(data + 16);
    int expected_streams = 0;
    for (int i = 0; i < 6; i++) expected_streams += sizes[i] > 0;
    if (nstreams != expected_streams)
        return cs__error(ctx, CS_ERR_FORMAT, "%s: SPZ v4 has %d streams, expected %d", name,
                         nstreams, expected_streams);
    if (toc < 32 || toc > len || (len - toc) / 16 < (size_t)nstreams)
        return cs__error(ctx, CS_ERR_FORMAT, "%s: SPZ v4 table of contents at %u is outside "
                         "the file", name, toc);
    uint8_t *buf = cs__malloc(expect ? expect : 1);
    if (!buf) return cs__alloc_error(ctx, name, expect);
    const uint8_t *arrays[6];
    size_t src = toc + 16 * (size_t)nstreams, dst = 0;
    int s = 0;
    for (int i = 0; i < 6 && st == CS_OK; i++) {
        arrays[i] = buf + dst;
        if (sizes[i] == 0) continue;
        uint64_t csize = cs__rd_u64le(data + toc + 16 * (size_t)s);
        uint64_t usize = cs__rd_u64le(data + toc + 16 * (size_t)s + 8);
        s++;
        if (usize != sizes[i]) {
            st = cs__error(ctx, CS_ERR_FORMAT, "%s: SPZ v4 stream %d holds %llu bytes, the "
                           "header implies %zu", name, s - 1, (unsigned long long)usize,
                           sizes[i]);
        } else if (csize > len - src) {
            st = cs__error(ctx, CS_ERR_FORMAT, "%s: SPZ v4 stream %d (%llu bytes) runs past "
                           "the end of the file", name, s - 1, (unsigned long long)csize);
        } else {
            size_t r = ZSTD_decompress(buf + dst, sizes[i], data + src, (size_t)csize);
            if (ZSTD_isError(r) || r != sizes[i])
                st = cs__error(ctx, CS_ERR_FORMAT, "%s: SPZ v4 stream %d: %s", name, s - 1,
                               ZSTD_isError(r) ? ZSTD_getErrorName(r) : "short stream");
            src += (size_t)csize;
            dst += sizes[i];
        }
    }
    if (st == CS_OK) st = spz_unpack(ctx, name, &h, arrays, out);
    cs__free(buf);
    return st;
}

static bool spz_detect(const uint8_t *data, size_t len) {
    /* gzip-wrapped (v1-3) or a plain NGSP header (v4). A bare gzip file could be something
     * else, but no other scene format csplat reads is gzip. */
    if (len >= 2 && data[0] == 0x1f && data[1] == 0x8b) return true;
    return len >= 4 && cs__rd_u32le(data) == SPZ_MAGIC;
}

static cs_status spz_parse(cs_context *ctx, const char *name, const uint8_t *data, size_t len,
                           cs_scene **out) {
    *out = NULL;
    if (len >= 2 && data[0] == 0x1f && data[1] == 0x8b)
        return parse_gzip(ctx, name, data, len, out);
    if (len >= 4 && cs__rd_u32le(data) == SPZ_MAGIC)
        return parse_plain(ctx, name, data, len, out);
    return cs__error(ctx, CS_ERR_FORMAT, "%s: not an SPZ file (neither gzip nor NGSP header)",
                     name);
}

/* ---------------------------------------------------------------------------------------------
 * Writing.
 */

/* Round to the centre of 2^(8-bits)-wide buckets as spz's quantizeSH does, so the dropped low
 * bits are zero and the value still decodes with (b - 128) / 128. */
static uint8_t quantize_sh(float x, int bits) {
    if (!isfinite(x)) x = 0.0f;
    x = fminf(fmaxf(x, -2.0f), 2.0f);
    int bucket = 1 << (8 - bits);
    int q = (int)lroundf(x * 128.0f) + 128;
    q = (q + bucket / 2) / bucket * bucket;
    return (uint8_t)(q < 0 ? 0 : (q > 255 ? 255 : q));
}

/* Fractional bits for positions: spz's 12 unless the largest |coordinate| needs more integer
 * bits to fit the 24-bit range. */
static int choose_fractional_bits(const cs_scene_params *p) {
    float mx = 0;
    for (size_t i = 0; i < 3 * (size_t)p->count; i++)
        if (isfinite(p->means[i])) mx = fmaxf(mx, fabsf(p->means[i]));
    int fb = 12;
    while (fb > 0 && ldexpf(mx, fb) >= 8388607.0f) fb--;
    return fb;
}

/* Fill the six arrays of a version-2..4 body. */
static void spz_pack(const cs_scene_params *p, int version, int fb, uint8_t *const arrays[6]) {
    size_t n = (size_t)p->count;
    int k = p->sh_coeffs, dim = spz_dim[p->sh_degree];
    const float scale = ldexpf(1.0f, fb), flip_p[3] = {1.0f, -1.0f, -1.0f};
    for (size_t i = 0; i < n; i++) {
        for (int a = 0; a < 3; a++) {
            float v = flip_p[a] * p->means[3 * i + a] * scale;
            v = isfinite(v) ? fminf(fmaxf(v, -8388608.0f), 8388607.0f) : 0.0f;
            int32_t f = (int32_t)lroundf(v);
            uint8_t *b = arrays[0] + 9 * i + 3 * a;
            b[0] = (uint8_t)f;
            b[1] = (uint8_t)(f >> 8);
            b[2] = (uint8_t)(f >> 16);
        }
        arrays[1][i] = cs__u8_round(cs__sigmoidf(p->opacities[i]) * 255.0f);
        for (int c = 0; c < 3; c++) {
            float dc = p->sh[(size_t)k * 3 * i + c];
            arrays[2][3 * i + c] = cs__u8_round(dc * (SPZ_COLOR_SCALE * 255.0f) + 127.5f);
            arrays[3][3 * i + c] = cs__u8_round((p->log_scales[3 * i + c] + 10.0f) * 16.0f);
        }
        float q[4], xyzw[4];
        cs__quat_normalize(p->quats + 4 * i, q);
        xyzw[0] = q[1];
        xyzw[1] = -q[2];
        xyzw[2] = -q[3];
        xyzw[3] = q[0];
        if (version >= 3) {
            int largest = 0;
            for (int c = 1; c < 4; c++)
                if (fabsf(xyzw[c]) > fabsf(xyzw[largest])) largest = c;
            bool negate = xyzw[largest] < 0;
            uint32_t comp = (uint32_t)largest;
            for (int c = 0; c < 4; c++) {
                if (c == largest) continue;
                uint32_t neg = (xyzw[c] < 0) != negate;
                uint32_t mag = (uint32_t)(511.0f * (fabsf(xyzw[c]) / SPZ_SQRT1_2) + 0.5f);
                comp = comp << 10 | neg << 9 | (mag > 511 ? 511 : mag);
            }
            wr_u32(arrays[4] + 4 * i, comp);
        } else {
            float sgn = xyzw[3] < 0 ? -127.5f : 127.5f;
            for (int c = 0; c < 3; c++)
                arrays[4][3 * i + c] = cs__u8_round(xyzw[c] * sgn + 127.5f);
        }
        uint8_t *sh = arrays[5] + (size_t)dim * 3 * i;
        for (int j = 0; j < dim; j++)
            for (int c = 0; c < 3; c++)
                sh[3 * j + c] = quantize_sh(
                    flip_sh[j] * p->sh[(size_t)k * 3 * i + 3 * (size_t)(j + 1) + c], j < 3 ? 5 : 4);
    }
}

/* Deflate `len` bytes into a gzip stream on the output file. */
static cs_status write_gzip(cs_context *ctx, cs_outfile *of, const uint8_t *data, size_t len) {
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 9, Z_DEFAULT_STRATEGY) != Z_OK)
        return cs__error(ctx, CS_ERR_NOMEM, "%s: cannot start gzip compression", of->path);
    uint8_t chunk[1 << 16];
    cs_status st = CS_OK;
    size_t fed = 0;
    int zr = Z_OK;
    while (st == CS_OK && zr != Z_STREAM_END) {
        if (zs.avail_in == 0 && fed < len) {
            size_t n = len - fed > (1u << 30) ? (1u << 30) : len - fed;
            zs.next_in = (Bytef *)(uintptr_t)(data + fed);
            zs.avail_in = (uInt)n;
            fed += n;
        }
        zs.next_out = chunk;
        zs.avail_out = sizeof chunk;
        zr = deflate(&zs, fed == len ? Z_FINISH : Z_NO_FLUSH);
        if (zr == Z_STREAM_ERROR) {
            st = cs__error(ctx, CS_ERR_IO, "%s: gzip compression failed", of->path);
            break;
        }
        st = cs__outfile_write(ctx, of, chunk, sizeof chunk - zs.avail_out);
    }
    deflateEnd(&zs);
    return st;
}

typedef struct zstd_job {
    const uint8_t *src[6];
    size_t src_len[6];
    uint8_t *dst[6];
    size_t dst_cap[6], dst_len[6];
} zstd_job;

static void zstd_task(void *user, int64_t begin, int64_t end, int worker) {
    (void)worker;
    zstd_job *job = user;
    for (int64_t i = begin; i < end; i++)
        job->dst_len[i] = ZSTD_compress(job->dst[i], job->dst_cap[i], job->src[i],
                                        job->src_len[i], 12);
}

cs_status cs_scene_save_spz(cs_context *ctx, const cs_scene *scene, const char *path,
                            const cs_spz_options *options) {
    int version = options && options->version ? options->version : 3;
    if (version < 2 || version > 4)
        return cs__error(ctx, CS_ERR_ARGUMENT, "%s: SPZ version %d cannot be written (2-4)",
                         path, version);
    const cs_scene_params *p = &scene->p;
    if ((uint64_t)p->count > UINT32_MAX)
        return cs__error(ctx, CS_ERR_UNSUPPORTED, "%s: %lld Gaussians exceed SPZ's 2^32", path,
                         (long long)p->count);
    spz_header h = {(uint32_t)version, (uint32_t)p->count, p->sh_degree,
                    choose_fractional_bits(p),
                    options && options->antialiased ? SPZ_FLAG_ANTIALIASED : 0};
    size_t sizes[6], total = 16;
    spz_sizes(&h, h.count, sizes);
    for (int i = 0; i < 6; i++) total += sizes[i];
    uint8_t *buf = cs__malloc(total);
    if (!buf) return cs__alloc_error(ctx, path, total);
    wr_u32(buf, SPZ_MAGIC);
    wr_u32(buf + 4, h.version);
    wr_u32(buf + 8, h.count);
    buf[12] = (uint8_t)h.sh_degree;
    buf[13] = (uint8_t)h.fractional_bits;
    buf[14] = (uint8_t)h.flags;
    buf[15] = 0;
    uint8_t *arrays[6], *at = buf + 16;
    for (int i = 0; i < 6; i++) {
        arrays[i] = at;
        at += sizes[i];
    }
    spz_pack(p, version, h.fractional_bits, arrays);

    cs_outfile of;
    cs_status st = cs__outfile_open(ctx, path, &of);
    if (st != CS_OK) {
        cs__free(buf);
        return st;
    }
    if (version <= 3) {
        st = write_gzip(ctx, &of, buf, total);
    } else {
        zstd_job job;
        memset(&job, 0, sizeof job);
        int ns = 0;
        for (int i = 0; i < 6 && st == CS_OK; i++) {
            if (sizes[i] == 0) continue;
            job.src[ns] = arrays[i];
            job.src_len[ns] = sizes[i];
            job.dst_cap[ns] = ZSTD_compressBound(sizes[i]);
            job.dst[ns] = cs__malloc(job.dst_cap[ns]);
            if (!job.dst[ns]) st = cs__alloc_error(ctx, path, job.dst_cap[ns]);
            ns++;
        }
        if (st == CS_OK) cs__parallel_for(ctx, ns, 1, zstd_task, &job);
        for (int i = 0; i < ns && st == CS_OK; i++)
            if (ZSTD_isError(job.dst_len[i]))
                st = cs__error(ctx, CS_ERR_IO, "%s: zstd: %s", path,
                               ZSTD_getErrorName(job.dst_len[i]));
        if (st == CS_OK) {
            uint8_t hdr[32 + 16 * 6];
            memset(hdr, 0, sizeof hdr);
            memcpy(hdr, buf, 15);
            hdr[15] = (uint8_t)ns;
            wr_u32(hdr + 16, 32);
            for (int i = 0; i < ns; i++) {
                wr_u64(hdr + 32 + 16 * i, job.dst_len[i]);
                wr_u64(hdr + 40 + 16 * i, job.src_len[i]);
            }
            st = cs__outfile_write(ctx, &of, hdr, 32 + 16 * (size_t)ns);
            for (int i = 0; i < ns && st == CS_OK; i++)
                st = cs__outfile_write(ctx, &of, job.dst[i], job.dst_len[i]);
        }
        for (int i = 0; i < ns; i++) cs__free(job.dst[i]);
    }
    cs__free(buf);
    if (st != CS_OK) {
        cs__outfile_abort(&of);
        return st;
    }
    return cs__outfile_commit(ctx, &of);
}

static cs_status spz_save(cs_context *ctx, const cs_scene *scene, const char *path) {
    return cs_scene_save_spz(ctx, scene, path, NULL);
}

cs_status cs__spz_probe(cs_context *ctx, const char *name, const uint8_t *data, size_t len,
                        cs_scene_file_info *info) {
    uint8_t hdr[16];
    const char *container = "plain";
    if (len >= 2 && data[0] == 0x1f && data[1] == 0x8b) {
        z_stream zs;
        memset(&zs, 0, sizeof zs);
        if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
            return cs__error(ctx, CS_ERR_NOMEM, "%s: cannot start gzip decompression", name);
        zs.next_in = (Bytef *)(uintptr_t)data;
        zs.avail_in = (uInt)(len > (1u << 30) ? (1u << 30) : len);
        zs.next_out = hdr;
        zs.avail_out = sizeof hdr;
        int zr = Z_OK;
        while (zs.avail_out > 0 && zr == Z_OK) zr = inflate(&zs, Z_NO_FLUSH);
        bool ok = zs.avail_out == 0;
        inflateEnd(&zs);
        if (!ok) return cs__error(ctx, CS_ERR_FORMAT, "%s: SPZ gzip header unreadable", name);
        container = "gzip";
    } else if (len >= 16) {
        memcpy(hdr, data, 16);
        if (cs__rd_u32le(hdr + 4) == 4) container = "zstd streams";
    } else {
        return cs__error(ctx, CS_ERR_FORMAT, "%s: SPZ header truncated", name);
    }
    if (cs__rd_u32le(hdr) != SPZ_MAGIC)
        return cs__error(ctx, CS_ERR_FORMAT, "%s: not an SPZ file (bad magic)", name);
    info->version = (int)cs__rd_u32le(hdr + 4);
    info->count = cs__rd_u32le(hdr + 8);
    info->sh_degree = hdr[12];
    snprintf(info->detail, sizeof info->detail, "%s, %d fractional bits%s%s", container, hdr[13],
             hdr[14] & SPZ_FLAG_ANTIALIASED ? ", antialiased" : "",
             hdr[14] & SPZ_FLAG_EXTENSIONS ? ", extensions" : "");
    return CS_OK;
}

const cs_scene_codec cs__codec_spz = {
    .format = CS_FORMAT_SPZ,
    .detect = spz_detect,
    .parse = spz_parse,
    .save = spz_save,
};
