"""tools/bench/model_latency.py: the interleaved timer, plain and in blocks (spinning sessions)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools" / "bench"))
import model_latency  # noqa: E402


def _recorder() -> tuple[list[str], dict]:
    calls: list[str] = []
    return calls, {k: (lambda k=k: calls.append(k)) for k in ("a", "b", "c")}


def test_time_all_interleaves_and_rotates() -> None:
    calls, fns = _recorder()
    times, cpu = model_latency.time_all(fns, rounds=3, warmup=2)
    assert calls[:6] == ["a", "a", "b", "b", "c", "c"]  # warm-up, each model in turn
    assert calls[6:] == ["a", "b", "c", "b", "c", "a", "c", "a", "b"]  # the order rotates every round
    assert all(len(times[k]) == 3 and len(cpu[k]) == 3 for k in fns)
    assert all(t >= 0 for v in times.values() for t in v)


def test_time_all_blocks_drop_the_first_call_of_each_block() -> None:
    calls, fns = _recorder()
    times, cpu = model_latency.time_all(fns, rounds=2, warmup=1, block=4, pause_s=0.001)
    assert calls[3:7] == ["a"] * 4 and calls[7:11] == ["b"] * 4  # whole blocks, one model at a time
    assert len(calls) == 3 + 2 * 3 * 4
    assert all(len(times[k]) == 2 * 3 and len(cpu[k]) == 2 * 3 for k in fns)  # 3 of 4 calls kept per block
