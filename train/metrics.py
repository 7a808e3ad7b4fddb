"""Per-epoch metrics: an append-only CSV and PNG curves (matplotlib, Agg backend)."""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

from crossglg.atomic import atomic_path

from .config import atomic_write_text


class MetricsLog:
    """Rows of ``{name: value}`` per epoch, kept in ``<out>/metrics.csv``.

    The CSV is rewritten atomically on every append, so a resumed run (which reloads it) never
    sees a half-written line; rows past the resumed epoch are dropped by :meth:`truncate`.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.rows: list[dict[str, float]] = []
        if self.path.is_file():
            with self.path.open(newline="", encoding="utf-8") as fh:
                for row in csv.DictReader(fh):
                    self.rows.append({k: float(v) if v not in ("", None) else math.nan for k, v in row.items()})

    def truncate(self, epochs_done: int) -> None:
        """Keep rows of epochs ``< epochs_done`` (0-based epoch column)."""
        self.rows = [r for r in self.rows if r.get("epoch", 0) < epochs_done]
        self._write()

    def append(self, row: dict[str, float]) -> None:
        self.rows.append({k: float(v) for k, v in row.items()})
        self._write()

    def _write(self) -> None:
        keys: list[str] = []
        for r in self.rows:
            keys += [k for k in r if k not in keys]
        lines = [",".join(keys)]
        for r in self.rows:
            lines.append(",".join("" if math.isnan(r.get(k, math.nan)) else f"{r[k]:.6g}" for k in keys))
        atomic_write_text(self.path, "\n".join(lines) + "\n")

    def plot(self, png: str | os.PathLike) -> None:
        """Curves of every column against ``epoch`` (losses, accuracies, lr), one panel each."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        if not self.rows:
            return
        skip = ("epoch", "samples")  # samples per epoch is constant: not worth a panel
        cols = [k for k in self.rows[0] if k not in skip]
        for r in self.rows:
            cols += [k for k in r if k not in skip and k not in cols]
        n = len(cols)
        ncol = min(3, n)
        nrow = math.ceil(n / ncol)
        fig, axes = plt.subplots(nrow, ncol, figsize=(4 * ncol, 2.8 * nrow), squeeze=False)
        for ax, k in zip(axes.flat, cols, strict=False):
            xs = [r["epoch"] + 1 for r in self.rows if not math.isnan(r.get(k, math.nan))]
            ys = [r[k] for r in self.rows if not math.isnan(r.get(k, math.nan))]
            ax.plot(xs, ys, marker="o", ms=3)
            ax.set_title(k, fontsize=9)
            ax.set_xlabel("epoch", fontsize=8)
            ax.grid(alpha=0.3)
        for ax in list(axes.flat)[n:]:
            ax.axis("off")
        fig.tight_layout()
        try:
            with atomic_path(png, suffix=".tmp.png") as tmp:  # savefig picks the format from the name
                fig.savefig(tmp, dpi=100)
        finally:
            plt.close(fig)
