"""Fuzzed training configuration (train.config.load_config / from_dict): the shipped ``configs/*.yaml``
damaged, arbitrary YAML (tags, anchors, non-string keys, dates, deep nesting, binary), ``--set``
overrides, and nested dicts built field by field.

Property: a :class:`TrainConfig` whose fields have their annotated types, or a ValueError naming the
file (or ``--set`` text) and the field.
"""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path

import pytest
from fuzz_helpers import Source, assert_clear, fuzz_settings, guarded, mutated_text, record, write
from hypothesis import example, given
from hypothesis import strategies as st

from train.config import TrainConfig, from_dict, load_config, to_dict

CONFIGS = sorted((Path(__file__).resolve().parents[3] / "configs").glob("*.yaml"))


def _typed(cfg: TrainConfig) -> TrainConfig:
    """Every field holds its annotated type (bool is not an int, tuples hold ints)."""
    assert isinstance(cfg, TrainConfig)

    def walk(obj: object) -> None:
        hints = typing.get_type_hints(type(obj))
        for f in dataclasses.fields(obj):
            v, tp = getattr(obj, f.name), hints[f.name]
            if dataclasses.is_dataclass(tp):
                walk(v)
            elif tp is bool:
                assert isinstance(v, bool), (f.name, v)
            elif tp is int:
                assert isinstance(v, int) and not isinstance(v, bool), (f.name, v)
            elif tp is float:
                assert isinstance(v, float), (f.name, v)
            elif tp is str:
                assert isinstance(v, str), (f.name, v)
            elif typing.get_origin(tp) is tuple:
                assert isinstance(v, tuple) and all(isinstance(x, int) and not isinstance(x, bool) for x in v)

    walk(cfg)
    to_dict(cfg)
    return cfg


def _check(fmt: str, fn, where: str) -> None:
    out, exc = guarded(lambda: _typed(fn()), (ValueError,))
    record(fmt, exc is not None)
    if exc is not None:
        assert_clear(exc, where)


@pytest.fixture(scope="module")
def config_texts() -> list[Source]:
    assert CONFIGS, "configs/*.yaml missing"
    return [Source(p.read_text(encoding="utf-8"), p.name) for p in CONFIGS]


_YAML = st.sampled_from((
    "", "---", "null", "[]", "- 1\n- 2", "42", "!!python/object:os.system {}", "seed: !!binary aGk=",
    "{1: 2, a: 3}", "{null: 1}", "optim: {lr: .inf}", "optim: {lr: .nan}", "optim: {epochs: 1e9}",
    "optim: {epochs: 99999999999999999999999}", "optim: {milestones: 5}", "optim: {milestones: [a, b]}",
    "optim: {milestones: {a: 1}}", "seed: 2020-01-01", "seed: 0x10", "seed: 1_000", "amp: yes", "amp: 'true'",
    "model: {variant: x}", "model: {params: 5}", "model: [1]", "data: {frames: -1}", "augment: {crop_min: 0}",
    "a: &x [*x]", "a: &a {b: *a}", "data: &d {frames: 8}\neval: *d", "seed: [" * 3000 + "]" * 3000,
    "{" * 3000 + "}" * 3000, "\x00\x01", "\ufeffseed: 1", "seed: 1\nseed: 2", "? [a, b]\n: 1", "text: {encoder: 5}",
    "loss: {alpha1: '0.5'}", "loss: {alpha1: true}", "optim: {batch_size: 0}", "eval: {draws: 1.5}",
))  # fmt: skip


@given(data=st.data())
@fuzz_settings(150)
@example(data=None)
@example(data="{1: 2, a: 3}")  # regression: sorted() of mixed key types was a TypeError
@example(data="seed: [" * 3000 + "]" * 3000)  # regression: RecursionError inside PyYAML
@example(data="\x80\x81 not utf-8")  # regression: UnicodeDecodeError
@example(data="model: {variant: x}")  # regression: the message did not name the file
def test_config_files(data, config_texts: list[Source], fuzz_dir: Path) -> None:
    if data is None:
        raw: bytes | str = config_texts[0]
    elif isinstance(data, str):
        raw = data.encode("latin-1") if data.startswith("\x80") else data
    elif data.draw(st.booleans(), label="damaged real"):
        raw = data.draw(mutated_text(data.draw(st.sampled_from(config_texts), label="config")), label="case")
    else:
        raw = data.draw(_YAML, label="yaml")
    path = write(fuzz_dir / "cfg" / "run.yaml", raw)
    _check("train config .yaml", lambda: load_config(path), str(path))


_OVERRIDES = st.sampled_from((
    "optim.lr=0.01", "optim.lr=", "optim.lr", "=3", ".=3", "optim.=3", "optim..lr=1", "nope.x=1", "seed.x=1",
    "optim.milestones=[1, 2]", "optim.milestones=[", "model.params.width=8", "model.params=5", "seed=!!binary aGk=",
    "seed=" + "[" * 3000, "data.frames=1e400", "amp=maybe", "optim={lr: 1}", "eval.draws=-1",
))  # fmt: skip


@fuzz_settings(80)
@given(sets=st.lists(_OVERRIDES, max_size=3))
def test_overrides(sets: list[str], fuzz_dir: Path) -> None:
    path = write(fuzz_dir / "cfg" / "base.yaml", "seed: 1\n")
    out, exc = guarded(lambda: _typed(load_config(path, sets)), (ValueError,))
    record("train config --set overrides", exc is not None)
    if exc is not None:
        msg = str(exc)
        assert str(path) in msg or "--set" in msg, msg  # names the file or the override
        assert_clear(exc, None)


_LEAF = st.one_of(st.none(), st.booleans(), st.integers(-3, 10**20), st.floats(), st.text(max_size=5),
                  st.lists(st.integers(-1, 200), max_size=3))  # fmt: skip


def _value_like(default: object) -> st.SearchStrategy:
    """Mostly the default or another value of its type, sometimes anything."""
    same = {bool: st.booleans(), int: st.integers(-2, 200), float: st.floats(-1, 2), str: st.text(max_size=8),
            list: st.lists(st.integers(-1, 200), max_size=3)}.get(type(default), _LEAF)  # fmt: skip
    return st.one_of(st.just(default), same, st.just(default), same, _LEAF)


@st.composite
def config_dicts(draw: st.DrawFn) -> dict:
    """Nested dicts over the real sections and fields, with values of any type and stray keys."""
    base = to_dict(TrainConfig())
    out: dict = {}
    for _ in range(draw(st.integers(1, 5))):
        section = draw(st.sampled_from([*base] * 4 + ["bogus", 3]))  # stray names: one draw in ~30
        if isinstance(base.get(section), dict) and draw(st.integers(0, 5)):
            out.setdefault(section, {})
            if isinstance(out[section], dict):
                key = draw(st.sampled_from([*base[section]] * 4 + ["bogus"]))
                out[section][key] = draw(_value_like(base[section].get(key)))
        else:
            out[section] = draw(_value_like(base.get(section)))
    return out


@fuzz_settings(150)
@given(d=config_dicts())
def test_from_dict(d: dict) -> None:
    _check("train config from_dict", lambda: from_dict(d, where="cfg.yaml"), "cfg.yaml")
