"""Skeleton sources behind one interface: camera, video file, recorded skeletons, Azure Kinect.

A :class:`Source` is a context manager and an iterator of :class:`~edge.frames.SkeletonFrame`
(NTU-25 people with track ids), with ``fps`` and ``name``. Build one with a ``from_*``
constructor::

    with Source.from_video("clip.avi", pose_model=path, mirror=True, max_people=2) as src:
        for frame in src:
            ...

Image sources run MediaPipe (:mod:`edge.pose`) and give people ids with the Hungarian tracker
(:mod:`edge.tracking`); skeleton sources keep the ids of the recording or device.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np

from .errors import SourceError
from .frames import PersonPose, SkeletonFrame, make_person
from .models import find_pose_model
from .pose import PoseConfig, PoseEstimator
from .tracking import HungarianTracker, TrackerConfig, person_centre
from .video import CameraReader, VideoFileReader

# tracking gate as a fraction of the image width: a person's hips move far less per frame
TRACK_GATE_FRACTION = 0.12


class Source:
    """Base class: subclasses implement :meth:`_open`, :meth:`_frames` and :meth:`_close`."""

    def __init__(self, name: str, fps: float):
        self.name = name
        self._fps = float(fps)
        self._iterator: Iterator[SkeletonFrame] | None = None
        self._opened = False

    @property
    def fps(self) -> float:
        """Nominal frame rate (the recording's, or what the device reports)."""
        return self._fps

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> Source:
        self.open()
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def open(self) -> None:
        if not self._opened:
            self._open()
            self._opened = True

    def close(self) -> None:
        if self._opened:
            self._opened = False
            self._iterator = None
            self._close()

    def __iter__(self) -> Iterator[SkeletonFrame]:
        self.open()
        return self

    def __next__(self) -> SkeletonFrame:
        if not self._opened:
            self.open()
        if self._iterator is None:
            self._iterator = self._frames()
        return next(self._iterator)

    def _open(self) -> None:  # pragma: no cover - trivial default
        pass

    def _close(self) -> None:  # pragma: no cover - trivial default
        pass

    def _frames(self) -> Iterator[SkeletonFrame]:
        raise NotImplementedError

    # -- constructors --------------------------------------------------------------------------
    @classmethod
    def from_camera(
        cls,
        index: int | str = 0,
        *,
        pose_model: str | Path | None = None,
        max_people: int = 1,
        mirror: bool = False,
        width: int | None = None,
        height: int | None = None,
        read_timeout_s: float = 3.0,
        open_timeout_s: float = 10.0,
        **pose_options,
    ) -> Source:
        """A live camera (OpenCV index, device path or stream URL) through MediaPipe.

        Timestamps are the monotonic capture times; a camera that stops delivering raises
        :class:`SourceError` after ``read_timeout_s`` instead of hanging.
        """
        reader = CameraReader(index, width, height, read_timeout_s=read_timeout_s, open_timeout_s=open_timeout_s)
        config = _pose_config(pose_model, max_people, mirror, pose_options)
        return PoseSource(f"camera{index}" if isinstance(index, int) else str(index), reader, config)

    @classmethod
    def from_video(
        cls,
        path: str | Path,
        mirror: bool = False,
        *,
        pose_model: str | Path | None = None,
        max_people: int = 1,
        **pose_options,
    ) -> Source:
        """A video file through MediaPipe; timestamps follow the file's frame rate."""
        path = Path(path)
        if not path.is_file():
            raise SourceError(f"video file not found: {path}")
        config = _pose_config(pose_model, max_people, mirror, pose_options)
        return PoseSource(path.stem, VideoFileReader(path), config)

    @classmethod
    def from_skeleton_file(cls, path: str | Path, fps: float | None = None) -> Source:
        """Replay a recorded skeleton file: NTU ``.skeleton``, UTD ``.mat``, NW-UCLA ``.json``, GTU
        ``.txt``, IRDS ``.csv`` or ``.npy``/``.npz`` ``(T, M, 25, 3)``; ``fps`` overrides the file's."""
        from .skeleton_files import load_skeleton_file

        return RecordingSource(Path(path).stem, load_skeleton_file(path, fps))

    @classmethod
    def from_kinect_azure(cls, device_index: int = 0, fps: float = 30.0) -> Source:
        """Azure Kinect body tracking via ``pykinect_azure`` (checked now, opened on ``open``)."""
        from .kinect_azure import import_pykinect

        import_pykinect()  # fail early with the install hint
        return KinectAzureSource(device_index, fps)


def _pose_config(pose_model, max_people: int, mirror: bool, options: dict) -> PoseConfig:
    try:
        return PoseConfig(model_path=find_pose_model(pose_model), max_people=max_people, mirror=mirror, **options)
    except TypeError as exc:
        raise ValueError(f"unknown pose option: {exc}") from None


class PoseSource(Source):
    """Image frames (file or camera) -> MediaPipe -> tracked NTU-25 people."""

    def __init__(self, name: str, reader: VideoFileReader | CameraReader, config: PoseConfig,
                 tracker: TrackerConfig | None = None):  # fmt: skip
        super().__init__(name, reader.fps)
        self.reader = reader
        self.config = config
        self._tracker_config = tracker
        self._estimator: PoseEstimator | None = None

    @property
    def fps(self) -> float:
        """The reader's rate: a file's, or what the camera reports once it is open."""
        return self.reader.fps

    def _open(self) -> None:
        self.reader.open()
        self._estimator = PoseEstimator(self.config).__enter__()

    def _close(self) -> None:
        if self._estimator is not None:
            self._estimator.close()
            self._estimator = None
        self.reader.close()

    def _frames(self) -> Iterator[SkeletonFrame]:
        tracker: HungarianTracker | None = None
        for index, (stamp, bgr) in enumerate(self.reader):
            height, width = bgr.shape[:2]
            if tracker is None:
                cfg = self._tracker_config or TrackerConfig(gate=TRACK_GATE_FRACTION * width)
                tracker = HungarianTracker(cfg)
            detections = self._estimator.process(bgr, int(round(stamp * 1000.0)))
            centres = np.array([person_centre(d.image_xy, d.visibility) for d in detections]).reshape(-1, 2)
            ids = tracker.update(centres)
            people = tuple(
                PersonPose(track_id=i, joints=d.joints, visibility=d.visibility, image_xy=d.image_xy)
                for i, d in sorted(zip(ids, detections, strict=True), key=lambda p: p[0])
            )
            yield SkeletonFrame(timestamp_s=float(stamp), frame_index=index, people=people, image_size=(width, height))


class RecordingSource(Source):
    """A recorded sequence replayed frame by frame (as fast as it is consumed)."""

    def __init__(self, name: str, recording):
        super().__init__(name, recording.fps)
        self.recording = recording

    def _frames(self) -> Iterator[SkeletonFrame]:
        rec = self.recording
        ids = rec.body_ids or tuple(range(rec.joints.shape[1]))
        for t in range(rec.joints.shape[0]):
            people = []
            for m in range(rec.joints.shape[1]):
                joints = rec.joints[t, m]
                if not np.isfinite(joints).any():
                    continue  # body absent in this frame
                vis = None if rec.visibility is None else rec.visibility[t, m]
                xy = None if rec.image_xy is None else rec.image_xy[t, m]
                people.append(make_person(ids[m], joints, vis, xy))
            yield SkeletonFrame(t / rec.fps, t, tuple(people), rec.image_size)


class KinectAzureSource(Source):
    """Azure Kinect body tracking; K4ABT body ids are the track ids."""

    def __init__(self, device_index: int, fps: float,
                 bodies: Callable[[], Iterable[list[tuple[int, np.ndarray, np.ndarray]]]] | None = None):  # fmt: skip
        super().__init__(f"kinect_azure{device_index}", fps)
        self.device_index = device_index
        self._bodies = bodies
        self._stream = None

    def _open(self) -> None:
        from .kinect_azure import iter_k4abt_bodies

        self._stream = iter(self._bodies() if self._bodies else iter_k4abt_bodies(self.device_index))

    def _close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()
        self._stream = None

    def _frames(self) -> Iterator[SkeletonFrame]:
        from .kinect_azure import k4abt_to_ntu, k4abt_visibility_to_ntu

        t0 = time.monotonic()
        for index, bodies in enumerate(self._stream):
            people = tuple(
                make_person(body_id, k4abt_to_ntu(pos), k4abt_visibility_to_ntu(conf))
                for body_id, pos, conf in sorted(bodies, key=lambda b: b[0])
            )
            yield SkeletonFrame(time.monotonic() - t0, index, people, None)
