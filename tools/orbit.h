/*
 * orbit.h - the turntable path of `csplat render --orbit N`: a circle around the scene's robust
 * centre, perpendicular to an up direction, with cameras looking at the centre.
 */
#ifndef CSPLAT_ORBIT_H
#define CSPLAT_ORBIT_H

#include "csplat.h"

#include <stdbool.h>

typedef struct orbit_path {
    double center[3]; /* median of the Gaussian means, per axis */
    double up[3];     /* unit */
    double a[3], b[3]; /* unit, a x b = up: the circle's plane */
    double radius;    /* of the circle */
    double height;    /* of the circle's plane above the centre, along up */
} orbit_path;

/* Plan the circle. With cameras (may be NULL): up = their mean up (-R's second row), radius and
 * height = the medians of their horizontal distance and height relative to the centre. Without:
 * up = the scene's direction of least spread (the normal of a ground plane for most captures;
 * its sign is a guess), the circle at 2.5 times the 90th-percentile distance of the means from
 * the centre, 20 degrees above the centre. false when the scene has no finite mean or out of
 * memory. */
bool orbit_plan(cs_scene *scene, const cs_camera_set *cams, orbit_path *out);

/* Camera i of n on the path (angle 2 pi i / n), with the intrinsics and size of `lens`. */
cs_camera orbit_camera(const orbit_path *o, int64_t i, int64_t n, const cs_camera *lens);

#endif
