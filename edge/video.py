"""Image frame readers for pose sources: a video file, or a live camera with a read timeout.

Both yield ``(timestamp_s, bgr)``: seconds since the reader started (file time for files,
monotonic clock for cameras) and a BGR uint8 image ``(H, W, 3)`` as OpenCV decodes it.
Problems a user can fix raise :class:`~edge.errors.SourceError` with a message.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .errors import SourceError, SourceLostError

# what to try when a camera cannot be used (said in the error, so the user knows the next step)
_CAMERA_HINT = "list cameras with `ls /dev/video*`, pass another --camera N, or try --video FILE"

DEFAULT_FPS = 30.0
log = logging.getLogger(__name__)
_OPEN_FAILED = object()  # sentinel from the reader thread


def _cv2():
    import cv2  # deferred: skeleton-only sources never need OpenCV

    return cv2


class VideoFileReader:
    """Decodes a video file frame by frame; timestamps are ``index / fps`` of the file.

    A file cut mid-way (a copy that stopped, a recorder that died) decodes up to the damage; what
    was read is used, and the reader says once (a warning) that it ended ``frames_read`` frames
    into the ``frames_announced`` its header promised.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._cap = None
        self.fps = DEFAULT_FPS
        self.frames_announced = 0  # from the container header; 0 when it does not say
        self.frames_read = 0

    def open(self) -> None:
        cv2 = _cv2()
        if not self.path.is_file():
            raise SourceError(f"video file not found: {self.path}")
        cap = cv2.VideoCapture(str(self.path))
        if not cap.isOpened():
            raise SourceError(f"cannot open video file {self.path} (unsupported or corrupt)")
        fps = cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and np.isfinite(fps) and 1.0 <= fps <= 1000.0 else DEFAULT_FPS
        count = cap.get(cv2.CAP_PROP_FRAME_COUNT)
        self.frames_announced = int(count) if count and np.isfinite(count) and 0 < count < 1e9 else 0
        self._cap = cap

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def __iter__(self) -> Iterator[tuple[float, np.ndarray]]:
        if self._cap is None:
            self.open()
        index = 0
        while True:
            ok, frame = self._cap.read()
            if not ok:
                if index == 0:
                    raise SourceError(f"video file {self.path} has no decodable frame")
                # a frame or two short is normal (headers round); more is a cut or damaged file
                if self.frames_announced and index < self.frames_announced - 2:
                    log.warning("video file %s ended after %d of the %d frames its header announces "
                                "(%.1f of %.1f s): the file is cut or damaged; using what was read",
                                self.path, index, self.frames_announced, index / self.fps,
                                self.frames_announced / self.fps)  # fmt: skip
                return
            yield index / self.fps, frame
            index += 1
            self.frames_read = index


class CameraReader:
    """Reads a camera on a background thread so a stalled device can never hang the caller.

    The thread keeps only the newest frame (a live pipeline wants the present, not a backlog);
    iteration raises :class:`SourceError` when no frame arrives within ``read_timeout_s``.
    """

    def __init__(
        self,
        index: int | str,
        width: int | None = None,
        height: int | None = None,
        fps: float | None = None,
        read_timeout_s: float = 3.0,
        open_timeout_s: float = 10.0,
    ):
        self.index = index
        self.width, self.height, self.requested_fps = width, height, fps
        self.read_timeout_s = read_timeout_s
        self.open_timeout_s = open_timeout_s
        self.fps = fps or DEFAULT_FPS
        self._queue: queue.Queue = queue.Queue(maxsize=1)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = 0.0

    def open(self) -> None:
        """Start the reader thread; the device is opened there, since opening can block too."""
        self._stop.clear()
        self._queue = queue.Queue(maxsize=1)
        self._t0 = time.monotonic()
        self._thread = threading.Thread(target=self._run, name=f"camera-{self.index}", daemon=True)
        self._thread.start()

    def _open_capture(self):
        cv2 = _cv2()
        cap = cv2.VideoCapture(self.index)
        if not cap.isOpened():
            cap.release()
            return None
        for prop, value in ((cv2.CAP_PROP_FRAME_WIDTH, self.width), (cv2.CAP_PROP_FRAME_HEIGHT, self.height),
                            (cv2.CAP_PROP_FPS, self.requested_fps)):  # fmt: skip
            if value:
                cap.set(prop, value)
        fps = cap.get(cv2.CAP_PROP_FPS)
        if fps and np.isfinite(fps) and 1.0 <= fps <= 1000.0:
            self.fps = float(fps)
        return cap

    def _put(self, item) -> None:
        # drop a stale frame so the consumer always gets the newest one
        with contextlib.suppress(queue.Empty):
            self._queue.get_nowait()
        self._queue.put(item)

    def _run(self) -> None:
        cap = self._open_capture()
        if cap is None:
            self._put(_OPEN_FAILED)
            return
        try:
            while not self._stop.is_set():
                ok, frame = cap.read()
                self._put((time.monotonic() - self._t0, frame) if ok else None)
                if not ok:
                    return
        finally:
            cap.release()  # released by its own thread: never while a read is in flight

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            # a thread stuck inside the driver cannot be joined; it is a daemon and releases its
            # capture itself whenever the driver returns
            self._thread.join(timeout=self.read_timeout_s)
            self._thread = None

    def __iter__(self) -> Iterator[tuple[float, np.ndarray]]:
        if self._thread is None:
            self.open()
        first = True
        while True:
            timeout = self.open_timeout_s if first else self.read_timeout_s
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:
                if first:
                    raise SourceError(f"camera {self.index} did not open or deliver a first frame within "
                                      f"{timeout:.1f} s ({_CAMERA_HINT})") from None  # fmt: skip
                raise SourceLostError(f"camera {self.index} delivered no frame within {timeout:.1f} s "
                                      "(unplugged, or busy elsewhere? --read-timeout waits longer)") from None  # fmt: skip
            if item is _OPEN_FAILED:
                raise SourceError(f"cannot open camera {self.index}: no such device, or it is busy or not permitted "
                                  f"({_CAMERA_HINT})")  # fmt: skip
            if item is None:
                raise SourceLostError(f"camera {self.index} stopped delivering frames (unplugged or closed?)")
            first = False
            yield item
