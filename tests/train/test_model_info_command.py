"""`crossglg-train model-info`: parameter counts and FLOPs as JSON."""

from __future__ import annotations

import json

from train.cli import main


def _info(capsys, *args: str) -> dict:
    assert main(["model-info", "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_model_info_json_for_the_default_model(capsys) -> None:
    info = _info(capsys, "--num-classes", "100")
    assert 1_600_000 <= info["inference_params"] <= 1_800_000
    assert info["training_params"] == info["inference_params"] + info["parts"]["cross_modal"]
    assert info["inference_params"] == sum(v for k, v in info["parts"].items() if k != "cross_modal")
    assert 1.7e9 <= info["flops_per_window"] <= 1.9e9
    assert (info["encoder"], info["num_classes"], info["frames"], info["text_dim"]) == ("infogcn", 100, 64, 384)


def test_model_info_follows_the_switches_and_encoder(capsys) -> None:
    base = _info(capsys, "--num-classes", "10", "--frames", "16", "--no-g2l", "--no-l2g")
    assert base["training_params"] == base["inference_params"] and base["parts"]["jid"] == 0
    st = _info(capsys, "--num-classes", "10", "--frames", "16", "--encoder", "stgcn")
    assert st["encoder"] == "stgcn" and st["parts"]["encoder"] != base["parts"]["encoder"]


def test_model_info_text_output_and_bad_encoder(capsys) -> None:
    assert main(["model-info", "--num-classes", "10", "--frames", "16"]) == 0
    assert "inference model parameters" in capsys.readouterr().out
    assert main(["model-info", "--encoder", "nope"]) == 2
    assert "unknown encoder 'nope'" in capsys.readouterr().err
