/*
 * view_camera.c - the viewer's camera controller: turntable orbit about a pivot, pan, zoom, fly,
 * snap to a dataset camera (see view_camera.h for the state).
 *
 * Rotations act on the camera-to-world frame C = R^T (columns right, down, forward): a world
 * rotation Q about the pivot p maps eye to p + Q (eye - p) and C to Q C, so R becomes R Q^T.
 * Yaw turns about world up, which keeps the horizon level for level cameras and keeps the roll of
 * a snapped dataset camera instead of snapping it away. Pitch turns about the camera's own right
 * axis; the clamp keeps forward off the poles, where yaw about up would spin the image.
 *
 * Conventions: OpenCV axes (x right, y down, z forward), R row-major world-to-camera. Rodrigues'
 * formula builds Q. Rows of R are re-orthonormalised after every rotation so thousands of small
 * drags cannot accumulate drift.
 *
 * Not done: no inertia or smoothing (the viewer applies input as it comes); no roll control.
 */
#include "view_camera.h"

#include <math.h>
#include <string.h>

#define VIEW_MAX_ELEVATION (85.0f * 3.14159265f / 180.0f)

static float dot3(const float *a, const float *b) {
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

static void cross3(const float *a, const float *b, float *out) {
    float x = a[1] * b[2] - a[2] * b[1], y = a[2] * b[0] - a[0] * b[2],
          z = a[0] * b[1] - a[1] * b[0];
    out[0] = x;
    out[1] = y;
    out[2] = z;
}

static void normalize3(float *v) {
    float len = sqrtf(dot3(v, v));
    for (int i = 0; i < 3; i++) v[i] /= len;
}

/* Rotation matrix (row-major) of `angle` radians about the unit axis (Rodrigues). */
static void axis_angle(const float axis[3], float angle, float Q[9]) {
    float c = cosf(angle), s = sinf(angle), k = 1.0f - c;
    float x = axis[0], y = axis[1], z = axis[2];
    float m[9] = {c + k * x * x,     k * x * y - s * z, k * x * z + s * y,
                  k * y * x + s * z, c + k * y * y,     k * y * z - s * x,
                  k * z * x - s * y, k * z * y + s * x, c + k * z * z};
    memcpy(Q, m, sizeof m);
}

static void mat_vec(const float M[9], const float v[3], float out[3]) {
    float r[3];
    for (int i = 0; i < 3; i++) r[i] = M[3 * i] * v[0] + M[3 * i + 1] * v[1] + M[3 * i + 2] * v[2];
    memcpy(out, r, sizeof r);
}

/* Gram-Schmidt on the rows, keeping forward exact and the frame right-handed. */
static void orthonormalize(float R[9]) {
    float *right = R, *down = R + 3, *fwd = R + 6;
    normalize3(fwd);
    cross3(fwd, right, down); /* down = forward x right */
    normalize3(down);
    cross3(down, fwd, right); /* right = down x forward */
}

/* Rotate the view by Q about the pivot. */
static void rotate_about_pivot(cs__view *v, const float Q[9]) {
    float pivot[3], off[3];
    for (int a = 0; a < 3; a++) {
        pivot[a] = v->eye[a] + v->dist * v->R[6 + a];
        off[a] = v->eye[a] - pivot[a];
    }
    mat_vec(Q, off, off);
    for (int a = 0; a < 3; a++) v->eye[a] = pivot[a] + off[a];
    /* Each row of R is a camera axis in world coordinates, so it rotates like a vector. */
    for (int r = 0; r < 3; r++) mat_vec(Q, v->R + 3 * r, v->R + 3 * r);
    orthonormalize(v->R);
}

void cs__view_snap(cs__view *v, const cs_camera *cam, const float target[3]) {
    memcpy(v->R, cam->R, sizeof v->R);
    orthonormalize(v->R);
    float to_target[3];
    for (int a = 0; a < 3; a++) {
        v->eye[a] =
            -(cam->R[a] * cam->t[0] + cam->R[3 + a] * cam->t[1] + cam->R[6 + a] * cam->t[2]);
        to_target[a] = target[a] - v->eye[a];
    }
    float ahead = dot3(to_target, v->R + 6);
    v->dist = ahead > 0.05f * v->radius ? ahead : 0.05f * v->radius;
    if (cam->height > 0 && cam->fy > 0) v->focal = cam->fy / (float)cam->height;
}

void cs__view_orbit(cs__view *v, float yaw, float pitch) {
    float Q[9];
    if (yaw != 0) {
        /* About up, +yaw turns the eye offset -dist*forward towards up x (-forward) = right (for
         * a level camera right = forward x up): the eye moves to its right. */
        axis_angle(v->up, yaw, Q);
        rotate_about_pivot(v, Q);
    }
    if (pitch != 0) {
        /* Elevation of forward above the horizontal plane; a rotation about right changes it by
         * the rotation angle for a level camera, and by less with roll, so clamping the angle to
         * the remaining range keeps |elevation| <= the limit. */
        float s = dot3(v->R + 6, v->up);
        s = s > 1 ? 1 : s < -1 ? -1 : s;
        float elev = asinf(s);
        if (elev + pitch > VIEW_MAX_ELEVATION) pitch = VIEW_MAX_ELEVATION - elev;
        if (elev + pitch < -VIEW_MAX_ELEVATION) pitch = -VIEW_MAX_ELEVATION - elev;
        /* About right, a positive angle turns forward towards right x forward = -down: up. */
        axis_angle(v->R, pitch, Q);
        rotate_about_pivot(v, Q);
    }
}

void cs__view_pan(cs__view *v, float dx, float dy, int height) {
    /* A pixel at the pivot's depth spans dist / focal_pixels world units. */
    float scale = v->dist / (v->focal * (float)(height > 0 ? height : 1));
    for (int a = 0; a < 3; a++) v->eye[a] -= scale * (dx * v->R[a] + dy * v->R[3 + a]);
}

void cs__view_zoom(cs__view *v, float factor) {
    float min_dist = 0.02f * v->radius, target = v->dist * factor;
    if (target < min_dist) {
        /* At the closest distance zooming in dollies eye and pivot together by a step that does
         * not shrink with the distance, so the wheel keeps moving through the scene. */
        float step = (1.0f - factor) * 0.1f * v->radius;
        for (int a = 0; a < 3; a++) v->eye[a] += step * v->R[6 + a];
        return;
    }
    for (int a = 0; a < 3; a++) v->eye[a] += (v->dist - target) * v->R[6 + a];
    v->dist = target;
}

void cs__view_fly(cs__view *v, float forward, float right, float up) {
    for (int a = 0; a < 3; a++)
        v->eye[a] += forward * v->R[6 + a] + right * v->R[a] + up * v->up[a];
}

cs_camera cs__view_camera(const cs__view *v, int width, int height) {
    cs_camera cam;
    memset(&cam, 0, sizeof cam);
    memcpy(cam.R, v->R, sizeof cam.R);
    for (int r = 0; r < 3; r++) cam.t[r] = -dot3(v->R + 3 * r, v->eye);
    cam.fx = cam.fy = v->focal * (float)height;
    cam.cx = 0.5f * (float)width;
    cam.cy = 0.5f * (float)height;
    cam.width = width;
    cam.height = height;
    cam.model = CS_CAMERA_PINHOLE;
    return cam;
}
