/*
 * render_fixture.h - what the renderer tests share: cameras that look at a point, seeded random
 * scenes built in view space (so their mix of near-plane, off-screen, tiny, huge, anisotropic and
 * transparent Gaussians is controlled), the garden scene from ../shared/data, images, and error
 * measures against the float64 reference.
 */
#ifndef CSPLAT_RENDER_FIXTURE_H
#define CSPLAT_RENDER_FIXTURE_H

#include "csplat.h"
#include "test.h"

/* A pinhole camera at eye looking at target, world up +z (OpenCV axes: x right, y down). cx, cy
 * are the image centre moved by (dcx, dcy) pixels. */
cs_camera fixture_camera(int width, int height, float focal, const float eye[3],
                         const float target[3], float dcx, float dcy);

/* n Gaussians of SH degree `degree` seen by cam: most in front of it and in view, some behind
 * the near plane, some off-screen; scales from sub-pixel to larger than the view; random
 * (unnormalised) quaternions, opacities across (0, 1) and SH. */
cs_scene *fixture_random_scene(cs_context *ctx, const cs_camera *cam, int64_t n, int degree,
                               unsigned long long seed);

/* The garden points (138,766 of them, ../shared/data/gsplat_test_garden) as a degree-3 scene:
 * DC from the point colours, seeded random rest coefficients, log-uniform anisotropic scales of
 * 3..20 mm (a few pixels each in its 648x420 views), random rotations and opacities; and its 3
 * cameras. NULL with the reason in why when the data is absent or unreadable. */
cs_scene *fixture_garden(cs_context *ctx, cs_camera cams[3], char *why, size_t why_len);

/* Images owned by the test (free with fixture_image_free). */
cs_image fixture_image(int width, int height, int channels);
void fixture_image_free(cs_image *im);

typedef struct fixture_diff {
    double mae;        /* mean absolute error over all values */
    double max;        /* largest absolute error */
    int64_t over;      /* pixels with a value off by more than 1/255 */
    double over_frac;  /* over / pixels */
} fixture_diff;

/* Compare a float image with a double one of the same shape [pixels, channels]. */
fixture_diff fixture_compare(const float *a, const double *b, int64_t pixels, int channels);
/* Compare two float images. */
fixture_diff fixture_compare_f(const float *a, const float *b, int64_t pixels, int channels);

#endif
