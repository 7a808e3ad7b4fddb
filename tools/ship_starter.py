"""Install a trained checkpoint into the package as the starter model (issue 12, item 4).

    python tools/ship_starter.py runs/starter_s0/final.pt --data-root ../shared/data

Steps, each printed: export the FP32 ONNX (``crossglg-train export`` with its torch/ORT parity
check), write its compact float32 base statistics (low rank + diagonal, ``crossglg.basestats``),
quantise an INT8 file for ONNX Runtime's CPU provider (``crossglg-calib quantize --target ort-cpu``
on windows of the checkpoint's own training protocol), check every file is at most ``--max-mb``
and that INT8 embeddings agree with FP32 on real windows, then copy the files, the model card and
``models.json`` (names, sizes, sha256s) into ``--dest`` (default: the package's ``edge/starter``)
and verify the installed result through the edge's own loader. Nothing in ``--dest`` changes
unless every check passed. Files of an earlier ship that the new registry no longer names are removed.
``--refresh`` only rewrites ``models.json`` (sizes, sha256s) for the installed files after their
metadata changed in place, e.g. window-level open-set values from ``tools/bench/edge_open_set.py
--calibrate-into``, and verifies them; other weights than the registry's are refused.

``--open-set-from runs/benchmark/benchmark.json`` stores the benchmark's calibrated open-set values
(``crossglg.open_set`` metadata, :mod:`train.open_set_meta`) in the FP32 file before quantising, so
the INT8 file carries them too; the edge then uses them when no ``--threshold``/``--margin`` is given.
The ranking method (the best of centred cosine, DC and the fused score on the benchmark's
protocols) travels with them; with a fused ranking the fusion weight is this checkpoint's own
(:func:`train.fusion.checkpoint_fusion`, from its base clips), the thresholds the benchmark's; a benchmark.json calibrated before that decision is recalibrated from its saved episodes.
The starter trains on every class, so it cannot be benchmarked itself: the values come from the
benchmark of its recipe-mate held out from the protocols' novel classes (protocol bench-heldout).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crossglg.atomic import atomic_write  # noqa: E402
from crossglg.basestats import DEFAULT_RANK, basestats_path, write_base_stats  # noqa: E402
from crossglg.model_meta import decode_classes, read_onnx_metadata  # noqa: E402
from edge.installed_models import FORMAT, PACKAGE_DIR, REGISTRY, installed_models, sha256_of  # noqa: E402

LICENCE = ("research use only: trained on datasets licensed for non-commercial research "
           "(see the model card)")  # fmt: skip


def log(msg: str) -> None:
    print(msg, flush=True)


def export_fp32(ckpt_path: Path, out: Path, rank: int) -> tuple[Path, Path]:
    """FP32 ONNX + compact base statistics; raises ValueError on a parity failure or no statistics."""
    from train.checkpoint import load_checkpoint
    from train.commands.export import export_checkpoint, parity
    from train.export_stats import checkpoint_base_stats

    ckpt = load_checkpoint(ckpt_path)
    stats, center, classes = checkpoint_base_stats(ckpt)
    if stats is None or center is None:
        raise ValueError(f"{ckpt_path}: no base statistics (not a final checkpoint?); ship a final.pt")
    onnx_path = export_checkpoint(ckpt_path, out)
    diff = parity(ckpt_path, onnx_path)
    if diff > 1e-4:
        raise ValueError(f"ONNX parity check failed: {diff:.2e} > 1e-4")
    log(f"exported {onnx_path} ({onnx_path.stat().st_size / 1e6:.2f} MB), torch vs ONNX Runtime {diff:.1e}")
    fingerprint = read_onnx_metadata(onnx_path)["fingerprint"]
    side = write_base_stats(basestats_path(onnx_path), stats, center, fingerprint,
                            classes if len(classes) == len(stats.means) else (), form="lowrank", rank=rank)  # fmt: skip
    log(f"wrote {side} ({side.stat().st_size / 1e6:.2f} MB): {len(stats.means)} classes, rank {rank} + diagonal, float32")
    return onnx_path, side


def check_budget(files: list[Path], max_mb: float) -> None:
    """SystemExit naming every file over ``max_mb`` MB (before anything is installed)."""
    too_big = [f"{f.name} {f.stat().st_size / 1e6:.2f} MB" for f in files if f.stat().st_size > max_mb * 1e6]
    if too_big:
        raise SystemExit(f"ship_starter: over the {max_mb:g} MB per-file budget: {', '.join(too_big)}; "
                         "nothing installed (lower --rank for the statistics)")  # fmt: skip
    log("sizes: " + ", ".join(f"{f.name} {f.stat().st_size / 1e6:.2f} MB" for f in files) + f" (budget {max_mb:g} MB each)")


def quantize_int8(fp32: Path, out: Path, data_root: Path, protocol: str, windows: int) -> Path:
    from calib.cli import main as calib_main

    argv = [str(fp32), "--data-root", str(data_root), "--protocol", protocol, "--target", "ort-cpu",
            "--windows", str(windows), "--out", str(out), "--no-progress"]  # fmt: skip
    log("crossglg-calib quantize " + " ".join(argv))
    code = calib_main(["quantize", *argv])
    if code != 0:
        raise ValueError(f"crossglg-calib quantize failed (exit {code})")
    return out


def agreement(fp32: Path, int8: Path, data_root: Path, protocol: str, count: int) -> float:
    """Mean cosine of FP32 vs INT8 embeddings on ``count`` real windows other than calibration's."""
    from calib.windows import calibration_windows, model_input_spec, protocol_split
    from edge.runtime import open_model

    split = protocol_split(protocol, data_root)
    x = calibration_windows(split.train, model_input_spec(fp32), count, seed=12345)
    with open_model(fp32, threads=1) as a, open_model(int8, threads=1) as b:
        ea, eb = a.embed(x), b.embed(x)
    cos = (ea * eb).sum(1) / (np.linalg.norm(ea, axis=1) * np.linalg.norm(eb, axis=1) + 1e-12)
    return float(cos.mean())


def entry(name: str, path: Path, stats: Path, precision: str, card: str | None) -> dict:
    meta = read_onnx_metadata(path)
    return {"name": name, "file": path.name, "sha256": sha256_of(path), "size": path.stat().st_size,
            "precision": precision, "base_stats": stats.name, "base_stats_sha256": sha256_of(stats),
            "base_stats_size": stats.stat().st_size, "model_card": card, "licence": LICENCE,
            "classes": len(decode_classes(meta)), "preprocess_id": meta.get("preprocess_id", ""),
            "model_id": meta.get("model_id", ""), "fingerprint": meta.get("fingerprint", "")}  # fmt: skip


def install(work: Path, dest: Path, files: list[Path], registry: dict) -> None:
    """Copy ``files`` and write ``models.json`` last (atomic each); drop files only the old registry named."""
    old = set()
    for m in installed_models(dest):
        old |= {m.model.path.name} | ({m.base_stats.path.name} if m.base_stats else set())
        old |= {m.model_card.name} if m.model_card else set()
    dest.mkdir(parents=True, exist_ok=True)
    for f in files:
        atomic_write(dest / f.name, f.read_bytes())
    atomic_write(dest / REGISTRY, json.dumps(registry, indent=1) + "\n")
    for stale in old - {f.name for f in files}:
        (dest / stale).unlink(missing_ok=True)
        log(f"removed {dest / stale} (not in the new registry)")


def verify_installed(dest: Path) -> None:
    """Load every installed model through the edge's own path: sha256, ONNX Runtime, base statistics."""
    from edge.runtime import matching_aids, open_model

    for m in installed_models(dest):
        m.verify()
        with open_model(m.model.path, threads=1, base_stats=m.base_stats.path if m.base_stats else None) as eng:
            aids = matching_aids(eng)
            if m.base_stats is not None and aids.base_stats is None:
                raise ValueError(f"{m.name}: base statistics not picked up")
            stored, fusion = eng.meta.open_set, eng.meta.fusion
        log(f"verified {m.name}: {m.model.path} ({m.model.size / 1e6:.2f} MB, sha256 ok, {m.classes} classes, "
            f"DC statistics {'yes' if aids.base_stats is not None else 'no'}, centre "
            f"{'yes' if aids.center is not None else 'no'}, open-set values "
            f"{'built-in defaults' if stored is None else 'calibrated'}"
            f"{'' if stored is None or stored.ranking is None else f', ranking {stored.ranking}'}"
            f"{'' if fusion is None else f', fusion weight {fusion.weight:.3f}'})")  # fmt: skip


def refresh(dest: Path) -> None:
    """Rewrite ``models.json`` for the files already in ``dest`` (sizes, sha256s, metadata) after their
    metadata was changed in place (e.g. ``tools/bench/edge_open_set.py --calibrate-into``), then verify."""
    path = dest / REGISTRY
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        models = doc["models"]
    except (OSError, ValueError, KeyError) as exc:
        raise SystemExit(f"ship_starter: --refresh: cannot read {path} ({exc})") from None
    rows = []
    for m in models:
        f, stats = dest / m["file"], dest / m["base_stats"]
        if not f.is_file() or not stats.is_file():
            raise SystemExit(f"ship_starter: --refresh: {m['name']}: {f.name} or {stats.name} missing in {dest}")
        if read_onnx_metadata(f).get("fingerprint") != m.get("fingerprint"):
            raise SystemExit(f"ship_starter: --refresh: {f} holds other weights than the registry's {m['name']}; ship it anew")
        rows.append(entry(m["name"], f, stats, m["precision"], m.get("model_card")))
    atomic_write(path, json.dumps({**doc, "models": rows}, indent=1) + "\n")
    log(f"refreshed {path}: " + ", ".join(f"{r['name']} sha256 {r['sha256'][:16]}..." for r in rows))
    verify_installed(dest)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoint", type=Path, nargs="?", default=None,
                    help="a final.pt of `crossglg-train train` (with base statistics)")
    ap.add_argument("--refresh", action="store_true",
                    help="only rewrite models.json for the files in --dest after their metadata changed, and verify")
    ap.add_argument("--data-root", type=Path, default=None, help="real data (INT8 calibration windows; required to ship)")
    ap.add_argument("--dest", type=Path, default=PACKAGE_DIR, help=f"install directory (default {PACKAGE_DIR})")
    ap.add_argument("--name", default="starter", help="model name (the INT8 file is NAME-int8)")
    ap.add_argument("--default", choices=("fp32", "int8"), default="fp32", help="which file runs without --model")
    ap.add_argument("--protocol", default=None, help="calibration windows' protocol (default: the checkpoint's)")
    ap.add_argument("--windows", type=int, default=512, help="INT8 calibration windows (default 512)")
    ap.add_argument("--rank", type=int, default=DEFAULT_RANK, help=f"base statistics rank (default {DEFAULT_RANK})")
    ap.add_argument("--max-mb", type=float, default=10.0, help="largest file allowed, MB (default 10)")
    ap.add_argument("--min-cosine", type=float, default=0.98, help="least mean FP32/INT8 embedding cosine")
    ap.add_argument("--model-card", type=Path, default=ROOT / "docs" / "model-card.md")
    ap.add_argument("--open-set-from", type=Path, default=None, metavar="BENCHMARK.json",
                    help="store this benchmark's calibrated open-set values in the shipped files")
    ap.add_argument("--target-far", type=float, default=None, metavar="F",
                    help="with --open-set-from: recalibrate for this false-accept rate (default: the benchmark's)")
    args = ap.parse_args(argv)
    if args.refresh:
        refresh(args.dest)
        return 0
    if args.checkpoint is None or args.data_root is None:
        ap.error("a checkpoint and --data-root are needed to ship (or --refresh)")

    from train.checkpoint import load_checkpoint

    t0 = time.perf_counter()
    open_set = None
    if args.open_set_from is not None:  # read (and refused) before the minutes of export and quantisation
        from train.open_set_meta import calibration_from_results

        try:
            open_set = calibration_from_results(args.open_set_from, args.target_far)
        except ValueError as exc:
            raise SystemExit(f"ship_starter: --open-set-from: {exc}") from None
    elif args.target_far is not None:
        raise SystemExit("ship_starter: --target-far needs --open-set-from")
    if open_set is not None and open_set.get("fusion") is not None:  # fused ranking: this model's own weight
        from crossglg.pose_features import encode_fusion
        from train.fusion import checkpoint_fusion

        own = checkpoint_fusion(args.checkpoint, args.data_root)
        log(f"score fusion: weight {own.weight:.3f} learned from this checkpoint's base clips ({own.source}); "
            f"the benchmark model's was {open_set['fusion']['weight']:.3f}")  # fmt: skip
        open_set = {**open_set, "fusion": json.loads(encode_fusion(own))}
    protocol = args.protocol or str(load_checkpoint(args.checkpoint).get("protocol") or "")
    if not protocol:
        raise SystemExit("ship_starter: the checkpoint names no protocol; pass --protocol")
    with tempfile.TemporaryDirectory(prefix="ship-") as tmp:
        work = Path(tmp)
        fp32, stats = export_fp32(args.checkpoint, work / f"{args.name}.onnx", args.rank)
        if open_set is not None:
            from train.open_set_meta import describe, write_open_set

            log(f"open-set values in {fp32.name} (INT8 inherits them): {describe(write_open_set(fp32, open_set))}")
        int8 = quantize_int8(fp32, work / f"{args.name}-int8.onnx", args.data_root, protocol, args.windows)
        files = [fp32, int8, stats]
        check_budget(files, args.max_mb)
        cos = agreement(fp32, int8, args.data_root, protocol, 64)
        log(f"INT8 vs FP32 embeddings on 64 real windows: mean cosine {cos:.4f}")
        if cos < args.min_cosine:
            raise SystemExit(f"ship_starter: INT8 agreement {cos:.4f} < --min-cosine {args.min_cosine}; nothing installed")
        card = None
        if args.model_card.is_file():
            shutil.copyfile(args.model_card, work / "model-card.md")
            files.append(work / "model-card.md")
            card = "model-card.md"
        names = {"fp32": args.name, "int8": f"{args.name}-int8"}
        registry = {"format": FORMAT, "default": names[args.default],
                    "models": [entry(names["fp32"], fp32, stats, "fp32", card),
                               entry(names["int8"], int8, stats, "int8", card)]}  # fmt: skip
        install(work, args.dest, files, registry)
    for f in registry["models"]:
        log(f"installed {f['name']}: {args.dest / f['file']} ({f['size'] / 1e6:.2f} MB, sha256 {f['sha256'][:16]}...)")
    log(f"wrote {args.dest / REGISTRY} (default: {registry['default']})")
    verify_installed(args.dest)
    log(f"done in {time.perf_counter() - t0:.0f} s; try `crossglg-edge models list`")
    return 0


if __name__ == "__main__":
    sys.exit(main())
