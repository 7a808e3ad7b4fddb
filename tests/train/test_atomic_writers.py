"""Training-side writers are atomic: when writing fails the previous file stays byte-identical."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from crossglg import atomic  # noqa: E402
from train.checkpoint import FORMAT, load_checkpoint, save_checkpoint  # noqa: E402
from train.config import load_config, save_config  # noqa: E402
from train.metrics import MetricsLog  # noqa: E402
from train.plots import confusion_png  # noqa: E402


def _payload(epoch: int, **extra: object) -> dict:
    lin = torch.nn.Linear(3, 2)
    return {"format": FORMAT, "epoch": epoch, "model": lin.state_dict(), "config": {}, "class_names": ["a", "b"],
            "layout": "ntu25", "preprocess": {}, "preprocess_id": "pp", **extra}  # fmt: skip


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_checkpoint_writer_error_keeps_old_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "last.pt"
    save_checkpoint(path, _payload(1))
    old = path.read_bytes()
    # torch.save has written part of the archive when it meets the unpicklable object
    with pytest.raises(Exception, match="(?i)pickle"):
        save_checkpoint(path, _payload(2, hook=lambda: None))
    assert path.read_bytes() == old
    assert _files(tmp_path) == ["last.pt"]
    assert load_checkpoint(path)["epoch"] == 1


def test_train_writers_keep_old_files_when_replace_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ckpt, cfg_path, csv, png = tmp_path / "c.pt", tmp_path / "config.yaml", tmp_path / "metrics.csv", tmp_path / "m.png"
    save_checkpoint(ckpt, _payload(1))
    cfg = load_config(None, ["optim.epochs=7"])
    save_config(cfg, cfg_path)
    log = MetricsLog(csv)
    log.append({"epoch": 0, "loss": 1.0})
    log.append({"epoch": 1, "loss": 0.5})
    log.plot(png)
    confusion_png(np.eye(2, dtype=np.int64), ["a", "b"], tmp_path / "cm.png")
    before = {name: (tmp_path / name).read_bytes() for name in _files(tmp_path)}
    assert len(before) == 5 and before["m.png"].startswith(b"\x89PNG")

    def boom(*_a: object, **_k: object) -> None:
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(atomic.os, "replace", boom)
    for write in (
        lambda: save_checkpoint(ckpt, _payload(2)),
        lambda: save_config(load_config(None, ["optim.epochs=9"]), cfg_path),
        lambda: log.append({"epoch": 2, "loss": 0.25}),
        lambda: log.plot(png),
        lambda: confusion_png(np.ones((2, 2), dtype=np.int64), ["a", "b"], tmp_path / "cm.png"),
    ):
        with pytest.raises(OSError, match="disk full"):
            write()
    assert {name: (tmp_path / name).read_bytes() for name in _files(tmp_path)} == before
