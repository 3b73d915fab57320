/*
 * gmath_bwd.h - the backward twins of gmath.h: for each per-Gaussian forward function f there,
 * f_bwd here is its exact vector-Jacobian product. Given the forward's inputs and dL/d(outputs),
 * it ADDS dL/d(inputs) into the caller's gradient arrays (so chains and several uses of one input
 * accumulate; callers zero their locals first). Camera quantities (fx, fy, W, limits) are
 * constants and get no gradient.
 *
 * "Exact" means the derivative of the float forward as written, piecewise:
 * - cs_quat_to_rot normalises q; the gradient is w.r.t. the stored, unnormalised q:
 *   dq = (dq^ - q^ (q^ . dq^)) / |q|. A zero q gives the constant identity: no gradient.
 * - Stored symmetric matrices (3D covariance [xx, xy, xz, yy, yz, zz], 2D covariance [xx, xy, yy],
 *   conic [a, b, c]) keep each off-diagonal entry once; their gradients are w.r.t. that stored
 *   value, which stands for both matrix entries. Internally the full symmetric gradient matrix
 *   has half the stored off-diagonal gradient in each of its two entries.
 * - The EWA Jacobian's clamp: tx = clamp(x/z, +-limx) z. Inside the clamp tx = x, so dtx/dx = 1,
 *   dtx/dz = 0; clamped, tx = +-limx z, so dtx/dx = 0 and dtx/dz = +-limx. The reference
 *   backward.cu zeroes the x part likewise but keeps treating tx as a constant in d/dz of
 *   -fx tx / z^2; this is the derivative of the forward that is actually computed.
 * - The 0.3 px^2 dilation is additive: it passes gradients through unchanged. The radius and the
 *   tile rectangle are discrete: no gradient.
 * - SH colour: rgb = max(0, SH(dir^) + 0.5): zero gradient on a channel the forward clamped,
 *   read from its output (rgb == 0; the reference tests SH + 0.5 < 0, which differs only where
 *   SH + 0.5 is exactly 0, and using the output follows whichever kernel, scalar or SIMD,
 *   computed it); dir^ = dir / |dir|, and
 *   the gradient flows through the normalisation to dir (the mean), as the reference's
 *   computeColorFromSH backward does. A zero dir (only degree 0 is seen) gets none.
 *
 * Like gmath.h: static inline, float32, C11 and CUDA C++ (CS_HD). The per-pixel compositing
 * backward is in raster_bwd.c; the per-Gaussian chains that call these are project_bwd.c and
 * sh_bwd.c.
 */
#ifndef CSPLAT_GMATH_BWD_H
#define CSPLAT_GMATH_BWD_H

#include "gmath.h"

/* d_x += dL/dx for sigmoid: y = 1 / (1 + e^-x), dy/dx = y (1 - y); takes y, the forward output. */
CS_HD float cs_sigmoid_bwd(float y, float d_y) {
    return d_y * y * (1.0f - y);
}

/* cs_quat_to_rot: d_q += dL/dq from d_R = dL/dR (row-major). */
CS_HD void cs_quat_to_rot_bwd(const float q[4], const float d_R[9], float d_q[4]) {
    float n2 = q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3];
    if (!(n2 > 0.0f)) return; /* the identity: constant */
    float s = 1.0f / sqrtf(n2);
    float w = q[0] * s, x = q[1] * s, y = q[2] * s, z = q[3] * s;
    const float *g = d_R;
    /* dL/d(normalised w, x, y, z), from the nine entries of cs_quat_to_rot. */
    float gw = 2.0f * (-z * g[1] + y * g[2] + z * g[3] - x * g[5] - y * g[6] + x * g[7]);
    float gx = 2.0f * (y * g[1] + z * g[2] + y * g[3] - 2.0f * x * g[4] - w * g[5] + z * g[6] +
                       w * g[7] - 2.0f * x * g[8]);
    float gy = 2.0f * (-2.0f * y * g[0] + x * g[1] + w * g[2] + x * g[3] + z * g[5] - w * g[6] +
                       z * g[7] - 2.0f * y * g[8]);
    float gz = 2.0f * (-2.0f * z * g[0] - w * g[1] + x * g[2] + w * g[3] - 2.0f * z * g[4] +
                       y * g[5] + x * g[6] + y * g[7]);
    /* Through the normalisation: the Jacobian of q / |q| is (I - q^ q^T) / |q|. */
    float dot = w * gw + x * gx + y * gy + z * gz;
    d_q[0] += s * (gw - w * dot);
    d_q[1] += s * (gx - x * dot);
    d_q[2] += s * (gy - y * dot);
    d_q[3] += s * (gz - z * dot);
}

/* cs_cov3d: Sigma = M M^T with M = R diag(scale). d_cov is dL/d(stored upper triangle);
 * d_scale += dL/dscale, d_R += dL/dR. With G the full symmetric gradient of Sigma,
 * dL/dM = (G + G^T) M = 2 G M. */
CS_HD void cs_cov3d_bwd(const float scale[3], const float R[9], const float d_cov[6],
                        float d_scale[3], float d_R[9]) {
    /* clang-format off */
    float G[9] = {d_cov[0],        0.5f * d_cov[1], 0.5f * d_cov[2],
                  0.5f * d_cov[1], d_cov[3],        0.5f * d_cov[4],
                  0.5f * d_cov[2], 0.5f * d_cov[4], d_cov[5]};
    /* clang-format on */
    float M[9];
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 3; k++) M[3 * i + k] = R[3 * i + k] * scale[k];
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 3; k++) {
            float dm = 2.0f * (G[3 * i] * M[k] + G[3 * i + 1] * M[3 + k] + G[3 * i + 2] * M[6 + k]);
            d_R[3 * i + k] += dm * scale[k];
            d_scale[k] += dm * R[3 * i + k];
        }
}

/* cs_world_to_view: d_p += R^T d_out (t gets no gradient: it is the camera's). */
CS_HD void cs_world_to_view_bwd(const float R[9], const float d_out[3], float d_p[3]) {
    for (int k = 0; k < 3; k++)
        d_p[k] += R[k] * d_out[0] + R[3 + k] * d_out[1] + R[6 + k] * d_out[2];
}

/* cs_ewa_cov2d: d_cov2d = dL/d(stored [xx, xy, yy]) -> d_pv += dL/dpv (through the clamped
 * Jacobian), d_cov3d += dL/d(stored Sigma). With G2 the full symmetric gradient of cov2d =
 * T Sigma T^T: dL/dSigma = T^T G2 T and dL/dT = 2 G2 T Sigma; then T = J W gives dL/dJ. */
CS_HD void cs_ewa_cov2d_bwd(const float pv[3], float fx, float fy, float limx, float limy,
                            const float W[9], const float cov3d[6], const float d_cov2d[3],
                            float d_pv[3], float d_cov3d[6]) {
    /* The forward's intermediates, recomputed with its expressions. */
    float z = pv[2];
    float txtz = pv[0] / z, tytz = pv[1] / z;
    float cx_ = cs_minf(limx, cs_maxf(-limx, txtz)), cy_ = cs_minf(limy, cs_maxf(-limy, tytz));
    float tx = cx_ * z, ty = cy_ * z;
    float j00 = fx / z, j02 = -(fx * tx) / (z * z);
    float j11 = fy / z, j12 = -(fy * ty) / (z * z);
    float T[6];
    for (int k = 0; k < 3; k++) {
        T[k] = j00 * W[k] + j02 * W[6 + k];
        T[3 + k] = j11 * W[3 + k] + j12 * W[6 + k];
    }
    const float *S = cov3d;
    float Sf[9] = {S[0], S[1], S[2], S[1], S[3], S[4], S[2], S[4], S[5]};
    float g00 = d_cov2d[0], g01 = 0.5f * d_cov2d[1], g11 = d_cov2d[2];

    /* dL/dSigma (full) = T^T G2 T; stored off-diagonals get both entries. */
    float gt[6]; /* G2 T, 2x3 */
    for (int k = 0; k < 3; k++) {
        gt[k] = g00 * T[k] + g01 * T[3 + k];
        gt[3 + k] = g01 * T[k] + g11 * T[3 + k];
    }
    float ds[9];
    for (int p = 0; p < 3; p++)
        for (int q = 0; q < 3; q++) ds[3 * p + q] = T[p] * gt[q] + T[3 + p] * gt[3 + q];
    d_cov3d[0] += ds[0];
    d_cov3d[1] += ds[1] + ds[3];
    d_cov3d[2] += ds[2] + ds[6];
    d_cov3d[3] += ds[4];
    d_cov3d[4] += ds[5] + ds[7];
    d_cov3d[5] += ds[8];

    /* dL/dT = 2 G2 T Sigma = 2 gt Sigma. */
    float dT[6];
    for (int r = 0; r < 2; r++)
        for (int k = 0; k < 3; k++)
            dT[3 * r + k] =
                2.0f * (gt[3 * r] * Sf[k] + gt[3 * r + 1] * Sf[3 + k] + gt[3 * r + 2] * Sf[6 + k]);
    /* T row 0 = j00 W0 + j02 W2, row 1 = j11 W1 + j12 W2 (W rows). */
    float dj00 = 0.0f, dj02 = 0.0f, dj11 = 0.0f, dj12 = 0.0f;
    for (int k = 0; k < 3; k++) {
        dj00 += dT[k] * W[k];
        dj02 += dT[k] * W[6 + k];
        dj11 += dT[3 + k] * W[3 + k];
        dj12 += dT[3 + k] * W[6 + k];
    }
    float iz = 1.0f / z, iz2 = iz * iz;
    /* j00 = fx / z, j02 = -fx tx / z^2 (and the y twins). */
    float dz = -fx * iz2 * dj00 - fy * iz2 * dj11 + 2.0f * fx * tx * iz2 * iz * dj02 +
               2.0f * fy * ty * iz2 * iz * dj12;
    float dtx = -fx * iz2 * dj02, dty = -fy * iz2 * dj12;
    /* tx = clamp(x / z) z: x itself inside the clamp, +-limx z outside. */
    if (txtz < -limx || txtz > limx)
        dz += cx_ * dtx;
    else
        d_pv[0] += dtx;
    if (tytz < -limy || tytz > limy)
        dz += cy_ * dty;
    else
        d_pv[1] += dty;
    d_pv[2] += dz;
}

/* The conic of cs_conic_radius: conic = (cov2d + 0.3 I)^-1. d_conic = dL/d(stored [a, b, c]) ->
 * d_cov2d += dL/d(stored [xx, xy, yy]) of the undilated input. For a symmetric A with inverse
 * C, dL/dA = -C Gc C, Gc the full symmetric gradient of C. Not defined where det == 0 (culled). */
CS_HD void cs_conic_bwd(const float cov2d[3], const float d_conic[3], float d_cov2d[3]) {
    float a = cov2d[0] + CS_COV2D_DILATION, b = cov2d[1], c = cov2d[2] + CS_COV2D_DILATION;
    float inv = 1.0f / (a * c - b * b);
    float p = c * inv, q = -b * inv, r = a * inv; /* C = [[p, q], [q, r]] */
    float g0 = d_conic[0], h = 0.5f * d_conic[1], g2 = d_conic[2];
    d_cov2d[0] -= p * p * g0 + 2.0f * p * q * h + q * q * g2;
    d_cov2d[1] -= 2.0f * (p * q * g0 + (p * r + q * q) * h + q * r * g2);
    d_cov2d[2] -= q * q * g0 + 2.0f * q * r * h + r * r * g2;
}

/* The screen position u = fx x / z + cx, v = fy y / z + cy: d_pv += dL/dpv from d_uv. */
CS_HD void cs_project_point_bwd(const float pv[3], float fx, float fy, const float d_uv[2],
                                float d_pv[3]) {
    float iz = 1.0f / pv[2];
    float du = d_uv[0] * fx * iz, dv = d_uv[1] * fy * iz;
    d_pv[0] += du;
    d_pv[1] += dv;
    d_pv[2] -= (du * pv[0] + dv * pv[1]) * iz;
}

/* cs_sh_basis: d_xyz += dL/d(x, y, z) from d_b = dL/d(basis) (cs_sh_coeffs(degree) values). */
CS_HD void cs_sh_basis_bwd(int degree, float x, float y, float z, const float *d_b,
                           float d_xyz[3]) {
    if (degree < 1) return;
    float gx = -CS_SH_C1_ * d_b[3], gy = -CS_SH_C1_ * d_b[1], gz = CS_SH_C1_ * d_b[2];
    if (degree >= 2) {
        gx += CS_SH_C2_0 * y * d_b[4] - 2.0f * CS_SH_C2_2 * x * d_b[6] + CS_SH_C2_3 * z * d_b[7] +
              2.0f * CS_SH_C2_4 * x * d_b[8];
        gy += CS_SH_C2_0 * x * d_b[4] + CS_SH_C2_1 * z * d_b[5] - 2.0f * CS_SH_C2_2 * y * d_b[6] -
              2.0f * CS_SH_C2_4 * y * d_b[8];
        gz += CS_SH_C2_1 * y * d_b[5] + 4.0f * CS_SH_C2_2 * z * d_b[6] + CS_SH_C2_3 * x * d_b[7];
    }
    if (degree >= 3) {
        float xx = x * x, yy = y * y, zz = z * z;
        gx += CS_SH_C3_0 * 6.0f * x * y * d_b[9] + CS_SH_C3_1 * y * z * d_b[10] +
              CS_SH_C3_2 * (-2.0f * x * y) * d_b[11] + CS_SH_C3_3 * (-6.0f * x * z) * d_b[12] +
              CS_SH_C3_4 * (4.0f * zz - 3.0f * xx - yy) * d_b[13] +
              CS_SH_C3_5 * 2.0f * x * z * d_b[14] + CS_SH_C3_6 * 3.0f * (xx - yy) * d_b[15];
        gy += CS_SH_C3_0 * 3.0f * (xx - yy) * d_b[9] + CS_SH_C3_1 * x * z * d_b[10] +
              CS_SH_C3_2 * (4.0f * zz - xx - 3.0f * yy) * d_b[11] +
              CS_SH_C3_3 * (-6.0f * y * z) * d_b[12] + CS_SH_C3_4 * (-2.0f * x * y) * d_b[13] -
              CS_SH_C3_5 * 2.0f * y * z * d_b[14] + CS_SH_C3_6 * (-6.0f * x * y) * d_b[15];
        gz += CS_SH_C3_1 * x * y * d_b[10] + CS_SH_C3_2 * 8.0f * y * z * d_b[11] +
              CS_SH_C3_3 * (6.0f * zz - 3.0f * xx - 3.0f * yy) * d_b[12] +
              CS_SH_C3_4 * 8.0f * x * z * d_b[13] + CS_SH_C3_5 * (xx - yy) * d_b[14];
    }
    d_xyz[0] += gx;
    d_xyz[1] += gy;
    d_xyz[2] += gz;
}

/* cs_sh_color: rgb = its output, d_rgb = dL/drgb -> d_sh += dL/dsh ([K, 3], only the first
 * cs_sh_coeffs(degree) rows are touched), d_dir += dL/ddir (through the normalisation). */
CS_HD void cs_sh_color_bwd(int degree, const float dir[3], const float *sh, const float rgb[3],
                           const float d_rgb[3], float *d_sh, float d_dir[3]) {
    float n2 = dir[0] * dir[0] + dir[1] * dir[1] + dir[2] * dir[2];
    float s = n2 > 0.0f ? 1.0f / sqrtf(n2) : 0.0f;
    float x = dir[0] * s, y = dir[1] * s, z = dir[2] * s;
    float b[16];
    cs_sh_basis(degree, x, y, z, b);
    int k_n = cs_sh_coeffs(degree);
    float d_acc[3];
    for (int ch = 0; ch < 3; ch++) d_acc[ch] = rgb[ch] == 0.0f ? 0.0f : d_rgb[ch];
    float d_b[16];
    for (int k = 0; k < k_n; k++) {
        for (int ch = 0; ch < 3; ch++) d_sh[3 * k + ch] += b[k] * d_acc[ch];
        d_b[k] = sh[3 * k] * d_acc[0] + sh[3 * k + 1] * d_acc[1] + sh[3 * k + 2] * d_acc[2];
    }
    if (degree < 1 || s == 0.0f) return;
    float g[3] = {0.0f, 0.0f, 0.0f};
    cs_sh_basis_bwd(degree, x, y, z, d_b, g);
    /* dir^ = dir / |dir|: Jacobian (I - dir^ dir^T) / |dir|. */
    float dot = x * g[0] + y * g[1] + z * g[2];
    d_dir[0] += s * (g[0] - x * dot);
    d_dir[1] += s * (g[1] - y * dot);
    d_dir[2] += s * (g[2] - z * dot);
}

#endif /* CSPLAT_GMATH_BWD_H */
