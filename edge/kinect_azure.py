"""Azure Kinect body tracking (K4ABT, 32 joints) -> NTU-25, through the optional ``pykinect_azure``.

K4ABT reports millimetres in the depth camera's frame (x right, y down, z forward, as seen by the
camera); Kinect v2 / NTU camera space is metres with x to the camera's left, y up, z forward.
The change is a rotation by 180 degrees about z (no side is mirrored) and a unit scale. K4ABT
names sides by anatomy, as NTU does, so no joint is swapped.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from .errors import SourceError

K4ABT_JOINTS = (
    "PELVIS", "SPINE_NAVEL", "SPINE_CHEST", "NECK", "CLAVICLE_LEFT", "SHOULDER_LEFT", "ELBOW_LEFT",
    "WRIST_LEFT", "HAND_LEFT", "HANDTIP_LEFT", "THUMB_LEFT", "CLAVICLE_RIGHT", "SHOULDER_RIGHT",
    "ELBOW_RIGHT", "WRIST_RIGHT", "HAND_RIGHT", "HANDTIP_RIGHT", "THUMB_RIGHT", "HIP_LEFT", "KNEE_LEFT",
    "ANKLE_LEFT", "FOOT_LEFT", "HIP_RIGHT", "KNEE_RIGHT", "ANKLE_RIGHT", "FOOT_RIGHT", "HEAD", "NOSE",
    "EYE_LEFT", "EAR_LEFT", "EYE_RIGHT", "EAR_RIGHT",
)  # fmt: skip

# NTU-25 joint (0-based) <- K4ABT joint name. Kinect v2's SpineShoulder sits between the shoulders
# at the top of the sternum, which is K4ABT's SPINE_CHEST; its Neck is K4ABT's NECK.
NTU_FROM_K4ABT: tuple[str, ...] = (
    "PELVIS",  # 1 SpineBase
    "SPINE_NAVEL",  # 2 SpineMid
    "NECK",  # 3 Neck
    "HEAD",  # 4 Head
    "SHOULDER_LEFT", "ELBOW_LEFT", "WRIST_LEFT", "HAND_LEFT",  # 5-8
    "SHOULDER_RIGHT", "ELBOW_RIGHT", "WRIST_RIGHT", "HAND_RIGHT",  # 9-12
    "HIP_LEFT", "KNEE_LEFT", "ANKLE_LEFT", "FOOT_LEFT",  # 13-16
    "HIP_RIGHT", "KNEE_RIGHT", "ANKLE_RIGHT", "FOOT_RIGHT",  # 17-20
    "SPINE_CHEST",  # 21 SpineShoulder
    "HANDTIP_LEFT", "THUMB_LEFT", "HANDTIP_RIGHT", "THUMB_RIGHT",  # 22-25
)  # fmt: skip
NTU_FROM_K4ABT_INDEX = np.array([K4ABT_JOINTS.index(n) for n in NTU_FROM_K4ABT], dtype=np.int64)

# K4ABT_JOINT_CONFIDENCE_{NONE, LOW (predicted/occluded), MEDIUM, HIGH} -> visibility
CONFIDENCE_TO_VISIBILITY = np.array([0.0, 0.5, 1.0, 1.0], dtype=np.float32)
_AXES = np.array([-1.0, -1.0, 1.0], dtype=np.float32) / 1000.0  # mm, x right, y down -> m, x left, y up

INSTALL_HINT = (
    "Azure Kinect needs the optional package pykinect_azure (`pip install pykinect_azure`) and "
    "Microsoft's Azure Kinect Sensor SDK and Body Tracking SDK installed on this machine"
)


def k4abt_to_ntu(positions_mm: np.ndarray) -> np.ndarray:
    """K4ABT joint positions ``(..., 32, 3)`` in mm, depth-camera axes -> NTU-25 ``(..., 25, 3)``
    float32 metres in Kinect v2 camera axes."""
    p = np.asarray(positions_mm, dtype=np.float32)
    if p.ndim < 2 or p.shape[-2:] != (32, 3):
        raise ValueError(f"K4ABT skeleton: expected (..., 32, 3), got {p.shape}")
    return p[..., NTU_FROM_K4ABT_INDEX, :] * _AXES


def k4abt_visibility_to_ntu(confidence: np.ndarray) -> np.ndarray:
    """K4ABT confidence levels ``(..., 32)`` (ints 0-3) -> NTU-25 visibility ``(..., 25)`` float32."""
    c = np.asarray(confidence)
    if c.ndim < 1 or c.shape[-1] != 32:
        raise ValueError(f"K4ABT confidence: expected (..., 32), got {c.shape}")
    levels = np.clip(c[..., NTU_FROM_K4ABT_INDEX].astype(np.int64), 0, len(CONFIDENCE_TO_VISIBILITY) - 1)
    return CONFIDENCE_TO_VISIBILITY[levels]


def import_pykinect():
    """Import ``pykinect_azure`` or raise :class:`SourceError` saying how to get it."""
    try:
        import pykinect_azure  # optional, not on PyPI extras: needs Microsoft's SDKs
    except ImportError:
        raise SourceError(INSTALL_HINT) from None
    return pykinect_azure


def _skeleton_arrays(skeleton) -> tuple[np.ndarray, np.ndarray]:
    """A ``k4abt_skeleton_t`` -> positions ``(32, 3)`` mm and confidence levels ``(32,)``."""
    pos = np.empty((32, 3), dtype=np.float32)
    conf = np.empty(32, dtype=np.int64)
    for j in range(32):
        joint = skeleton.joints[j]
        pos[j] = (joint.position.xyz.x, joint.position.xyz.y, joint.position.xyz.z)
        conf[j] = joint.confidence_level
    return pos, conf


def iter_k4abt_bodies(device_index: int = 0) -> Iterator[list[tuple[int, np.ndarray, np.ndarray]]]:
    """Yield, per body frame, ``[(body_id, positions_mm (32, 3), confidence (32,)), ...]``.

    Opens the device with colour off and the wide binned depth mode that body tracking prefers.
    """
    pk = import_pykinect()
    try:
        pk.initialize_libraries(track_body=True)
        config = pk.default_configuration
        config.color_resolution = pk.K4A_COLOR_RESOLUTION_OFF
        config.depth_mode = pk.K4A_DEPTH_MODE_WFOV_2X2BINNED
        device = pk.start_device(device_index=device_index, config=config)
        tracker = pk.start_body_tracker()
    except Exception as exc:  # the wrapper raises bare Exceptions for missing SDKs and devices
        raise SourceError(f"cannot start Azure Kinect {device_index}: {exc}. {INSTALL_HINT}") from None
    try:
        while True:
            device.update()
            frame = tracker.update()
            bodies = []
            for i in range(frame.get_num_bodies()):
                pos, conf = _skeleton_arrays(frame.get_body_skeleton(i))
                bodies.append((int(frame.get_body_id(i)), pos, conf))
            yield bodies
    finally:
        for closer in (getattr(tracker, "destroy", None), getattr(device, "close", None)):
            if closer is not None:
                closer()

