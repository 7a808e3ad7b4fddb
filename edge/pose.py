"""MediaPipe PoseLandmarker (Tasks API, VIDEO mode) -> NTU-25 people in camera space.

Per frame and person the landmarker gives 33 normalised image landmarks and 33 metric *world*
landmarks centred on the hips. We map both to NTU-25 with the core mappings
(:func:`crossglg.skeleton.mappings.from_mediapipe33`), turn the world axes into Kinect camera axes
(:func:`~crossglg.skeleton.mappings.mediapipe_world_to_camera`) and, by default, put the
skeleton back where it stands: the hip translation that world landmarks lose is recovered by a
linear least-squares fit of the pinhole projection of the world landmarks onto the image
landmarks, with a focal length from an assumed horizontal field of view
(:func:`recover_translation`; measured in docs/mediapipe_mapping.md). ``translation="none"``
keeps the hip-centred (root-relative) coordinates instead.

``mirror=True`` flips each frame horizontally before pose estimation (mirrored videos such as
NTU's colour streams, selfie-view cameras) and reports image x back in the delivered frame;
the 3D result is then in the un-mirrored camera's frame. The mapping never swaps sides.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from crossglg.skeleton.mappings import (
    from_mediapipe33,
    mediapipe_visibility_to_ntu,
    mediapipe_world_to_camera,
)

from .console import native_quiet
from .errors import SourceError

TRANSLATION_MODES = ("recover", "none")


@dataclass(frozen=True)
class PoseConfig:
    """Pose estimation settings.

    Attributes:
        model_path: the ``pose_landmarker_full.task`` bundle (see :mod:`edge.models`).
        max_people: ``num_poses`` of the landmarker.
        mirror: flip frames horizontally before pose; image x is flipped back afterwards.
        process_width: downscale frames to this width before pose (None = as delivered); image
            coordinates are always reported in the delivered frame's pixels.
        hfov_deg: assumed horizontal field of view of the camera, for translation recovery.
            60 deg suits most webcams; Kinect v2 colour (NTU videos) is ~84 deg.
        translation: ``"recover"`` (camera-frame joints) or ``"none"`` (hip-centred joints).
        min_detection_confidence / min_presence_confidence / min_tracking_confidence: passed to
            the landmarker.
        min_fit_visibility: landmarks below this visibility are left out of the translation fit.
    """

    model_path: Path
    max_people: int = 1
    mirror: bool = False
    process_width: int | None = 640
    hfov_deg: float = 60.0
    translation: str = "recover"
    min_detection_confidence: float = 0.5
    min_presence_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    min_fit_visibility: float = 0.5

    def __post_init__(self) -> None:
        if self.max_people < 1:
            raise ValueError(f"max_people must be >= 1, got {self.max_people}")
        if not 10.0 <= self.hfov_deg <= 170.0:
            raise ValueError(f"hfov_deg must be in [10, 170], got {self.hfov_deg}")
        if self.translation not in TRANSLATION_MODES:
            raise ValueError(f"translation must be one of {TRANSLATION_MODES}, got {self.translation!r}")
        if self.process_width is not None and self.process_width < 64:
            raise ValueError(f"process_width must be >= 64 or None, got {self.process_width}")


@dataclass(frozen=True)
class Detection:
    """One person found in one frame, before tracking.

    Attributes:
        joints: ``(25, 3)`` float32 NTU-25 in camera axes (metres; hip-centred if translation is
            off or could not be recovered for this frame -> then ``translated`` is False).
        visibility: ``(25,)`` float32 in [0, 1].
        image_xy: ``(25, 2)`` float32 pixels in the delivered (possibly mirrored) frame.
        landmarks_xy: ``(33, 2)`` float32 raw MediaPipe landmarks in delivered-frame pixels.
        translated: whether ``joints`` carries a recovered camera-frame translation.
    """

    joints: np.ndarray
    visibility: np.ndarray
    image_xy: np.ndarray
    landmarks_xy: np.ndarray
    translated: bool


def focal_from_hfov(width: int, hfov_deg: float) -> float:
    """Pinhole focal length in pixels for an image ``width`` pixels wide and a horizontal FOV."""
    return 0.5 * width / math.tan(math.radians(hfov_deg) / 2.0)


def recover_translation(
    world: np.ndarray, image_uv: np.ndarray, focal: float, centre: tuple[float, float], weights: np.ndarray | None = None
) -> np.ndarray | None:
    """Translation ``t (3,)`` putting hip-centred points in front of a pinhole camera.

    ``world`` ``(J, 3)`` are metric points in camera-aligned axes with x to the image right,
    y down, z away from the camera (MediaPipe world axes, origin at the hips); ``image_uv``
    ``(J, 2)`` their pixels in the same (un-mirrored) image. Solves, in least squares,
    ``u - cx = f (X + tx) / (Z + tz)`` and likewise for v: linear in t once multiplied out.
    Returns None when fewer than 3 points are usable or the fit lands behind the camera.
    """
    w = np.asarray(world, dtype=np.float64)
    uv = np.asarray(image_uv, dtype=np.float64) - np.asarray(centre, dtype=np.float64)
    wt = np.ones(len(w)) if weights is None else np.asarray(weights, dtype=np.float64)
    ok = np.isfinite(w).all(axis=1) & np.isfinite(uv).all(axis=1) & (wt > 0)
    if ok.sum() < 3:
        return None
    w, uv, sw = w[ok], uv[ok], np.sqrt(wt[ok])
    n = len(w)
    a = np.zeros((2 * n, 3))
    b = np.empty(2 * n)
    a[0::2, 0] = focal
    a[0::2, 2] = -uv[:, 0]
    b[0::2] = uv[:, 0] * w[:, 2] - focal * w[:, 0]
    a[1::2, 1] = focal
    a[1::2, 2] = -uv[:, 1]
    b[1::2] = uv[:, 1] * w[:, 2] - focal * w[:, 1]
    rw = np.repeat(sw, 2)
    t, *_ = np.linalg.lstsq(a * rw[:, None], b * rw, rcond=None)
    # the whole body must be in front of the camera
    if not np.isfinite(t).all() or (w[:, 2] + t[2]).min() <= 0.05:
        return None
    return t


def _to_array(landmarks, fields: str) -> np.ndarray:
    return np.array([[getattr(p, f) if getattr(p, f) is not None else np.nan for f in fields] for p in landmarks], dtype=np.float64)


# BlazePose bones used to paint a person out of the frame for the other slots' landmarkers
_BONES = ((11, 13), (13, 15), (15, 19), (12, 14), (14, 16), (16, 20), (11, 23), (12, 24), (23, 25), (25, 27),
          (27, 31), (24, 26), (26, 28), (28, 32), (0, 11), (0, 12))  # fmt: skip
_TORSO = (11, 12, 24, 23)
MASK_GRAY = 127


def paint_out(rgb: np.ndarray, norm_xy: np.ndarray) -> None:
    """Cover one person in ``rgb`` (in place) with flat grey, from their 33 normalised landmarks
    ``(33, 2)``: a filled torso and thick limbs, so the single-person landmarker looks elsewhere."""
    import cv2

    h, w = rgb.shape[:2]
    px = np.nan_to_num(norm_xy * np.array([w, h]), nan=-1e4).clip(-1e4, 1e4)
    torso = np.linalg.norm(0.5 * (px[11] + px[12]) - 0.5 * (px[23] + px[24]))
    thick = int(max(6.0, 0.35 * torso))
    grey = (MASK_GRAY, MASK_GRAY, MASK_GRAY)
    cv2.fillPoly(rgb, [px[list(_TORSO)].astype(np.int32)], grey)
    for a, b in _BONES:
        cv2.line(rgb, tuple(int(v) for v in px[a]), tuple(int(v) for v in px[b]), grey, thick)
    cv2.circle(rgb, tuple(int(v) for v in px[0]), int(max(6.0, 0.45 * torso)), grey, -1)


class PoseEstimator:
    """MediaPipe PoseLandmarker(s) in VIDEO mode; use as a context manager.

    ``process(bgr, timestamp_ms)`` takes one BGR uint8 frame ``(H, W, 3)`` (OpenCV order) and a
    strictly increasing timestamp, and returns a list of :class:`Detection` (up to max_people).

    BlazePose is a single-person model: with ``num_poses`` > 1 in VIDEO mode it keeps tracking the
    first person and never looks for a second (measured on NTU's two_person_hugging clip). So
    ``max_people`` > 1 runs one single-person VIDEO landmarker per slot, each on the frame with
    the people of the other slots painted out (:func:`paint_out`); an empty slot thereby detects
    someone not yet tracked. A slot that lands on an already accepted person is dropped for the
    frame. Cost grows linearly with ``max_people``.
    """

    def __init__(self, config: PoseConfig):
        self.config = config
        self._landmarkers: list = []
        self._slot_norm: list[np.ndarray | None] = []  # per slot: last accepted (33, 2) landmarks
        self._quiet_slots: list[bool] = []  # per slot: still silence native logs (no person found yet)
        self._last_ts = -1

    def __enter__(self) -> PoseEstimator:
        # imported here so that importing edge.pose (e.g. for the mapping maths) stays light
        from mediapipe.tasks.python import BaseOptions, vision

        path = Path(self.config.model_path)
        if not path.is_file():
            raise SourceError(f"pose model not found: {path} (run `crossglg-edge models fetch`)")
        opts = vision.PoseLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(path)),
            running_mode=vision.RunningMode.VIDEO,
            num_poses=1,
            min_pose_detection_confidence=self.config.min_detection_confidence,
            min_pose_presence_confidence=self.config.min_presence_confidence,
            min_tracking_confidence=self.config.min_tracking_confidence,
            output_segmentation_masks=False,
        )
        try:
            with native_quiet():  # LiteRT's ~40 INFO/WARNING lines per model load
                for _ in range(self.config.max_people):
                    self._landmarkers.append(vision.PoseLandmarker.create_from_options(opts))
        except (RuntimeError, ValueError) as exc:
            self.close()
            raise SourceError(f"cannot load pose model {path}: {exc}") from None
        self._slot_norm = [None] * self.config.max_people
        self._quiet_slots = [True] * self.config.max_people
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        with native_quiet():  # "DestroyAccelerator" lines
            for lm in self._landmarkers:
                lm.close()
        self._landmarkers = []

    def process(self, bgr: np.ndarray, timestamp_ms: int) -> list[Detection]:
        import cv2
        import mediapipe as mp

        if not self._landmarkers:
            raise RuntimeError("PoseEstimator used outside its `with` block")
        if bgr.ndim != 3 or bgr.shape[2] != 3 or bgr.dtype != np.uint8:
            raise ValueError(f"expected a BGR uint8 frame (H, W, 3), got {bgr.shape} {bgr.dtype}")
        # VIDEO mode rejects non-increasing timestamps; nudge equal ones forward
        ts = max(int(timestamp_ms), self._last_ts + 1)
        self._last_ts = ts
        height, width = bgr.shape[:2]
        img = bgr[:, ::-1] if self.config.mirror else bgr
        pw = self.config.process_width
        if pw is not None and width > pw:
            img = cv2.resize(img, (pw, max(1, round(height * pw / width))), interpolation=cv2.INTER_AREA)
        rgb = np.ascontiguousarray(cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_BGR2RGB))
        out: list[Detection] = []
        accepted: list[np.ndarray] = []  # this frame's accepted landmarks (33, 2), normalised
        for k, lm in enumerate(self._landmarkers):
            others = accepted + [n for j, n in enumerate(self._slot_norm) if j > k and n is not None]
            frame = rgb
            if others:
                frame = rgb.copy()
                for norm_xy in others:
                    paint_out(frame, norm_xy)
            image = mp.Image(image_format=mp.ImageFormat.SRGB, data=frame)
            if self._quiet_slots[k]:
                # the first runs print GLOG "W0000" lines (detector, then the landmark stage once a
                # person is seen): silenced until this slot has found a person once
                with native_quiet():
                    result = lm.detect_for_video(image, ts)
                self._quiet_slots[k] = not result.pose_landmarks
            else:
                result = lm.detect_for_video(image, ts)
            self._slot_norm[k] = None
            if not result.pose_landmarks:
                continue
            norm = _to_array(result.pose_landmarks[0], "xyz")
            if any(_same_person(norm[:, :2], a) for a in accepted):
                continue
            vis = np.nan_to_num(_to_array(result.pose_landmarks[0], ("visibility",))[:, 0], nan=0.0)
            world = _to_array(result.pose_world_landmarks[0], "xyz")
            accepted.append(norm[:, :2])
            self._slot_norm[k] = norm[:, :2]
            out.append(self._detection(norm, world, vis, width, height))
        return out

    def _detection(self, norm: np.ndarray, world: np.ndarray, vis: np.ndarray, width: int, height: int) -> Detection:
        """norm ``(33, 3)`` normalised image landmarks of the processed (un-mirrored) frame,
        world ``(33, 3)`` MediaPipe world landmarks, vis ``(33,)``."""
        cfg = self.config
        uv = norm[:, :2] * np.array([width, height], dtype=np.float64)  # processed-frame pixels
        translated = False
        if cfg.translation == "recover":
            weights = np.where(vis >= cfg.min_fit_visibility, vis, 0.0)
            t = recover_translation(world, uv, focal_from_hfov(width, cfg.hfov_deg), (width / 2.0, height / 2.0), weights)
            if t is not None:
                world = world + t
                translated = True
        joints = mediapipe_world_to_camera(from_mediapipe33(world))
        delivered = uv.copy()
        if cfg.mirror:
            delivered[:, 0] = width - delivered[:, 0]
        padded = np.concatenate([delivered, np.zeros((len(delivered), 1))], axis=1)
        image_xy = from_mediapipe33(padded)[:, :2]
        return Detection(
            joints=joints.astype(np.float32),
            visibility=np.clip(mediapipe_visibility_to_ntu(vis), 0.0, 1.0).astype(np.float32),
            image_xy=image_xy.astype(np.float32),
            landmarks_xy=delivered.astype(np.float32),
            translated=translated,
        )


def _same_person(a: np.ndarray, b: np.ndarray, tol: float = 0.25) -> bool:
    """Whether two normalised landmark sets ``(33, 2)`` describe one person: their shoulder and
    hip points agree within ``tol`` torso lengths."""
    idx = [11, 12, 23, 24]
    torso = np.linalg.norm(0.5 * (a[11] + a[12]) - 0.5 * (a[23] + a[24]))
    d = np.linalg.norm(a[idx] - b[idx], axis=1)
    return bool(np.isfinite(d).all() and torso > 0 and np.median(d) < tol * torso)
