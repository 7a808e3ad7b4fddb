"""MSRC-12 Kinect gesture dataset: long recordings ``PA_B_C_pNN.csv`` cut into one clip per tagged instance.

Files (``MicrosoftGestureDataset-RC/data``):

- ``.csv``: one frame per line, space separated: a timestamp (microseconds), then 20 Kinect v1
  joints (SDK order = NTU joints 1-20) x ``(x, y, z, confidence)``, metres, Kinect camera axes.
  A frame of all zeros means no skeleton (NaN here); every recording starts with ~20 of them.
  Timestamps: median spacing 33.1 ms (30.2 fps), mean 34.4 ms (29.1 fps: a few dropped frames,
  gaps up to 81 ms) over the 60 real files, so :data:`~crossglg.datasets.classes.FPS` says 30.
- ``.tagstream``: header ``XQPCTick;Tag``, then one ``tick;G<n> <name>`` line per gesture
  instance, at the moment the gesture is "performed". A tick is converted to csv time as the
  source's loader does: ``(tick * 1000 + 49875 / 2) / 49875`` microseconds.

Sides: as recorded, a body facing the camera has its left shoulder at smaller x (all 60 files) and
the labelled-right arm does the one-handed gestures (push right 51/51 instances, throw 52/52, the
right ankle moves most in 39/40 kicks): no mirroring (docs/datasets.md).

Clip window (docs/datasets.md, "MSRC-12"): :data:`BEFORE_S` = 2.0 s before the tag to
:data:`AFTER_S` = 1.25 s after it, rest to rest. Tags sit at the end of the gesture's stroke: over
the 285 instances with no other tag within 3 s, the median motion energy (joint speeds relative to
the hip, each instance scaled to its peak) is at its resting level (0.19-0.23) until -1.75 s,
rises to a peak at -0.5 s, drops at the tag, shows the return movement to +1.25 s and is back at
rest (0.24) from there. Consecutive tags can be closer (1.6 s at least, median 3.05 s; 57% of
gaps are under 3.25 s): there the gap is split in the same 2.0 : 1.25 proportion, so no frame
belongs to two clips and each clip keeps its own stroke.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from crossglg.skeleton.mappings import from_kinect_v1

from .readers import _finalize
from .sample import FormatError
from .text_table import read_number_table

JOINTS = 20
FIELDS = 1 + JOINTS * 4
LAYOUT = "timestamp, then 20 joints x (x, y, z, confidence), space separated"
TAG_HEADER = "XQPCTick;Tag"
TICKS_PER_MS = 49875  # the source's tick -> microsecond conversion: (tick * 1000 + 49875 / 2) / 49875
BEFORE_S = 2.0
AFTER_S = 1.25
_TAG = re.compile(r"G([0-9]{1,4})\s+\S.*")  # ASCII digits, bounded: int() never sees 5,000 digits
MAX_TICK_DIGITS = 19  # an int64 tick; longer would overflow the float conversion


@dataclass(frozen=True)
class Tag:
    """One tagged gesture instance: ``time_us`` on the csv clock, ``gesture`` 1..12, ``line`` in the file."""

    time_us: float
    gesture: int
    name: str
    line: int


@dataclass(frozen=True)
class Clip:
    """Frames ``start:stop`` of a recording around tag number ``index`` (1-based, file order)."""

    index: int
    tag: Tag
    start: int
    stop: int


def tick_to_us(tick: int) -> float:
    """A ``.tagstream`` XQPC tick -> csv timestamp (microseconds), as the source's ``load_tagstream.m``."""
    return (tick * 1000 + TICKS_PER_MS / 2) / TICKS_PER_MS


def read_msrc12_table(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """``(timestamps (T,) float64 us, joints (T, 20, 3) float64 m)``; confidences are dropped
    (1.0 for every joint of the real files)."""
    path = Path(path)
    table, lines = read_number_table(path, FIELDS, None, LAYOUT)
    times = table[:, 0]
    back = np.flatnonzero(np.diff(times) <= 0)
    if back.size:
        k = int(back[0]) + 1
        raise FormatError(
            path, f"field 1: timestamp {times[k]:.0f} is not after the previous one ({times[k - 1]:.0f})", line=lines[k]
        )
    return times, table[:, 1:].reshape(-1, JOINTS, 4)[..., :3]


def read_msrc12_csv(path: str | Path) -> np.ndarray:
    """A whole MSRC-12 recording -> ``(T, 1, 25, 3)`` float32 (no-skeleton frames NaN)."""
    path = Path(path)
    _, xyz = read_msrc12_table(path)
    return from_kinect_v1(_finalize(path, xyz))


def read_msrc12_times(path: str | Path) -> np.ndarray:
    """The timestamp column ``(T,)`` float64 (microseconds) alone, checked like :func:`read_msrc12_table`."""
    path = Path(path)
    try:
        lines = [(k + 1, line) for k, line in enumerate(path.read_text(encoding="ascii").splitlines()) if line.strip()]
        firsts = [line.split(None, 1)[0] for _, line in lines]
        times = np.array(firsts, dtype=np.float64)
    except (UnicodeDecodeError, ValueError):
        return read_msrc12_table(path)[0]  # the full parse names the bad line
    if not lines or np.any(np.diff(times) <= 0) or not np.isfinite(times).all():
        return read_msrc12_table(path)[0]
    return times


def read_tagstream(path: str | Path) -> list[Tag]:
    """``.tagstream`` -> tags in file order; :class:`FormatError` names the line for a bad header,
    tick or tag name (expected ``G<n> <name>``)."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="ascii").splitlines()
    except UnicodeDecodeError as exc:
        raise FormatError(path, f"not a text file ({exc.reason}); expected '{TAG_HEADER}' lines") from None
    if not lines or lines[0].strip() != TAG_HEADER:
        got = lines[0][:40] if lines else ""
        raise FormatError(path, f"expected the header {TAG_HEADER!r}, got {got!r}", line=1)
    tags: list[Tag] = []
    for lineno, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        tick, sep, name = line.strip().partition(";")
        if not sep or not (tick.isascii() and tick.isdigit() and len(tick) <= MAX_TICK_DIGITS):
            raise FormatError(
                path, f"expected 'tick;tag' with an integer tick of at most {MAX_TICK_DIGITS} digits, "
                f"got {line[:60]!r}", line=lineno,
            )  # fmt: skip
        m = _TAG.fullmatch(name.strip())
        if not m:
            raise FormatError(path, f"tag {name[:40]!r}: expected 'G<n> <gesture name>'", line=lineno)
        tags.append(Tag(tick_to_us(int(tick)), int(m.group(1)), " ".join(name.split()[1:]), lineno))
    return tags


def clip_windows(times_us: np.ndarray, tags: list[Tag]) -> list[Clip]:
    """One :class:`Clip` per tag: frames with ``tag - BEFORE_S <= t < tag + AFTER_S``, shrunk where
    neighbouring tags are closer than ``BEFORE_S + AFTER_S`` (the gap is split before : after).

    Tags are taken in time order for the neighbour rule; a window may hold no frame (a tag outside
    the recording) and then has ``start == stop``.
    """
    order = sorted(range(len(tags)), key=lambda k: tags[k].time_us)
    share = AFTER_S / (BEFORE_S + AFTER_S)
    clips: list[Clip] = []
    for pos, k in enumerate(order):
        c = tags[k].time_us
        lo, hi = c - BEFORE_S * 1e6, c + AFTER_S * 1e6
        if pos > 0:
            prev = tags[order[pos - 1]].time_us
            lo = max(lo, prev + share * (c - prev))
        if pos + 1 < len(order):
            nxt = tags[order[pos + 1]].time_us
            hi = min(hi, c + share * (nxt - c))
        start, stop = np.searchsorted(times_us, [lo, hi], side="left")
        clips.append(Clip(k + 1, tags[k], int(start), int(stop)))
    return sorted(clips, key=lambda clip: clip.index)


def msrc12_clips(csv_path: str | Path) -> list[Clip]:
    """The clips of one recording: its csv's timestamps and the sibling ``.tagstream``'s tags.

    Raises :class:`FormatError` for a bad or missing tagstream, a bad csv, or a tagstream with no tag.
    """
    csv_path = Path(csv_path)
    tag_path = csv_path.with_suffix(".tagstream")
    if not tag_path.is_file():
        raise FormatError(csv_path, f"no tagstream file {tag_path.name} next to the recording (it says where to cut)")
    tags = read_tagstream(tag_path)
    if not tags:
        raise FormatError(tag_path, "no tagged gesture instance after the header", line=2)
    return clip_windows(read_msrc12_times(csv_path), tags)



_NAME = re.compile(r"P([0-9])_([0-9])_([0-9]{1,9})(A?)_p([0-9]{1,9})")
# [#A] of the file name: the PDF's numbered instruction modalities; [#B] = 2 when text was added
# (the PDF's five conditions: text, images, video, images + text, video + text).
_MODALITY = {1: "text", 2: "images", 3: "video"}


def msrc12_name(path: Path, root: Path) -> tuple[str, int, int, dict]:
    """``PA_B_C[A]_pNN.csv`` -> ``(stem, C - 1, NN, meta)`` for the whole recording (see :func:`msrc12_samples`)."""
    m = _NAME.fullmatch(path.stem)
    if not m:
        raise ValueError("expected P<A>_<B>_<gesture>[A]_p<person>.csv, e.g. P3_2_10A_p02.csv")
    a, b, gesture, variant, person = m.groups()
    a, b = int(a), int(b)
    if a not in _MODALITY or b not in (1, 2):
        raise ValueError(f"instruction code P{a}_{b}: expected P1..P3 and _1 or _2")
    modality = _MODALITY[a] + ("+text" if b == 2 and a != 1 else "")
    meta = {"instruction": f"P{a}_{b}", "modality": modality, "gesture": int(gesture), "variant": variant}
    return path.stem, int(gesture) - 1, int(person), meta


def msrc12_samples(path: Path, info: tuple[str, int, int, dict]) -> list[tuple[str, int, int, dict, slice]]:
    """One ``(name, label, subject, meta, frames)`` per tag of the recording ``path``.

    Names are ``<stem>#<k>`` (k = 1-based instance in tag-file order, two digits); the label is the
    tag's gesture, which must agree with the file name's (else :class:`FormatError` naming the
    tag line); ``meta`` adds ``instance``, ``tag_line`` and ``tag_time_us``.
    """
    stem, label, subject, meta = info
    out = []
    for clip in msrc12_clips(path):
        tag = clip.tag
        if tag.gesture - 1 != label:
            raise FormatError(
                path.with_suffix(".tagstream"), f"tag G{tag.gesture}, but the file name says G{label + 1}", line=tag.line
            )
        extra = {"instance": clip.index, "tag_line": tag.line, "tag_time_us": int(round(tag.time_us))}
        out.append((f"{stem}#{clip.index:02d}", label, subject, {**meta, **extra}, slice(clip.start, clip.stop)))
    return out
