"""The support store on a real full disk (a 64 KiB tmpfs) and a real read-only mount, and its label
rules: a failed write leaves nothing behind, later writes work, and every refusal is one clear line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from fault_fs import read_only_dir, store_files, tiny_tmpfs
from runtime_helpers import utd

from edge.errors import EXIT_RUNTIME
from edge.skeleton_files import load_skeleton_file
from edge.store import MAX_LABEL_CHARS, StoreWriteError, SupportStore, check_label

PP = "crossglg-pp/1;frames=64"


def _emb(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=64).astype(np.float32)


def _committed(root: Path) -> list[str]:
    """The files a store's manifest stands for: itself, its backup, its embeddings, its exemplars."""
    m = json.loads((root / "manifest.json").read_text())
    files = ["manifest.json", *(["manifest.json.bak"] if (root / "manifest.json.bak").exists() else [])]
    files += [m["embeddings_file"]] if m["embeddings_file"] else []
    files += [e["file"] for a in m["actions"] for e in a["exemplars"]]
    return sorted(files)


@pytest.mark.realdata
def test_full_disk_leaves_no_orphans_and_later_writes_work(tmp_path: Path, data_dir: Path) -> None:
    with tiny_tmpfs(tmp_path / "fs", "64k") as fs:
        if fs is None:
            pytest.skip("mounting a tmpfs needs root (the CLI test falls back to RLIMIT_FSIZE)")
        st = SupportStore.create(fs / "store", "fp", PP)
        clips = [load_skeleton_file(utd(data_dir, a, 1)).joints for a in (23, 22, 27, 24, 5, 6, 8, 9)]
        added, error = [], None
        for i, c in enumerate(clips):  # real clips (~18-30 KB each) until the disk is full
            try:
                added.append(st.add_action(f"action {i}", c, _emb(i), source="utd"))
            except StoreWriteError as exc:
                error = exc
                break
        assert added and error is not None, "the 64 KiB file system never filled up"
        assert "No space left on device" in str(error) and "nothing was changed" in str(error)
        assert error.exit_code == EXIT_RUNTIME and "\n" not in str(error)
        # nothing but the committed files: no orphan exemplar, embeddings generation or temp file
        assert store_files(fs / "store") == _committed(fs / "store")
        assert [a.slug for a in SupportStore.open(fs / "store").actions] == added
        # the store still works: a rename fits, and after a removal the failed enroll goes through
        st.rename_action(added[0], "renamed")
        st.remove_action(added[0])
        st.add_action("after the full disk", clips[len(added)], _emb(99))
        again = SupportStore.open(fs / "store")
        assert [a.label for a in again.actions][-1] == "after the full disk"
        assert store_files(fs / "store") == _committed(fs / "store")


def test_read_only_store_refuses_every_write_in_one_line(tmp_path: Path) -> None:
    src = tmp_path / "store"
    st = SupportStore.create(src, "fp", PP)
    clip = np.random.default_rng(1).normal(0, 0.3, (40, 1, 25, 3)).astype(np.float32)
    slug = st.add_action("wave", clip, _emb(1))
    before = store_files(src)
    with read_only_dir(src, tmp_path / "ro") as (ro, how):
        store = SupportStore.open(ro, "fp", PP)  # reading works
        assert [a.label for a in store.actions] == ["wave"]
        writes = {
            "check_writable": store.check_writable,
            "add_action": lambda: store.add_action("clap", clip, _emb(2)),
            "add_exemplar": lambda: store.add_exemplar(slug, clip, _emb(3)),
            "rename": lambda: store.rename_action(slug, "hello"),
            "remove": lambda: store.remove_action(slug),
        }
        for what, write in writes.items():
            with pytest.raises(StoreWriteError) as info:
                write()
            msg = str(info.value)
            reason = "Read-only file system" if how == "bind-mount" else "Permission denied"
            assert reason in msg and "choose another --store" in msg and "\n" not in msg, (what, msg)
        assert store_files(ro) == before  # nothing written, nothing removed
    assert [a.label for a in SupportStore.open(src).actions] == ["wave"]


def test_labels_are_bounded_in_length_and_characters(tmp_path: Path) -> None:
    st = SupportStore.create(tmp_path, "fp", PP)
    clip = np.random.default_rng(2).normal(0, 0.3, (40, 1, 25, 3)).astype(np.float32)
    longest = "é" * MAX_LABEL_CHARS
    slug = st.add_action(longest, clip, _emb(4))
    assert st.action(slug).label == longest and check_label("  wave hello \t") == "wave hello"
    bad = {
        "x" * (MAX_LABEL_CHARS + 1): f"at most {MAX_LABEL_CHARS} characters, got {MAX_LABEL_CHARS + 1}",
        "x" * 30_000: "got 30000",
        "wave\nhello": "U+000A",
        "wave\x00": "U+0000",
        "a\u2028b": "U+2028",
        "\x1b[31mred": "U+001B",
        "  ": "non-empty",
    }
    for label, needle in bad.items():
        for write in (st.add_action, st.rename_action):
            args = (label, clip, _emb(5)) if write == st.add_action else (slug, label)
            with pytest.raises(ValueError, match="action label") as info:
                write(*args)
            assert needle in str(info.value) and "\n" not in str(info.value), str(info.value)
    assert [a.label for a in SupportStore.open(tmp_path).actions] == [longest]  # nothing changed


def test_protocol_messages_carry_any_allowed_label() -> None:
    """The longest label, in the widest UTF-8 characters, in every top-k slot, still fits a message."""
    from edge.publisher import Publisher, PublisherConfig

    label = "\U0001f600" * MAX_LABEL_CHARS  # 4 bytes each in UTF-8
    with Publisher(PublisherConfig(endpoint="tcp://127.0.0.1:*", source="cam0")) as pub:
        ok = pub.publish_label(track_id=1, state="action", label=label, score=0.9, margin=0.2,
                               topk=[(label, 0.9)] * 5, t_frame=1.0, latency_ms={"model": 1.0})  # fmt: skip
        assert ok and pub.stats["oversize"] == 0


@pytest.mark.realdata
def test_control_channel_enroll_is_refused_before_recording_on_a_read_only_store(tmp_path: Path, data_dir: Path) -> None:
    """The UI's path: a live runtime whose store went read-only answers the enroll request at once
    with the reason; nothing is recorded, and a bad label is refused the same way."""
    from edge.control import ControlClient, ControlConfig, ControlServer
    from edge.pipeline import Pipeline, PipelineConfig
    from edge.publisher import Publisher, PublisherConfig
    from edge.runtime import open_model, open_support_store
    from edge.sources import Source

    model = Path(__file__).resolve().parents[1] / "assets" / "crossglg_realdata.onnx"
    with open_model(model, threads=1) as engine:
        open_support_store(tmp_path / "store", engine)
        with read_only_dir(tmp_path / "store", tmp_path / "ro") as (ro, how), \
                Publisher(PublisherConfig(endpoint="tcp://127.0.0.1:*", source="live")) as pub:  # fmt: skip
            pipe = Pipeline(Source.from_skeleton_file(utd(data_dir, 27, 2)), engine, open_support_store(ro, engine),
                            pub, PipelineConfig(realtime=True, max_seconds=20))  # fmt: skip
            with ControlServer(pipe, ControlConfig(endpoint="tcp://127.0.0.1:*")) as server:
                server.start()
                pipe.start()
                client = ControlClient(server.endpoint, timeout=5.0)
                reply = client.request("enroll", label="squat", countdown_s=0.0, max_seconds=1.0)
                reason = "Read-only file system" if how == "bind-mount" else "Permission denied"
                assert not reply["ok"] and reason in reply["error"], reply
                reply = client.request("enroll", label="two\nlines")
                assert not reply["ok"] and "U+000A" in reply["error"], reply
                assert pipe.status()["enrolling"] is None
                pipe.stop()
                assert pipe.wait(10) is not None
