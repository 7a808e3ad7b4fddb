"""Command-line options that choose and configure a source, shared by `run`, `enroll` and friends.

    add_source_arguments(parser)          # --camera N | --video PATH | --skeleton PATH | --kinect-azure [N]
    with source_from_args(args) as src:   # -> edge.sources.Source
        for frame in src: ...
"""

from __future__ import annotations

import argparse

from .pose import TRANSLATION_MODES
from .sources import Source


def add_source_arguments(parser: argparse.ArgumentParser, required: bool = True) -> None:
    """Add the source selection (exactly one) and the pose options to ``parser``."""
    group = parser.add_argument_group("source")
    which = group.add_mutually_exclusive_group(required=required)
    which.add_argument("--camera", metavar="N", help="camera index (or a device path / stream URL)")
    which.add_argument("--video", metavar="PATH", help="video file")
    which.add_argument("--skeleton", metavar="PATH",
                       help="recorded skeletons: NTU .skeleton, UTD .mat, NW-UCLA .json, GTU .txt, IRDS .csv, .npy/.npz")  # fmt: skip
    which.add_argument("--kinect-azure", metavar="N", nargs="?", const=0, type=int,
                       help="Azure Kinect body tracking (needs pykinect_azure and Microsoft's SDKs)")  # fmt: skip
    pose = parser.add_argument_group("pose (camera and video sources)")
    pose.add_argument("--pose-model", metavar="PATH", default=None,
                      help="pose_landmarker_full.task (default: $CROSSGLG_POSE_MODEL, then the user cache; "
                           "`crossglg-edge models fetch` puts it there)")  # fmt: skip
    pose.add_argument("--max-people", type=int, default=1,
                      help="people tracked at once (cost grows with it; default %(default)s)")  # fmt: skip
    pose.add_argument("--mirror", action="store_true",
                      help="the image is mirrored (selfie view, NTU colour videos): flip before pose")  # fmt: skip
    pose.add_argument("--hfov", type=float, default=60.0,
                      help="camera horizontal field of view in degrees, for recovering depth/translation")  # fmt: skip
    pose.add_argument("--translation", choices=TRANSLATION_MODES, default="recover",
                      help="recover: camera-frame joints (default); none: hip-centred joints")  # fmt: skip
    pose.add_argument("--process-width", type=int, default=640, help="downscale frames to this width for pose")
    pose.add_argument("--read-timeout", type=float, default=3.0, help="seconds without a camera frame before failing")
    parser.add_argument("--fps", type=float, default=None,
                        help="frame rate of a --skeleton file (default: the file's, else its dataset's; "
                             "videos and cameras report their own)")  # fmt: skip


def source_from_args(args: argparse.Namespace) -> Source:
    """Build the :class:`Source` the parsed options describe (not opened yet)."""
    pose = {"hfov_deg": args.hfov, "translation": args.translation, "process_width": args.process_width}
    common = {"pose_model": args.pose_model, "max_people": args.max_people, **pose}
    fps = getattr(args, "fps", None)
    if fps is not None and not (fps > 0 and fps <= 1000):
        raise ValueError(f"--fps: expected a frame rate in (0, 1000], got {fps:g}")
    if args.skeleton is not None:
        return Source.from_skeleton_file(args.skeleton, fps=fps)
    if fps is not None:  # never ignored silently
        raise ValueError("--fps sets the frame rate of a --skeleton file; a video or camera reports its own")
    if args.video is not None:
        return Source.from_video(args.video, mirror=args.mirror, **common)
    if args.kinect_azure is not None:
        return Source.from_kinect_azure(args.kinect_azure)
    if args.camera is None:
        raise ValueError("choose a source: --camera N, --video PATH, --skeleton PATH or --kinect-azure")
    index: int | str = int(args.camera) if str(args.camera).isdigit() else args.camera
    return Source.from_camera(index, mirror=args.mirror, read_timeout_s=args.read_timeout, **common)
