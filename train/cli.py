"""`crossglg-train`: thin front end; every command lives in `train/commands/<name>.py`.

Commands are imported only when run (see :mod:`crossglg.cli`), so `--help` and torch-free commands
stay fast. Add a command here only once it works.
"""

from __future__ import annotations

import sys

from crossglg.cli import run_cli

# name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "describe": ("train.commands.describe", "generate class descriptions with an OpenAI-compatible chat endpoint and merge them into a file"),
    "descriptions": ("train.commands.descriptions", "inspect action description files (subcommand: check)"),
    "train": ("train.commands.train", "train a model (YAML config + --set overrides; checkpoints every epoch; --resume)"),
    "eval": ("train.commands.eval", "one-shot evaluation of a checkpoint (cosine 1-NN + distribution calibration), or --baseline dtw"),
    "benchmark": ("train.commands.benchmark", "one-shot benchmark of a checkpoint on several real-data protocols against DTW and pose-cosine baselines"),
    "calibrate-open-set": ("train.commands.calibrate_open_set", "store a benchmark's calibrated open-set thresholds (false-accept target) in ONNX models' metadata"),
    "export": ("train.commands.export", "export a checkpoint's text-free inference model to ONNX (dynamic batch, metadata)"),
    "model-info": ("train.commands.model_info", "print parameter counts (training / inference model) and FLOPs per window"),
}


def main(argv: list[str] | None = None) -> int:
    return run_cli("crossglg-train", "Train, evaluate and export CrossGLG models.", COMMANDS, argv)


if __name__ == "__main__":
    sys.exit(main())
