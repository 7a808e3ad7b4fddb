"""Support store: atomic writes, slugs, fingerprints, re-embedding, corruption, no pickle."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from edge import store as store_mod
from edge.matcher import Matcher
from edge.store import AmbiguousActionError, StoreMismatchError, SupportStore, slugify

PP = "crossglg-pp/1;frames=64"
rng = np.random.default_rng(0)


def clip(t: int = 40) -> np.ndarray:
    c = rng.normal(0, 0.3, (t, 1, 25, 3)).astype(np.float32)
    c[5, 0, 3] = np.nan  # a missing joint survives the round trip
    return c


def emb(d: int = 16) -> np.ndarray:
    return rng.normal(size=d).astype(np.float32)


def test_slugs_are_safe_unique_and_labels_stay_free_text() -> None:
    taken: set[str] = set()
    labels = ["Wave hello!", "wave   HELLO", "Café crème", "挥手", "挥手 ", "../../etc/passwd", "", "x" * 300, "CON", "👋"]
    slugs = []
    for lbl in labels:
        s = slugify(lbl, taken)
        taken.add(s)
        slugs.append(s)
    assert len(set(slugs)) == len(labels)
    assert all(s and len(s) <= 48 and all(c.isascii() and (c.isalnum() or c == "-") for c in s) for s in slugs)
    assert slugs[0] == "wave-hello" and slugs[1] == "wave-hello-2" and slugs[2] == "cafe-creme"
    assert slugs[3].startswith("action-") and slugs[3] != slugs[9]
    assert slugs[5] == "etc-passwd" and slugs[8] != "con"


def test_find_matches_one_field_exactly_and_refuses_ambiguous_names(tmp_path) -> None:
    st = SupportStore.create(tmp_path / "s", "fp-A", PP)
    a = st.add_action("tai chi", clip(), emb())
    b = st.add_action("tai-chi", clip(), emb())
    c = st.add_action("Wave", clip(), emb())
    assert (a, b, c) == ("tai-chi", "tai-chi-2", "wave")
    with pytest.raises(AmbiguousActionError, match=r"'tai chi' \(slug tai-chi\) and 'tai-chi' \(slug tai-chi-2\)"):
        st.find("tai-chi")
    assert st.find("tai-chi", "label") == "tai-chi-2" and st.find("tai-chi", "slug") == "tai-chi"
    assert st.find("tai chi") == "tai-chi" and st.find("tai-chi-2") == "tai-chi-2"
    assert st.find("Wave") == "wave" and st.find("wave") == "wave"  # label and slug of the same action
    for name, by in (("wave", "label"), ("Wave", "slug"), ("tai", "any"), ("TAI CHI", "any")):
        with pytest.raises(ValueError, match="no enrolled action"):
            st.find(name, by)
    with pytest.raises(ValueError, match="match field"):
        st.find("wave", "file")


def test_roundtrip_add_rename_remove(tmp_path) -> None:
    st = SupportStore.create(tmp_path / "s", "fp-A", PP)
    c1, e1 = clip(), emb()
    s1 = st.add_action("Wave 👋 hello", c1, e1, source="camera 0")
    s2 = st.add_action("../../evil", clip(), emb(), fps=15.0)
    st.add_exemplar(s1, clip(50), emb())
    st.rename_action(s1, "Wave (new name)")
    again = SupportStore.open(tmp_path / "s", "fp-A", PP)
    assert [a.label for a in again.actions] == ["Wave (new name)", "../../evil"]
    assert [len(a.exemplars) for a in again.actions] == [2, 1]
    ex = again.load_exemplar(s1, 0)
    np.testing.assert_array_equal(ex.clip, c1)  # NaN positions equal too
    assert ex.fps == 30.0 and ex.timestamps.shape == (40,)
    assert again.load_exemplar(s2).fps == 15.0
    sup = again.support()
    assert sup.slugs == (s1, s2) and sup.embeddings[0].shape == (2, 16)
    np.testing.assert_array_equal(sup.embeddings[0][0], e1)
    assert all(p.resolve().is_relative_to((tmp_path / "s").resolve()) for p in (tmp_path / "s").rglob("*"))
    again.remove_action(s2)
    names = sorted(p.name for p in (tmp_path / "s").rglob("*.npz"))
    assert [n for n in names if not n.startswith("embeddings.")] == [f"{s1}.0.npz", f"{s1}.1.npz"]
    assert len([n for n in names if n.startswith("embeddings.")]) == 1  # old generations cleaned up
    assert [a.slug for a in SupportStore.open(tmp_path / "s").actions] == [s1]
    assert Matcher(SupportStore.open(tmp_path / "s").support()).match(e1).slug == s1
    with pytest.raises(ValueError, match="dimension|expected 16"):
        again.add_action("other", clip(), emb(8))


def test_crash_mid_write_keeps_the_old_manifest(tmp_path, monkeypatch) -> None:
    st = SupportStore.create(tmp_path, "fp-A", PP)
    st.add_action("first", clip(), emb())
    before = (tmp_path / "manifest.json").read_bytes()
    files_before = sorted(p.name for p in tmp_path.rglob("*") if p.is_file())

    def boom(fd: int) -> None:
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(store_mod.os, "fsync", boom)  # every temp write now fails before its rename
    with pytest.raises(OSError, match="disk full"):
        st.add_action("second", clip(), emb())
    with pytest.raises(OSError, match="disk full"):
        st.rename_action("first", "renamed")
    monkeypatch.undo()
    assert (tmp_path / "manifest.json").read_bytes() == before
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == files_before  # no temp files left
    reopened = SupportStore.open(tmp_path, "fp-A", PP)
    assert [a.label for a in reopened.actions] == ["first"]
    assert [a.label for a in st.actions] == ["first"]  # the in-memory view did not move on either
    st.add_action("second", clip(), emb())  # and the store still works afterwards
    assert len(SupportStore.open(tmp_path).actions) == 2


def test_crash_between_embeddings_and_manifest(tmp_path, monkeypatch) -> None:
    st = SupportStore.create(tmp_path, "fp-A", PP)
    st.add_action("first", clip(), emb())
    real = store_mod.atomic_write

    def fail_on_manifest(path, data):
        if path.name == "manifest.json":
            raise OSError("power cut (simulated)")
        real(path, data)

    monkeypatch.setattr(store_mod, "atomic_write", fail_on_manifest)
    with pytest.raises(OSError):
        st.add_action("second", clip(), emb())
    monkeypatch.undo()
    again = SupportStore.open(tmp_path, "fp-A", PP)  # old manifest + its own embeddings file: consistent
    assert [a.label for a in again.actions] == ["first"] and len(again.support().embeddings) == 1
    # the failed write removed what it had written (on a full disk those files hold the space)
    assert [p.name for p in tmp_path.glob("embeddings.*.npz")] == [again._m["embeddings_file"]]
    assert [p.name for p in (tmp_path / "exemplars").glob("*.npz")] == ["first.0.npz"]
    # a process killed mid-write cannot clean up: its leftovers go at the next successful write
    (tmp_path / "embeddings.7.npz").write_bytes(b"leftover")
    (tmp_path / "exemplars" / "second.0.npz").write_bytes(b"leftover")
    again.rename_action("first", "first!")
    assert len(list(tmp_path.glob("embeddings.*.npz"))) == 1
    assert [p.name for p in (tmp_path / "exemplars").glob("*.npz")] == ["first.0.npz"]
    assert SupportStore.open(tmp_path).actions[0].label == "first!"


def test_fingerprint_mismatch_and_reembed(tmp_path) -> None:
    st = SupportStore.create(tmp_path, "fp-A", PP)
    s = st.add_action("wave", clip(), emb())
    st.add_action("clap", clip(), emb())
    with pytest.raises(StoreMismatchError, match="fp-A.*fp-B"):
        SupportStore.open(tmp_path, "fp-B", PP)
    with pytest.raises(StoreMismatchError, match="preprocessing"):
        SupportStore.open(tmp_path, "fp-A", "crossglg-pp/1;frames=32")
    old = stale = SupportStore.open(tmp_path, "fp-B", "pp-2", allow_mismatch=True)
    calls = []

    def embed(c: np.ndarray) -> np.ndarray:  # "new model": a deterministic function of the raw clip
        calls.append(c.shape)
        return np.nan_to_num(c).reshape(-1)[:8] + 1.0

    with pytest.raises(ValueError):  # a failing model leaves the store untouched
        stale.reembed(lambda c: np.zeros(8, np.float32), "fp-B", "pp-2")
    assert SupportStore.open(tmp_path, "fp-A", PP).support().dim == 16
    assert stale.reembed(embed, "fp-B", "pp-2") == 2 and len(calls) == 2
    fresh = SupportStore.open(tmp_path, "fp-B", "pp-2")
    assert fresh.support().dim == 8
    np.testing.assert_allclose(fresh.support().embeddings[0][0], embed(old.load_exemplar(s).clip))


def test_corrupted_manifest_names_file_and_field(tmp_path) -> None:
    st = SupportStore.create(tmp_path, "fp-A", PP)
    st.add_action("wave", clip(), emb())
    mpath = tmp_path / "manifest.json"
    good = json.loads(mpath.read_text())
    snapshot = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file() and p.name != "manifest.json"}
    cases = [
        ("{ truncated", "not valid JSON"),
        (json.dumps({**good, "actions": [{**good["actions"][0], "slug": "../x"}]}), r"actions\[0\]\.slug"),
        (json.dumps({**good, "actions": [{**good["actions"][0], "exemplars": [
            {**good["actions"][0]["exemplars"][0], "file": "../../etc/passwd"}]}]}), r"exemplars\[0\]\.file"),
        (json.dumps({k: v for k, v in good.items() if k != "model_fingerprint"}), "model_fingerprint"),
        (json.dumps({**good, "schema_version": 99}), "schema_version"),
    ]
    for text, pattern in cases:
        mpath.write_text(text)
        with pytest.raises(ValueError, match=pattern) as info:
            SupportStore.open(tmp_path)
        assert str(mpath) in str(info.value)
    assert all(p.read_bytes() == b for p, b in snapshot.items())  # nothing else was touched
    assert json.loads((tmp_path / "manifest.json.bak").read_text())["schema_version"] == 1  # previous one kept


def test_pickled_npz_is_refused(tmp_path) -> None:
    st = SupportStore.create(tmp_path, "fp-A", PP)
    s = st.add_action("wave", clip(), emb())
    path = tmp_path / st.action(s).exemplars[0].file
    obj = np.empty(1, dtype=object)
    obj[0] = {"evil": 1}
    with open(path, "wb") as f:
        np.savez(f, clip=obj, fps=np.float64(30), timestamps=np.zeros(40))
    with pytest.raises(ValueError, match="pickle"):
        st.load_exemplar(s)
    assert os.path.exists(path)


@pytest.mark.realdata
def test_real_clips_through_store_reembed_and_matcher(data_dir, tmp_path) -> None:
    """Real UTD-MHAD demonstrations: enroll, re-embed with another "model", match other subjects."""
    from scipy.io import loadmat

    from crossglg.preprocess import PreprocessConfig, preprocess
    from crossglg.skeleton.mappings import from_utd_mhad

    def load(a: int, s: int, t: int) -> np.ndarray:
        raw = loadmat(str(data_dir / "utd_mhad" / "Skeleton" / f"a{a}_s{s}_t{t}_skeleton.mat"))["d_skel"]
        return from_utd_mhad(np.asarray(raw, np.float32).transpose(2, 0, 1))[:, None]  # (T, 1, 25, 3)

    def embedder(frames: int):  # a fixed descriptor stands in for the network: the preprocessed clip
        cfg = PreprocessConfig(frames=frames)
        return cfg.id, lambda clip: preprocess(clip, cfg).reshape(-1)

    actions = [1, 3, 16, 22, 27]  # swipe left, wave, arm curl, jogging, squat
    pp16, emb16 = embedder(16)
    st = SupportStore.create(tmp_path, "descriptor-16", pp16)
    for a in actions:
        c = load(a, 1, 1)
        st.add_action(f"UTD a{a}", c, emb16(c), source=f"a{a}_s1_t1")
    pp24, emb24 = embedder(24)
    with pytest.raises(StoreMismatchError):
        SupportStore.open(tmp_path, "descriptor-24", pp24)
    SupportStore.open(tmp_path, "descriptor-24", pp24, allow_mismatch=True).reembed(emb24, "descriptor-24", pp24)
    m = Matcher(SupportStore.open(tmp_path, "descriptor-24", pp24).support())
    hits = total = 0
    for a in actions:
        for s in (2, 3, 4, 5):
            r = m.match(emb24(load(a, s, 1)))
            hits += r.topk[0][0] == f"UTD a{a}"
            total += 1
    assert hits / total >= 0.6, (hits, total)  # chance is 0.2
