"""Mappings from other joint layouts to NTU-25, the contract of every reader and source.

All functions take ``(..., J, 3)`` float arrays (any leading axes, e.g. ``(T, M)``) and return
``(..., 25, 3)`` float32 in the same coordinate frame. Missing joints stay NaN. None of them
swaps left and right: mirrored sources flip their images instead (see ``edge`` sources).
"""

from __future__ import annotations

import numpy as np

from .layouts import NTU25

NTU_V = NTU25.num_joints

# Ratios measured on the NTU sample S001C001P001R001A001 (Kinect v2, 103 frames):
# Neck sits ~1/3 of the way from SpineShoulder to Head; the hand tip extends the wrist->hand
# vector by ~0.5-0.75 of its length, the thumb is about as far from the hand.
NECK_RATIO = 1.0 / 3.0
HANDTIP_EXTENSION = 0.6
THUMB_EXTENSION = 0.4

# Kinect v1 SDK order (NW-UCLA, Kinder-Gator, MSRC-12): HipCenter, Spine, ShoulderCenter, Head,
# left arm (shoulder, elbow, wrist, hand), right arm, left leg (hip, knee, ankle, foot), right leg.
# MSR Action3D files list the same 20 joints in another order: they need their own table.
# v1 ShoulderCenter sits at shoulder height (like v2 SpineShoulder), not at the neck.
_V1_TO_NTU = {0: 0, 1: 1, 2: 20, 3: 3, **{k: k for k in range(4, 20)}}

# UTD-MHAD order -> Kinect v1 order: head, shoulder_center, spine, hip_center come first.
_UTD_TO_V1 = np.array([3, 2, 1, 0, *range(4, 20)])


def _check(seq: np.ndarray, joints: int, what: str) -> np.ndarray:
    arr = np.asarray(seq, dtype=np.float32)
    if arr.ndim < 2 or arr.shape[-2:] != (joints, 3):
        raise ValueError(f"{what}: expected an array shaped (..., {joints}, 3), got {arr.shape}")
    return arr


def _derive_hand(out: np.ndarray, wrist: int, hand: int, tip: int, thumb: int) -> None:
    direction = out[..., hand, :] - out[..., wrist, :]
    out[..., tip, :] = out[..., hand, :] + HANDTIP_EXTENSION * direction
    out[..., thumb, :] = out[..., hand, :] + THUMB_EXTENSION * direction


def from_kinect_v1(seq: np.ndarray) -> np.ndarray:
    """Kinect v1 20-joint skeletons ``(..., 20, 3)`` -> NTU-25 ``(..., 25, 3)``.

    Neck, hand tips and thumbs, which v1 does not track, are derived from their neighbours.
    """
    arr = _check(seq, 20, "Kinect v1 skeleton")
    out = np.full(arr.shape[:-2] + (NTU_V, 3), np.nan, dtype=np.float32)
    for src, dst in _V1_TO_NTU.items():
        out[..., dst, :] = arr[..., src, :]
    out[..., 2, :] = out[..., 20, :] + NECK_RATIO * (out[..., 3, :] - out[..., 20, :])
    _derive_hand(out, 6, 7, 21, 22)
    _derive_hand(out, 10, 11, 23, 24)
    return out


def from_utd_mhad(seq: np.ndarray) -> np.ndarray:
    """UTD-MHAD skeletons ``(..., 20, 3)`` in UTD order (head first) -> NTU-25."""
    arr = _check(seq, 20, "UTD-MHAD skeleton")
    return from_kinect_v1(arr[..., _UTD_TO_V1, :])


# BlazePose 33 landmark indices.
_MP = {
    "nose": 0, "l_eye": 2, "r_eye": 5, "l_ear": 7, "r_ear": 8,
    "l_shoulder": 11, "r_shoulder": 12, "l_elbow": 13, "r_elbow": 14, "l_wrist": 15, "r_wrist": 16,
    "l_pinky": 17, "r_pinky": 18, "l_index": 19, "r_index": 20, "l_thumb": 21, "r_thumb": 22,
    "l_hip": 23, "r_hip": 24, "l_knee": 25, "r_knee": 26, "l_ankle": 27, "r_ankle": 28,
    "l_heel": 29, "r_heel": 30, "l_foot": 31, "r_foot": 32,
}  # fmt: skip


def from_mediapipe33(landmarks: np.ndarray) -> np.ndarray:
    """BlazePose 33 landmarks ``(..., 33, 3)`` -> NTU-25 ``(..., 25, 3)``, same frame and units.

    No axis change and no side swap happens here: MediaPipe names sides by anatomy, as NTU does.
    Use :func:`mediapipe_world_to_camera` for the axis convention of world landmarks.
    """
    p = _check(landmarks, 33, "MediaPipe pose landmarks")
    m = {k: p[..., i, :] for k, i in _MP.items()}
    out = np.empty(p.shape[:-2] + (NTU_V, 3), dtype=np.float32)
    spine_base = 0.5 * (m["l_hip"] + m["r_hip"])
    spine_shoulder = 0.5 * (m["l_shoulder"] + m["r_shoulder"])
    # Head centre: halfway between the ear midpoint and the eye midpoint (the nose sits in front).
    head = 0.25 * (m["l_ear"] + m["r_ear"] + m["l_eye"] + m["r_eye"])
    out[..., 0, :] = spine_base
    out[..., 1, :] = 0.5 * (spine_base + spine_shoulder)
    out[..., 20, :] = spine_shoulder
    out[..., 3, :] = head
    out[..., 2, :] = spine_shoulder + NECK_RATIO * (head - spine_shoulder)
    for side, (sh, el, wr, ha, tip, th) in {
        "l": (4, 5, 6, 7, 21, 22),
        "r": (8, 9, 10, 11, 23, 24),
    }.items():
        out[..., sh, :] = m[f"{side}_shoulder"]
        out[..., el, :] = m[f"{side}_elbow"]
        out[..., wr, :] = m[f"{side}_wrist"]
        # Kinect's hand joint sits in the palm: between the wrist and the knuckles.
        knuckles = 0.5 * (m[f"{side}_index"] + m[f"{side}_pinky"])
        out[..., ha, :] = 0.5 * (m[f"{side}_wrist"] + knuckles)
        out[..., tip, :] = m[f"{side}_index"]
        out[..., th, :] = m[f"{side}_thumb"]
    for side, (hip, knee, ankle, foot) in {"l": (12, 13, 14, 15), "r": (16, 17, 18, 19)}.items():
        out[..., hip, :] = m[f"{side}_hip"]
        out[..., knee, :] = m[f"{side}_knee"]
        out[..., ankle, :] = m[f"{side}_ankle"]
        out[..., foot, :] = m[f"{side}_foot"]
    return out


def mediapipe_visibility_to_ntu(visibility: np.ndarray) -> np.ndarray:
    """Per-landmark visibility ``(..., 33)`` -> per-NTU-joint visibility ``(..., 25)``.

    A derived joint is as visible as the least visible landmark it is built from.
    """
    v = np.asarray(visibility, dtype=np.float32)
    if v.ndim < 1 or v.shape[-1] != 33:
        raise ValueError(f"MediaPipe visibility: expected (..., 33), got {v.shape}")
    m = {k: v[..., i] for k, i in _MP.items()}
    out = np.empty(v.shape[:-1] + (NTU_V,), dtype=np.float32)
    hips = np.minimum(m["l_hip"], m["r_hip"])
    shoulders = np.minimum(m["l_shoulder"], m["r_shoulder"])
    head = np.minimum.reduce([m["l_ear"], m["r_ear"], m["l_eye"], m["r_eye"]])
    out[..., 0] = hips
    out[..., 1] = np.minimum(hips, shoulders)
    out[..., 20] = shoulders
    out[..., 3] = head
    out[..., 2] = np.minimum(shoulders, head)
    for side, (sh, el, wr, ha, tip, th) in {"l": (4, 5, 6, 7, 21, 22), "r": (8, 9, 10, 11, 23, 24)}.items():
        out[..., sh] = m[f"{side}_shoulder"]
        out[..., el] = m[f"{side}_elbow"]
        out[..., wr] = m[f"{side}_wrist"]
        out[..., ha] = np.minimum.reduce([m[f"{side}_wrist"], m[f"{side}_index"], m[f"{side}_pinky"]])
        out[..., tip] = m[f"{side}_index"]
        out[..., th] = m[f"{side}_thumb"]
    for side, (hip, knee, ankle, foot) in {"l": (12, 13, 14, 15), "r": (16, 17, 18, 19)}.items():
        out[..., hip] = m[f"{side}_hip"]
        out[..., knee] = m[f"{side}_knee"]
        out[..., ankle] = m[f"{side}_ankle"]
        out[..., foot] = m[f"{side}_foot"]
    return out


def mediapipe_world_to_camera(points: np.ndarray) -> np.ndarray:
    """MediaPipe world axes (hip-centred; x to image right, y down, z away from the camera)
    -> Kinect camera axes (x to the image left, y up, z away from the camera).

    A rotation by 180 degrees about z (x -> -x, y -> -y): proper, so no side is mirrored.
    ``(..., 3)`` -> ``(..., 3)``.
    """
    p = np.asarray(points, dtype=np.float32)
    if p.shape[-1] != 3:
        raise ValueError(f"expected (..., 3) points, got {p.shape}")
    return p * np.array([-1.0, -1.0, 1.0], dtype=np.float32)
