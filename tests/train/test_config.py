"""Training config: defaults = paper recipe, YAML loading, dotted overrides, resolved save."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from train.config import TrainConfig, load_config, parse_override, save_config, to_dict

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_are_the_paper_recipe() -> None:
    cfg = load_config(ROOT / "configs" / "default.yaml")
    assert cfg == TrainConfig()
    o = cfg.optim
    assert (o.lr, o.batch_size, o.epochs, o.nesterov, o.momentum) == (0.05, 128, 110, True, 0.9)
    assert o.milestones == (90, 100) and o.warmup_epochs == 5
    assert (cfg.loss.alpha1, cfg.loss.alpha2, cfg.seed) == (0.5, 0.2, 0)
    assert cfg.guidance == (True, True)


def test_realdata_cpu_config_loads() -> None:
    cfg = load_config(ROOT / "configs" / "realdata_cpu.yaml")
    assert cfg.data.protocol == "realdata"
    assert cfg.optim.epochs < 110  # an honest CPU budget, documented in the file


def test_yaml_then_overrides(tmp_path: Path) -> None:
    p = tmp_path / "x.yaml"
    p.write_text("optim:\n  lr: 0.1\n  milestones: [3, 4]\nmodel:\n  variant: g2l\n")
    cfg = load_config(p, ["optim.lr=0.01", "data.frames=32", "model.params.hidden=8", "augment.enabled=false"])
    assert cfg.optim.lr == 0.01 and cfg.optim.milestones == (3, 4)
    assert cfg.data.frames == 32 and cfg.model.variant == "g2l" and cfg.guidance == (True, False)
    assert cfg.model.params == {"hidden": 8} and cfg.augment.enabled is False
    assert cfg.optim.batch_size == 128  # untouched fields keep defaults


def test_resolved_config_round_trips(tmp_path: Path) -> None:
    cfg = load_config(None, ["optim.epochs=7", "model.variant=baseline", "optim.milestones=[5, 6]"])
    save_config(cfg, tmp_path / "config.yaml")
    saved = yaml.safe_load((tmp_path / "config.yaml").read_text())
    assert saved == to_dict(cfg)
    assert load_config(tmp_path / "config.yaml") == cfg


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("optim.lrr=0.1", "unknown field"),
        ("optim.lr=abc", "expected a number"),
        ("optim.epochs=2.5", "expected an integer"),
        ("model.variant=huge", "model.variant"),
        ("nodot", "section.field=value"),
        ("optim.lr.x=1", "not a config section"),
    ],
)
def test_bad_overrides_raise(override: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_config(None, [override])


def test_bad_yaml_names_the_file(tmp_path: Path) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text("optim:\n  warmup: 3\n")
    with pytest.raises(ValueError, match=r"bad.yaml.*optim.*unknown field"):
        load_config(p)


def test_parse_override_yaml_values() -> None:
    assert parse_override("a.b=[1, 2]") == (["a", "b"], [1, 2])
    assert parse_override("a.b=true") == (["a", "b"], True)
    assert parse_override("a.b=hello") == (["a", "b"], "hello")
