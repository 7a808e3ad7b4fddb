"""Frames that every edge source yields: timestamped NTU-25 skeletons of zero or more people.

Torch-free and tiny on purpose: the window, pipeline and UI all consume these types.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NUM_JOINTS = 25  # NTU-25 / Kinect v2 order


@dataclass(frozen=True)
class PersonPose:
    """One tracked person in one frame.

    Attributes:
        track_id: identity kept across frames by the source's tracker (>= 0).
        joints: ``(25, 3)`` float32, NTU-25 order, camera frame in metres (x to the camera's left,
            y up, z away from the camera, as Kinect camera space); NaN for missing joints.
        visibility: ``(25,)`` float32 in ``[0, 1]`` (1 = tracked, 0 = missing).
        image_xy: ``(25, 2)`` float32 pixel coordinates in the frame as delivered, or ``None``
            when the source has no image (e.g. skeleton replay without colour coordinates).
    """

    track_id: int
    joints: np.ndarray
    visibility: np.ndarray
    image_xy: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.joints.shape != (NUM_JOINTS, 3):
            raise ValueError(f"PersonPose.joints: expected ({NUM_JOINTS}, 3), got {self.joints.shape}")
        if self.visibility.shape != (NUM_JOINTS,):
            raise ValueError(f"PersonPose.visibility: expected ({NUM_JOINTS},), got {self.visibility.shape}")
        if self.image_xy is not None and self.image_xy.shape != (NUM_JOINTS, 2):
            raise ValueError(f"PersonPose.image_xy: expected ({NUM_JOINTS}, 2), got {self.image_xy.shape}")


@dataclass(frozen=True)
class SkeletonFrame:
    """Everything a source knows about one instant.

    Attributes:
        timestamp_s: monotonic seconds since the source started (strictly increasing).
        frame_index: 0-based index of the frame within the source.
        people: the people seen in this frame (possibly none), each with its track id.
        image_size: ``(width, height)`` in pixels of the frame as delivered, or ``None`` when the
            source has no image.
    """

    timestamp_s: float
    frame_index: int
    people: tuple[PersonPose, ...] = ()
    image_size: tuple[int, int] | None = None


def make_person(
    track_id: int,
    joints: np.ndarray,
    visibility: np.ndarray | None = None,
    image_xy: np.ndarray | None = None,
) -> PersonPose:
    """Build a :class:`PersonPose` with float32 copies; missing visibility = finite joints -> 1."""
    j = np.asarray(joints, dtype=np.float32).copy()
    if visibility is None:
        vis = np.isfinite(j).all(axis=-1).astype(np.float32)
    else:
        vis = np.clip(np.asarray(visibility, dtype=np.float32), 0.0, 1.0)
    xy = None if image_xy is None else np.asarray(image_xy, dtype=np.float32).copy()
    return PersonPose(track_id=int(track_id), joints=j, visibility=vis, image_xy=xy)
