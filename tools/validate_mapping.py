"""Validate the MediaPipe -> NTU-25 mapping of the edge pose source against NTU ground truth.

Runs the real edge path (``Source`` over a video, MediaPipe VIDEO mode, mapping, translation
recovery) on the NTU sample S001C001P001R001A001 and compares with its ``.skeleton`` file:

* 2D: per-joint median pixel error of the mapped image points against colorX/colorY;
* 3D: per-joint median error after a per-frame similarity (Umeyama) alignment;
* sides: the same errors with left/right swapped (must be much larger), and a run on the
  unmirrored frames (MediaPipe then sees the mirror image: sides come out swapped);
* translation: the recovered root (hip centre) trajectory against the Kinect SpineBase, on the
  clip as recorded (the person barely moves) and on a synthetic-motion copy (frames shifted and
  zoomed over time; the ground truth moved accordingly) that exercises real movement.

Usage (writes docs/mediapipe_mapping.md and docs/figures/mediapipe_mapping.png)::

    .venv/bin/python tools/validate_mapping.py --data ../shared/data --pose-model ../shared/models/pose_landmarker_full.task
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from crossglg.atomic import atomic_write
from crossglg.skeleton.layouts import NTU25
from edge.pose import PoseConfig, focal_from_hfov
from edge.skeleton_files import load_skeleton_file
from edge.sources import PoseSource
from edge.video import VideoFileReader

SAMPLE = "S001C001P001R001A001"
KINECT_V2_COLOR_HFOV = 84.1  # degrees; the ground truth's colorX vs x/z fits f ~ 1050 px at 1920 wide
REPORT_JOINTS = ("SpineBase", "SpineShoulder", "Head", "ShoulderLeft", "ShoulderRight", "ElbowLeft", "ElbowRight",
                 "WristLeft", "WristRight", "HipLeft", "HipRight", "KneeLeft", "KneeRight", "AnkleLeft",
                 "AnkleRight")  # fmt: skip


# ---------------------------------------------------------------------------------------------
# metrics
def similarity_transform(src: np.ndarray, dst: np.ndarray, scale: bool = True) -> tuple[np.ndarray, float, np.ndarray]:
    """Umeyama: rotation ``(3, 3)``, scale and translation ``(3,)`` mapping points ``src (J, 3)``
    onto ``dst (J, 3)`` in least squares (``dst ~ c R src + t``). Non-finite rows are ignored."""
    ok = np.isfinite(src).all(1) & np.isfinite(dst).all(1)
    s, d = src[ok].astype(np.float64), dst[ok].astype(np.float64)
    mu_s, mu_d = s.mean(0), d.mean(0)
    s0, d0 = s - mu_s, d - mu_d
    u, sig, vt = np.linalg.svd(d0.T @ s0 / len(s))
    fix = np.eye(3)
    fix[2, 2] = np.sign(np.linalg.det(u @ vt))
    rot = u @ fix @ vt
    c = float((sig * np.diag(fix)).sum() / (s0**2).sum() * len(s)) if scale else 1.0
    return rot, c, mu_d - c * rot @ mu_s


def similarity_align(src: np.ndarray, dst: np.ndarray, scale: bool = True) -> np.ndarray:
    """``src (J, 3)`` moved onto ``dst (J, 3)`` by :func:`similarity_transform`."""
    rot, c, t = similarity_transform(src, dst, scale)
    return (c * src @ rot.T + t).astype(np.float32)


def alignment_angles_deg(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Per frame, the angle (degrees) of the rotation aligning ``pred`` onto ``gt`` ``(T, 25, 3)``:
    near 0 when the axis convention is right; an axis sign error shows up as ~180."""
    angles = []
    for p, g in zip(pred, gt, strict=True):
        rot, _, _ = similarity_transform(p, g)
        angles.append(math.degrees(math.acos(float(np.clip((np.trace(rot) - 1.0) / 2.0, -1.0, 1.0)))))
    return np.array(angles)


def errors_3d(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Per-frame similarity-aligned joint errors ``(T, 25)`` in metres for ``(T, 25, 3)`` inputs."""
    return np.stack([np.linalg.norm(similarity_align(p, g) - g, axis=-1) for p, g in zip(pred, gt, strict=True)])


def errors_2d(pred_xy: np.ndarray, gt_xy: np.ndarray) -> np.ndarray:
    """Per-joint pixel distances ``(T, 25)``."""
    return np.linalg.norm(pred_xy - gt_xy, axis=-1)


def swap_sides(x: np.ndarray) -> np.ndarray:
    """Exchange NTU left/right joints along axis -2 (``(..., 25, C)``)."""
    out = x.copy()
    for left, right in NTU25.left_right:
        out[..., [left, right], :] = x[..., [right, left], :]
    return out


def trajectory_metrics(pred: np.ndarray, gt: np.ndarray) -> dict:
    """Root trajectories ``(T, 3)``: per-axis correlation, per-axis std, RMS error after removing
    the mean offset (m), and the median absolute depth error (m)."""
    ok = np.isfinite(pred).all(1) & np.isfinite(gt).all(1)
    p, g = pred[ok].astype(np.float64), gt[ok].astype(np.float64)
    pc, gc = p - p.mean(0), g - g.mean(0)
    corr = [float(np.corrcoef(pc[:, i], gc[:, i])[0, 1]) if gc[:, i].std() > 1e-9 else float("nan") for i in range(3)]
    return {
        "corr": corr,
        "std_pred": pc.std(0).tolist(),
        "std_gt": gc.std(0).tolist(),
        "rmse_offset": float(np.sqrt(((pc - gc) ** 2).sum(1).mean())),
        "depth_abs": float(np.median(np.abs(p[:, 2] - g[:, 2]))),
        "frames": int(ok.sum()),
    }


# ---------------------------------------------------------------------------------------------
# running the edge source
@dataclass(frozen=True)
class Motion:
    """Synthetic camera motion applied to frame t of T: shift ``dx`` px (at full resolution) and
    zoom ``s`` about the image centre. ``s < 1`` looks like the person stepping back."""

    amplitude_px: float = 300.0
    min_scale: float = 0.7

    def at(self, t: int, total: int) -> tuple[float, float]:
        phase = t / max(1, total - 1)
        return self.amplitude_px * math.sin(2 * math.pi * phase), 1.0 - (1.0 - self.min_scale) * phase

    def apply_to_gt(self, gt_root: np.ndarray, focal: float) -> np.ndarray:
        """Where the Kinect SpineBase ``(T, 3)`` would be had the person moved as the frames do.

        Zoom s about the centre = depth / s; a shift of dx px (the NTU frames are mirrored, so
        +u is +x in Kinect space) = x + dx * depth / f."""
        out = gt_root.astype(np.float64).copy()
        for t in range(len(out)):
            dx, s = self.at(t, len(out))
            out[t, 2] = gt_root[t, 2] / s
            out[t, 0] = gt_root[t, 0] + dx * out[t, 2] / focal
            # y stays: v - cy = s f y / z = f y / (z / s)
        return out


class _MovingReader(VideoFileReader):
    """A video file whose frames are warped by a :class:`Motion` (real pixels, synthetic path)."""

    def __init__(self, path: Path, motion: Motion, total: int):
        super().__init__(path)
        self.motion, self.total = motion, total

    def __iter__(self) -> Iterator[tuple[float, np.ndarray]]:
        import cv2

        for t, (stamp, frame) in enumerate(super().__iter__()):
            h, w = frame.shape[:2]
            dx, s = self.motion.at(t, self.total)
            mat = np.array([[s, 0, (1 - s) * w / 2 + dx], [0, s, (1 - s) * h / 2]], dtype=np.float64)
            yield stamp, cv2.warpAffine(frame, mat, (w, h), borderMode=cv2.BORDER_CONSTANT, borderValue=(90, 90, 90))


def run_source(reader: VideoFileReader, config: PoseConfig, max_frames: int | None = None) -> dict:
    """First person per frame from the edge pose source: joints ``(T, 25, 3)``, image_xy
    ``(T, 25, 2)``, visibility ``(T, 25)`` (NaN / 0 where nobody was found), ms per frame."""
    joints, xy, vis = [], [], []
    t0 = time.perf_counter()
    with PoseSource("validate", reader, config) as src:
        for frame in src:
            if frame.people:
                p = frame.people[0]
                joints.append(p.joints)
                xy.append(p.image_xy)
                vis.append(p.visibility)
            else:
                joints.append(np.full((25, 3), np.nan, np.float32))
                xy.append(np.full((25, 2), np.nan, np.float32))
                vis.append(np.zeros(25, np.float32))
            if max_frames is not None and len(joints) >= max_frames:
                break
    n = max(1, len(joints))
    return {"joints": np.stack(joints), "image_xy": np.stack(xy), "visibility": np.stack(vis),
            "ms_per_frame": 1000.0 * (time.perf_counter() - t0) / n}  # fmt: skip


def native_multi_pose_counts(video: Path, pose_model: Path, width: int = 640, num_poses: int = 2) -> list[int]:
    """People per frame from MediaPipe's own ``num_poses`` in VIDEO mode (the baseline)."""
    import cv2
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision

    opts = vision.PoseLandmarkerOptions(base_options=BaseOptions(model_asset_path=str(pose_model)),
                                        running_mode=vision.RunningMode.VIDEO, num_poses=num_poses,
                                        output_segmentation_masks=False)  # fmt: skip
    counts = []
    with vision.PoseLandmarker.create_from_options(opts) as lm:
        for stamp, bgr in VideoFileReader(video):
            h, w = bgr.shape[:2]
            small = cv2.resize(bgr[:, ::-1], (width, round(h * width / w)), interpolation=cv2.INTER_AREA)
            rgb = np.ascontiguousarray(cv2.cvtColor(small, cv2.COLOR_BGR2RGB))
            result = lm.detect_for_video(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb), int(stamp * 1000))
            counts.append(len(result.pose_landmarks))
    return counts


def multi_person(data: Path, pose_model: Path, width: int = 640) -> dict:
    """Two people on NTU's two_person_hugging clip: the edge source with ``max_people=2`` vs
    MediaPipe's own ``num_poses=2``."""
    video = data / "ntu_sample" / "two_person_hugging.avi"
    config = PoseConfig(model_path=pose_model, mirror=True, process_width=width, max_people=2)
    ids: list[tuple[int, ...]] = []
    with PoseSource("hug", VideoFileReader(video), config) as src:
        for frame in src:
            ids.append(tuple(p.track_id for p in frame.people))
    pairs = [i for i in ids if len(i) == 2]
    top = max(set(pairs), key=pairs.count) if pairs else ()
    native = native_multi_pose_counts(video, pose_model, width)
    return {"frames": len(ids), "two": len(pairs), "top_pair": top, "top_pair_frames": pairs.count(top) if top else 0,
            "distinct_ids": len({i for f in ids for i in f}), "native_two": sum(c == 2 for c in native)}  # fmt: skip


def _median(e: np.ndarray) -> np.ndarray:
    return np.nanmedian(e, axis=0)


def evaluate(data: Path, pose_model: Path, width: int = 640, hfov: float = KINECT_V2_COLOR_HFOV,
             max_frames: int | None = None, unmirrored_frames: int | None = None) -> dict:  # fmt: skip
    """Everything the report needs, as arrays and numbers (see the module docstring)."""
    video = data / "ntu_sample" / f"{SAMPLE}_rgb.avi"
    gt = load_skeleton_file(data / "ntu_sample" / f"{SAMPLE}.skeleton")
    gt_xyz, gt_xy = gt.joints[:, 0], gt.image_xy[:, 0]
    base = PoseConfig(model_path=pose_model, mirror=True, process_width=width, hfov_deg=hfov)
    mirrored = run_source(VideoFileReader(video), base, max_frames)
    t = len(mirrored["joints"])
    unmirrored = run_source(VideoFileReader(video), PoseConfig(**{**base.__dict__, "mirror": False}), unmirrored_frames)
    tu = len(unmirrored["joints"])
    motion = Motion()
    moving = run_source(_MovingReader(video, motion, t), base, t)
    focal = focal_from_hfov(gt.image_size[0], hfov)
    res = {
        "frames": t,
        "ms_per_frame": mirrored["ms_per_frame"],
        "e2d": errors_2d(mirrored["image_xy"], gt_xy[:t]),
        "e2d_swapped": errors_2d(swap_sides(mirrored["image_xy"]), gt_xy[:t]),
        "e2d_unmirrored": errors_2d(unmirrored["image_xy"], gt_xy[:tu]),
        "e3d": errors_3d(mirrored["joints"], gt_xyz[:t]),
        "e3d_swapped": errors_3d(swap_sides(mirrored["joints"]), gt_xyz[:t]),
        "root_pred": mirrored["joints"][:, 0],
        "root_gt": gt_xyz[:t, 0],
        "root_moving_pred": moving["joints"][:, 0],
        "root_moving_gt": motion.apply_to_gt(gt_xyz[:t, 0], focal),
    }
    res["align_deg"] = alignment_angles_deg(mirrored["joints"], gt_xyz[:t])
    res["traj_static"] = trajectory_metrics(res["root_pred"], res["root_gt"])
    res["traj_moving"] = trajectory_metrics(res["root_moving_pred"], res["root_moving_gt"])
    # full-body camera-frame error with only one constant offset for the whole clip: what the
    # training preprocess (centre on the first frame) sees, vs root-relative per frame
    off = np.nanmedian(res["root_gt"] - res["root_pred"], axis=0)
    res["abs_cam_error"] = float(np.nanmedian(np.linalg.norm(mirrored["joints"] + off - gt_xyz[:t], axis=-1)))
    return res


# ---------------------------------------------------------------------------------------------
# report
def _row(name: str, *cols: float, fmt: str = "{:.1f}") -> str:
    return f"| {name} | " + " | ".join(fmt.format(c) for c in cols) + " |"


def write_report(res: dict, out_md: Path, out_png: Path | None, command: str) -> None:
    names = NTU25.joints
    idx = [names.index(n) for n in REPORT_JOINTS]
    e2d, e2s, e2u = _median(res["e2d"]), _median(res["e2d_swapped"]), _median(res["e2d_unmirrored"])
    e3d, e3s = (100 * _median(res[k]) for k in ("e3d", "e3d_swapped"))
    ts, tm = res["traj_static"], res["traj_moving"]
    lines = [
        "# MediaPipe -> NTU-25: measured on real NTU data",
        "",
        "Generated by `tools/validate_mapping.py` (do not edit the numbers by hand). Command:",
        "",
        f"    {command}",
        "",
        f"Clip: NTU RGB+D `{SAMPLE}` (drink water, 1920x1080 colour video, {res['frames']} frames) against its",
        "Kinect v2 `.skeleton` ground truth. The edge path under test is the product's own: `PoseSource` over",
        "the video, MediaPipe PoseLandmarker (pose_landmarker_full, VIDEO mode, frames downscaled to 640 px wide),",
        "`crossglg.skeleton.mappings.from_mediapipe33` + `mediapipe_world_to_camera`, translation recovery.",
        f"NTU colour videos are mirrored, so the source runs with `mirror=True`. Pose cost here: {res['ms_per_frame']:.0f} ms",
        "per frame including 1080p decoding (shared 2-core machine; not a benchmark).",
        "",
        "## Per-joint median errors",
        "",
        "2D: mapped image points vs colorX/colorY (pixels at 1920x1080). 3D: after a per-frame similarity",
        "(Umeyama) alignment, cm. *swapped*: the same prediction with left/right exchanged. *unmirrored*: the",
        "source run without `mirror` (MediaPipe reads the mirror image, so its sides come out exchanged).",
        "No 3D column for it: mirroring the image also reflects MediaPipe's 3D, and a reflected skeleton with",
        "exchanged labels looks like the original for near-symmetric poses, so only 2D tells them apart.",
        "",
        "| joint | 2D px | 2D swapped | 2D unmirrored | 3D cm | 3D swapped |",
        "|---|---|---|---|---|---|",
    ]
    for j, n in zip(idx, REPORT_JOINTS, strict=True):
        lines.append(_row(n, e2d[j], e2s[j], e2u[j], e3d[j], e3s[j]))
    lines.append(_row("**all 25 (mean of medians)**", e2d.mean(), e2s.mean(), e2u.mean(), e3d.mean(), e3s.mean()))
    lines += [
        "",
        "Reading: shoulders, elbows, hips and knees land within a few pixels of Kinect's colour projection",
        "with the mirror option, and several times farther with sides exchanged, so the mapping keeps",
        "MediaPipe's anatomical sides and the `mirror` option is what matches NTU's mirrored video. The left",
        "wrist/hand of this clip stays far off either way (the hand is at the mouth while drinking; Kinect and",
        "MediaPipe disagree there). Kinect's joint geometry differs from BlazePose's: Kinect hips are about",
        "half as far apart and its shoulders narrower, which is most of the remaining 3D error at the hips",
        "(pulling the mapped hips inwards trades the left hip's 2D error for the right's: left as is).",
        "",
        "Axis convention (`mediapipe_world_to_camera`: x -> -x, y -> -y): the rotation that aligns the mapped",
        f"skeleton with Kinect's has a median angle of {np.median(res['align_deg']):.1f} degrees over the clip (a sign",
        "error would make it ~180): the convention is right and unchanged.",
        "",
        "## Global translation: decision",
        "",
        "MediaPipe world landmarks are metric but centred on the hips in every frame; Kinect data (and the",
        "training preprocess default `center=\"first_frame\"`) keep the body's movement through the room",
        "(walking, sitting down, jumping). **Decision: the edge recovers the translation** and reports",
        "camera-frame joints, so training data and the edge agree without retraining root-relative. Per",
        "person and frame, `edge.pose.recover_translation` solves the pinhole equations",
        "`u - cx = f (X + tx) / (Z + tz)` (and v) for t in linear least squares over the visible landmarks,",
        "with f from an assumed horizontal field of view (`PoseConfig.hfov_deg`, default 60 degrees for",
        "webcams; 84.1 for Kinect v2 colour, used here). A wrong FOV scales depth and depth motion",
        "proportionally; the preprocess later scales by torso length and centres on the first frame, so",
        "only the relative motion matters. `translation=\"none\"` gives hip-centred joints (for a model",
        "trained with `center=\"per_frame\"`).",
        "",
        "| trajectory (root vs Kinect SpineBase) | corr x | corr y | corr z | std pred (cm) x/y/z | std truth (cm) x/y/z | RMS after offset (cm) | median abs depth error (cm) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, m in (("clip as recorded (person stands still)", ts), ("synthetic motion (frames shifted/zoomed)", tm)):
        corr = " | ".join(f"{c:.2f}" for c in m["corr"])
        sp = "/".join(f"{100 * v:.1f}" for v in m["std_pred"])
        sg = "/".join(f"{100 * v:.1f}" for v in m["std_gt"])
        lines.append(f"| {name} | {corr} | {sp} | {sg} | {100 * m['rmse_offset']:.1f} | {100 * m['depth_abs']:.1f} |")
    lines += [
        "",
        f"All 25 joints in camera space with one constant offset for the whole clip: median error "
        f"{100 * res['abs_cam_error']:.1f} cm.",
        "",
        "Reading: the person in the sample barely moves (ground-truth SpineBase std below 1 cm), so the first",
        "row mostly shows the recovery's jitter, largest in depth. The synthetic row warps the real frames",
        "over time (a horizontal shift of up to 300 px, i.e. about +-1 m at 3.8 m, and a zoom to 0.7x, i.e.",
        "stepping back about 1.6 m) and moves the ground truth the same way: the recovered trajectory follows",
        "it, which is what the training data's global translation carries.",
        "",
    ]
    mp_ = res.get("multi")
    if mp_ is not None:
        lines += [
            "## Several people",
            "",
            "BlazePose is a single-person model. On NTU's `two_person_hugging.avi` (two people walk up to each",
            f"other and hug, {mp_['frames']} frames), MediaPipe's own `num_poses=2` in VIDEO mode returns two people in",
            f"**{mp_['native_two']}** frames: it keeps tracking the first person and never looks for another. The edge",
            "source therefore runs one single-person VIDEO landmarker per slot (`max_people` slots), each on the",
            "frame with the other slots' people painted out in flat grey (torso polygon, thick limbs, head disc),",
            "so an empty slot's detector finds someone not yet tracked; a slot landing on an already accepted",
            "person is dropped for that frame. Identities come from the Hungarian tracker on hip-centre",
            f"pixels. Result with `--max-people 2`: two people in **{mp_['two']}/{mp_['frames']}** frames, the same",
            f"two track ids {tuple(mp_['top_pair'])} in {mp_['top_pair_frames']} of them, {mp_['distinct_ids']} distinct ids",
            "over the clip. Cost grows linearly with `max_people` (one landmarker pass per slot).",
            "",
        ]
    if out_png is not None:
        _figure(res, idx, out_png)
        lines += [f"![per-joint errors and root trajectories]({out_png.relative_to(out_md.parent).as_posix()})", ""]
    atomic_write(out_md, "\n".join(lines))


def _figure(res: dict, idx: list[int], out_png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.5))
    x = np.arange(len(idx))
    for k, (key, label) in enumerate((("e2d", "mirror (used)"), ("e2d_swapped", "sides swapped"), ("e2d_unmirrored", "unmirrored"))):
        axes[0].bar(x + (k - 1) * 0.27, _median(res[key])[idx], width=0.27, label=label)
    axes[0].set_xticks(x, REPORT_JOINTS, rotation=70, fontsize=7)
    axes[0].set_ylabel("median 2D error (px, 1920x1080)")
    axes[0].legend(fontsize=8)
    for k, (key, label) in enumerate((("e3d", "mirror (used)"), ("e3d_swapped", "sides swapped"))):
        axes[1].bar(x + (k - 0.5) * 0.4, 100 * _median(res[key])[idx], width=0.4, label=label)
    axes[1].set_xticks(x, REPORT_JOINTS, rotation=70, fontsize=7)
    axes[1].set_ylabel("median 3D error after similarity alignment (cm)")
    axes[1].legend(fontsize=8)
    pred, gt = res["root_moving_pred"], res["root_moving_gt"]
    off = np.nanmean(gt - pred, axis=0)
    for i, (axis, colour) in enumerate(zip("xyz", ("C0", "C1", "C2"), strict=True)):
        axes[2].plot(gt[:, i], colour, label=f"truth {axis}")
        axes[2].plot(pred[:, i] + off[i], colour + "--", label=f"recovered {axis}")
    axes[2].set_xlabel("frame")
    axes[2].set_ylabel("root position (m), synthetic motion")
    axes[2].legend(fontsize=7, ncol=2)
    fig.tight_layout()
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--pose-model", type=Path, default=None, help="default: edge.models discovery")
    parser.add_argument("--width", type=int, default=640, help="process width for MediaPipe")
    parser.add_argument("--hfov", type=float, default=KINECT_V2_COLOR_HFOV)
    parser.add_argument("--out", type=Path, default=Path("docs/mediapipe_mapping.md"))
    parser.add_argument("--figure", type=Path, default=Path("docs/figures/mediapipe_mapping.png"))
    args = parser.parse_args(argv)
    from edge.models import find_pose_model

    model = find_pose_model(args.pose_model)
    res = evaluate(args.data, model, args.width, args.hfov)
    res["multi"] = multi_person(args.data, model, args.width)
    command = "python tools/validate_mapping.py " + " ".join(argv if argv is not None else sys.argv[1:])
    write_report(res, args.out, args.figure, command.strip())
    print(args.out.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
