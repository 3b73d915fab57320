/*
 * gmath.h - per-Gaussian math of 3D Gaussian splatting, shared by every backend: quaternion to
 * rotation, 3D covariance from scale and rotation, the EWA projection to a 2D covariance with the
 * reference rasterizer's clamped Jacobian and 0.3 px^2 dilation, its inverse (the conic), the
 * screen radius, the reference tile rectangle, the alpha support ellipse and its pixel box, and
 * the real spherical harmonics basis of degrees 0..3.
 *
 * Everything is static inline, float32, and compiles both as C11 and as CUDA C++ (CS_HD adds
 * __host__ __device__), so the CPU and GPU backends cannot drift apart. The backward pass adds a
 * `_bwd` twin next to each function here; each forward therefore takes its inputs as plain
 * arrays and returns every intermediate the twin needs.
 *
 * Conventions (docs/DESIGN.md): camera space is OpenCV's (x right, y down, z forward); a camera is
 * world-to-camera [R | t] with R row-major; a view point projects to u = fx X/Z + cx, v = fy Y/Z +
 * cy, and pixel (i, j) is sampled at (i + 0.5, j + 0.5). The reference rasterizer works in pixel
 * index coordinates (u - 0.5, v - 0.5) and samples at the integer index; both give the same d.
 * Quaternions are w, x, y, z and normalised here; a zero quaternion gives the identity, as
 * torch's normalize with its epsilon does in the reference.
 *
 * Covariances are stored as their upper triangles: 3D [xx, xy, xz, yy, yz, zz], 2D [xx, xy, yy];
 * a conic [a, b, c] is the symmetric matrix [[a, b], [b, c]].
 *
 * Not here: the per-pixel compositing (raster.c and its SIMD twin), anything with threads or
 * memory, and the options the reference left out (anti-aliasing compensation).
 */
#ifndef CSPLAT_GMATH_H
#define CSPLAT_GMATH_H

#include <math.h>

#ifdef __CUDACC__
#define CS_HD static inline __host__ __device__
#else
#define CS_HD static inline
#endif

/* Near plane of the reference rasterizer (view-space z; in front when z > CS_NEAR_Z). */
#define CS_NEAR_Z 0.2f
/* Added to the 2D covariance's diagonal: a low-pass filter of about one pixel. */
#define CS_COV2D_DILATION 0.3f
/* The Jacobian's x/z and y/z are clamped to +-CS_FRUSTUM_CLAMP * tan(fov / 2). */
#define CS_FRUSTUM_CLAMP 1.3f
/* Tile size of the rasterizer (pixels per side). */
#define CS_TILE 16
/* Per-pixel cut-offs: alpha clamp, smallest alpha drawn, transmittance stop. */
#define CS_ALPHA_MAX 0.99f
#define CS_ALPHA_MIN (1.0f / 255.0f)
#define CS_T_MIN 0.0001f

/* Real SH basis constants as the reference uses them. */
#ifndef CS_SH_C0 /* also in internal.h, which CUDA code does not include */
#define CS_SH_C0 0.28209479177387814f
#endif
#define CS_SH_C1_ 0.4886025119029199f
#define CS_SH_C2_0 1.0925484305920792f
#define CS_SH_C2_1 (-1.0925484305920792f)
#define CS_SH_C2_2 0.31539156525252005f
#define CS_SH_C2_3 (-1.0925484305920792f)
#define CS_SH_C2_4 0.5462742152960396f
#define CS_SH_C3_0 (-0.5900435899266435f)
#define CS_SH_C3_1 2.890611442640554f
#define CS_SH_C3_2 (-0.4570457994644658f)
#define CS_SH_C3_3 0.3731763325901154f
#define CS_SH_C3_4 (-0.4570457994644658f)
#define CS_SH_C3_5 1.445305721320277f
#define CS_SH_C3_6 (-0.5900435899266435f)

/* min, max and ceil without libm calls (at -O2 without SSE4.1, fminf/fmaxf/ceilf are calls).
 * With a NaN argument cs_minf/cs_maxf return the other operand when it is the second, as
 * fminf/fmaxf do; the projection culls non-finite results anyway. */
CS_HD float cs_minf(float a, float b) {
    return a < b ? a : b;
}
CS_HD float cs_maxf(float a, float b) {
    return a > b ? a : b;
}
/* ceil(x) for x >= 0 (values from 2^23 up are integers already). */
CS_HD float cs_ceil_pos(float x) {
    if (!(x < 8388608.0f)) return x;
    float t = (float)(int)x;
    return t < x ? t + 1.0f : t;
}

CS_HD float cs_sigmoid(float x) {
    return 1.0f / (1.0f + expf(-x));
}

/* Rotation matrix (row-major) of the normalised quaternion q = (w, x, y, z). */
CS_HD void cs_quat_to_rot(const float q[4], float R[9]) {
    float n2 = q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3];
    float s = n2 > 0.0f ? 1.0f / sqrtf(n2) : 0.0f;
    float w = q[0] * s, x = q[1] * s, y = q[2] * s, z = q[3] * s;
    R[0] = 1.0f - 2.0f * (y * y + z * z);
    R[1] = 2.0f * (x * y - w * z);
    R[2] = 2.0f * (x * z + w * y);
    R[3] = 2.0f * (x * y + w * z);
    R[4] = 1.0f - 2.0f * (x * x + z * z);
    R[5] = 2.0f * (y * z - w * x);
    R[6] = 2.0f * (x * z - w * y);
    R[7] = 2.0f * (y * z + w * x);
    R[8] = 1.0f - 2.0f * (x * x + y * y);
}

/* World covariance Sigma = R S S^T R^T with S = diag(scale) (scales already exp'd and
 * multiplied by the scale modifier). cov = upper triangle [xx, xy, xz, yy, yz, zz]. */
CS_HD void cs_cov3d(const float scale[3], const float R[9], float cov[6]) {
    float M[9]; /* M = R S: column k of R times scale k */
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 3; k++) M[3 * i + k] = R[3 * i + k] * scale[k];
    cov[0] = M[0] * M[0] + M[1] * M[1] + M[2] * M[2];
    cov[1] = M[0] * M[3] + M[1] * M[4] + M[2] * M[5];
    cov[2] = M[0] * M[6] + M[1] * M[7] + M[2] * M[8];
    cov[3] = M[3] * M[3] + M[4] * M[4] + M[5] * M[5];
    cov[4] = M[3] * M[6] + M[4] * M[7] + M[5] * M[8];
    cov[5] = M[6] * M[6] + M[7] * M[7] + M[8] * M[8];
}

/* View-space position of a world point: R p + t. */
CS_HD void cs_world_to_view(const float R[9], const float t[3], const float p[3], float out[3]) {
    out[0] = R[0] * p[0] + R[1] * p[1] + R[2] * p[2] + t[0];
    out[1] = R[3] * p[0] + R[4] * p[1] + R[5] * p[2] + t[1];
    out[2] = R[6] * p[0] + R[7] * p[1] + R[8] * p[2] + t[2];
}

/* EWA splatting (Zwicker et al. 2002, eqs. 29 and 31) as the reference rasterizer computes it:
 * cov2d = J W Sigma W^T J^T with W the world-to-view rotation and J the Jacobian of the
 * perspective projection at the view point pv, whose x/z and y/z are clamped to +-lim (so that
 * Gaussians far outside the view do not get absurd footprints). No dilation here.
 * T = J W (2x3) is returned for the backward pass. */
CS_HD void cs_ewa_cov2d(const float pv[3], float fx, float fy, float limx, float limy,
                        const float W[9], const float cov3d[6], float T[6], float cov2d[3]) {
    float z = pv[2];
    float txtz = pv[0] / z, tytz = pv[1] / z;
    float tx = cs_minf(limx, cs_maxf(-limx, txtz)) * z;
    float ty = cs_minf(limy, cs_maxf(-limy, tytz)) * z;
    float j00 = fx / z, j02 = -(fx * tx) / (z * z);
    float j11 = fy / z, j12 = -(fy * ty) / (z * z);
    for (int k = 0; k < 3; k++) {
        T[k] = j00 * W[k] + j02 * W[6 + k];
        T[3 + k] = j11 * W[3 + k] + j12 * W[6 + k];
    }
    const float *S = cov3d;
    /* U = T Sigma (2x3), then cov2d = U T^T */
    float u[6];
    for (int r = 0; r < 2; r++) {
        const float *t = T + 3 * r;
        u[3 * r + 0] = t[0] * S[0] + t[1] * S[1] + t[2] * S[2];
        u[3 * r + 1] = t[0] * S[1] + t[1] * S[3] + t[2] * S[4];
        u[3 * r + 2] = t[0] * S[2] + t[1] * S[4] + t[2] * S[5];
    }
    cov2d[0] = u[0] * T[0] + u[1] * T[1] + u[2] * T[2];
    cov2d[1] = u[0] * T[3] + u[1] * T[4] + u[2] * T[5];
    cov2d[2] = u[3] * T[3] + u[4] * T[4] + u[5] * T[5];
}

/* Dilate cov2d by CS_COV2D_DILATION and invert it. Returns 0 (culled) when the determinant is
 * exactly zero, as the reference does; otherwise writes the conic and the screen radius
 * ceil(3 sqrt(lambda_max)) with lambda_max = mid + sqrt(max(0.1, mid^2 - det)). */
CS_HD int cs_conic_radius(const float cov2d[3], float conic[3], float *radius) {
    float a = cov2d[0] + CS_COV2D_DILATION, b = cov2d[1], c = cov2d[2] + CS_COV2D_DILATION;
    float det = a * c - b * b;
    if (det == 0.0f) return 0;
    float inv = 1.0f / det;
    conic[0] = c * inv;
    conic[1] = -b * inv;
    conic[2] = a * inv;
    float mid = 0.5f * (a + c);
    float lambda = mid + sqrtf(cs_maxf(0.1f, mid * mid - det));
    *radius = cs_ceil_pos(3.0f * sqrtf(lambda));
    return 1;
}

/* The reference's tile rectangle [x0, x1) x [y0, y1) of a Gaussian at mean2D (u, v) (DESIGN
 * convention) with screen radius r, on a grid of tiles_x x tiles_y tiles. The reference computes
 * it in pixel-index coordinates p = u - 0.5 as x0 = (int)((p - r) / 16), x1 = (int)((p + r + 15) /
 * 16), each clamped to [0, grid]. Clamping first and truncating after gives the same integers
 * (truncation is floor on [0, grid], and values below 0 clamp to 0 either way) and keeps huge
 * values from overflowing the conversion. */
CS_HD int cs_tile_index(float v, int grid) {
    return (int)cs_minf((float)grid, cs_maxf(0.0f, v));
}

CS_HD void cs_tile_rect(float u, float v, float r, int tiles_x, int tiles_y, int rect[4]) {
    float px = u - 0.5f, py = v - 0.5f, ts = (float)CS_TILE;
    rect[0] = cs_tile_index((px - r) / ts, tiles_x);
    rect[1] = cs_tile_index((px + r + ts - 1.0f) / ts, tiles_x);
    rect[2] = cs_tile_index((py - r) / ts, tiles_y);
    rect[3] = cs_tile_index((py + r + ts - 1.0f) / ts, tiles_y);
}

/* The squared Mahalanobis distance d^T conic d up to which a Gaussian of opacity o can reach
 * alpha >= 1/255: o exp(-q/2) >= 1/255 <=> q <= 2 ln(255 o). A margin (absolute 1e-3, i.e. a
 * relative alpha slack of 5e-4) covers float rounding of q in the rasterizer, so clipping to this
 * ellipse never drops a pixel the compositing rule would draw. Negative: the Gaussian can draw
 * nothing (o < 1/255). */
CS_HD float cs_alpha_support(float opacity) {
    return 2.0f * logf(255.0f * opacity) + 1e-3f;
}

/* Slack (px) added to every bound of a support box: rounding can only add pixels. */
#define CS_SUPPORT_SLACK 0.01

/* Pixels [*i0, *i1] of [0, n) whose centres i + 0.5 lie in [lo, hi] widened by the slack;
 * false when none. ceil/floor by hand (libm calls without SSE4.1); NaN gives false. */
CS_HD int cs_pixel_range(double lo, double hi, int n, int *i0, int *i1) {
    lo -= 0.5 + CS_SUPPORT_SLACK;
    hi -= 0.5 - CS_SUPPORT_SLACK;
    if (!(hi >= 0) || !(lo <= n - 1)) return 0;
    int a = 0, b = n - 1;
    if (lo > 0) {
        a = (int)lo;
        a += a < lo;
    }
    if (hi < n - 1) b = (int)hi;
    *i0 = a;
    *i1 = b;
    return a <= b;
}

/* The support box of a projected splat: the pixels whose centres lie in the bounding box of its
 * ellipse d^T conic d <= support (cs_alpha_support), as box = [i0, i1] x [j0, j1], and rect (the
 * reference tile rectangle [x0, x1) x [y0, y1) on input) narrowed to the tiles holding them.
 * Returns 0 when no pixel can be drawn (then box and rect are left alone). Half extents are
 * sqrt(c support / det) and sqrt(a support / det), computed in double from the float conic
 * (whose own ellipse the rasterizer evaluates: an ill-conditioned conic's determinant loses
 * digits in float). A conic that is not positive definite after rounding keeps the whole
 * rectangle, and the compositing rule decides per pixel. */
CS_HD int cs_support_box(float x, float y, const float conic[3], float support, int width,
                         int height, int rect[4], int box[4]) {
    double k = (double)support, a = (double)conic[0], b = (double)conic[1];
    double c = (double)conic[2], det = a * c - b * b;
    int i0, i1, j0, j1;
    if (!(k > 0)) return 0;
    if (!(a > 0 && c > 0 && det > 0)) {
        i0 = rect[0] * CS_TILE;
        i1 = rect[1] * CS_TILE - 1 < width - 1 ? rect[1] * CS_TILE - 1 : width - 1;
        j0 = rect[2] * CS_TILE;
        j1 = rect[3] * CS_TILE - 1 < height - 1 ? rect[3] * CS_TILE - 1 : height - 1;
    } else {
        double r = k / det, ex = sqrt(c * r), ey = sqrt(a * r), u = (double)x, v = (double)y;
        if (!cs_pixel_range(u - ex, u + ex, width, &i0, &i1) ||
            !cs_pixel_range(v - ey, v + ey, height, &j0, &j1))
            return 0;
    }
    int tx0 = i0 / CS_TILE > rect[0] ? i0 / CS_TILE : rect[0];
    int tx1 = i1 / CS_TILE + 1 < rect[1] ? i1 / CS_TILE + 1 : rect[1];
    int ty0 = j0 / CS_TILE > rect[2] ? j0 / CS_TILE : rect[2];
    int ty1 = j1 / CS_TILE + 1 < rect[3] ? j1 / CS_TILE + 1 : rect[3];
    if (tx0 >= tx1 || ty0 >= ty1) return 0;
    box[0] = i0;
    box[1] = i1;
    box[2] = j0;
    box[3] = j1;
    rect[0] = tx0;
    rect[1] = tx1;
    rect[2] = ty0;
    rect[3] = ty1;
    return 1;
}

/* Number of SH coefficients per channel of degree d. */
CS_HD int cs_sh_coeffs(int degree) {
    return (degree + 1) * (degree + 1);
}

/* Real SH basis of degrees 0..degree at the unit direction (x, y, z), in the reference's order
 * and signs; writes cs_sh_coeffs(degree) values. */
CS_HD void cs_sh_basis(int degree, float x, float y, float z, float *b) {
    b[0] = CS_SH_C0;
    if (degree < 1) return;
    b[1] = -CS_SH_C1_ * y;
    b[2] = CS_SH_C1_ * z;
    b[3] = -CS_SH_C1_ * x;
    if (degree < 2) return;
    float xx = x * x, yy = y * y, zz = z * z, xy = x * y, yz = y * z, xz = x * z;
    b[4] = CS_SH_C2_0 * xy;
    b[5] = CS_SH_C2_1 * yz;
    b[6] = CS_SH_C2_2 * (2.0f * zz - xx - yy);
    b[7] = CS_SH_C2_3 * xz;
    b[8] = CS_SH_C2_4 * (xx - yy);
    if (degree < 3) return;
    b[9] = CS_SH_C3_0 * y * (3.0f * xx - yy);
    b[10] = CS_SH_C3_1 * xy * z;
    b[11] = CS_SH_C3_2 * y * (4.0f * zz - xx - yy);
    b[12] = CS_SH_C3_3 * z * (2.0f * zz - 3.0f * xx - 3.0f * yy);
    b[13] = CS_SH_C3_4 * x * (4.0f * zz - xx - yy);
    b[14] = CS_SH_C3_5 * z * (xx - yy);
    b[15] = CS_SH_C3_6 * x * (xx - 3.0f * yy);
}

/* rgb = max(0, sum_k basis_k sh[k] + 0.5) for the SH coefficients sh [K, 3] (RGB interleaved)
 * of degree `degree` at direction dir, normalised here. A zero dir (the camera centre on the
 * mean; the reference divides 0 by 0 there) leaves only degree 0, instead of NaN. */
CS_HD void cs_sh_color(int degree, const float dir[3], const float *sh, float rgb[3]) {
    float n2 = dir[0] * dir[0] + dir[1] * dir[1] + dir[2] * dir[2];
    float s = n2 > 0.0f ? 1.0f / sqrtf(n2) : 0.0f;
    float b[16];
    cs_sh_basis(degree, dir[0] * s, dir[1] * s, dir[2] * s, b);
    int k_n = cs_sh_coeffs(degree);
    for (int ch = 0; ch < 3; ch++) {
        float acc = 0.0f;
        for (int k = 0; k < k_n; k++) acc += b[k] * sh[3 * k + ch];
        rgb[ch] = cs_maxf(acc + 0.5f, 0.0f);
    }
}

#endif /* CSPLAT_GMATH_H */
