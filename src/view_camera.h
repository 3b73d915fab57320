/*
 * view_camera.h - the interactive viewer's camera controller (src/view_camera.c): orbit about a
 * pivot, pan, zoom, fly, snap to a dataset camera. Pure math with no window-system dependency, so
 * the test binary checks it directly; `csplat view` (tools/cmd_view.c) drives it from SDL input.
 *
 * State: a pose (world-to-camera R in OpenCV axes, camera centre `eye`) and a pivot `dist` along
 * the view axis (pivot = eye + dist * forward), a world `up` for turntable yaw, the focal length
 * as a fraction of the image height (so resizing the window keeps the vertical field of view),
 * and the scene radius that scales fly speed and the closest zoom.
 */
#ifndef CSPLAT_VIEW_CAMERA_H
#define CSPLAT_VIEW_CAMERA_H

#include "csplat.h"

typedef struct cs__view {
    float R[9];   /* world-to-camera rotation, rows right, down, forward (world coordinates) */
    float eye[3]; /* camera centre, world */
    float dist;   /* distance from eye to the pivot along forward, > 0 */
    float up[3];  /* unit world up */
    float focal;  /* focal length / image height */
    float radius; /* scene radius (world units) */
} cs__view;

/* Take a camera's pose and vertical field of view (the orbit's first camera for the initial view,
 * a dataset camera when snapping); the pivot goes to the point of the view axis nearest `target`
 * (the scene centre), at least 0.05 radius ahead. up and radius are set by the caller first. */
void cs__view_snap(cs__view *v, const cs_camera *cam, const float target[3]);
/* Turntable rotation about the pivot: yaw radians about world up (positive moves the eye towards
 * the camera's right), then pitch radians about the camera's right axis (positive raises the
 * view direction), clamped so the view direction stays within 85 degrees of horizontal. */
void cs__view_orbit(cs__view *v, float yaw, float pitch);
/* Move eye and pivot in the image plane by (dx, dy) pixels of a `height`-pixel image, so that
 * points at the pivot's depth follow the cursor. */
void cs__view_pan(cs__view *v, float dx, float dy, int height);
/* Move towards the pivot: dist *= factor (factor < 1 zooms in). Below 0.02 radius zooming in
 * moves eye and pivot forward together by (1 - factor) * 0.1 radius instead, so the wheel keeps
 * moving through the scene. */
void cs__view_zoom(cs__view *v, float factor);
/* Fly: move eye and pivot by world distances along the view direction, the camera's right and
 * world up. */
void cs__view_fly(cs__view *v, float forward, float right, float up);
/* The pinhole camera of the view for a width x height image (principal point at the centre). */
cs_camera cs__view_camera(const cs__view *v, int width, int height);

#endif
