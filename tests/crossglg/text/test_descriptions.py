"""Description format: validation errors name dataset, class and field; save/load/merge round trip."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crossglg.text.descriptions import (
    JOINT_NAMES,
    DescriptionError,
    load_descriptions,
    loads_descriptions,
    merge_descriptions,
    parse_class,
    parse_descriptions,
    save_descriptions,
)


def test_valid_document_parses_in_ntu_order(doc):
    # write the joints in reverse order: the parsed tuple must still follow NTU-25 order
    doc["classes"][0]["joints"] = dict(reversed(list(doc["classes"][0]["joints"].items())))
    ds = parse_descriptions(doc)
    assert ds.dataset == "toy" and ds.ids == ("c1", "c2")
    c = ds.get("c1")
    assert len(c.joints) == 25
    assert c.joint("ElbowRight").startswith("ElbowRight ") and c.joints[0].startswith("SpineBase ")
    assert c.to_dict()["joints"] == {j: c.joint(j) for j in JOINT_NAMES}


@pytest.mark.parametrize(
    ("mutate", "field_hint"),
    [
        (lambda c: c["joints"].update({"ElbowRigth": c["joints"].pop("ElbowRight")}), "joints.ElbowRigth"),
        (lambda c: c["joints"].pop("KneeLeft"), "KneeLeft"),
        (lambda c: c["joints"].update({"Nose": "x"}), "joints.Nose"),
        (lambda c: c["joints"].update({"HandTipLeft": "   "}), "joints.HandTipLeft"),
        (lambda c: c.update({"global": ""}), "'global'"),
        (lambda c: c.update({"name": 3}), "'name'"),
        (lambda c: c.pop("joints"), "'joints'"),
        (lambda c: c.update({"joints": ["a"] * 25}), "'joints'"),
        (lambda c: c.update({"extra": 1}), "'extra'"),
    ],
)
def test_bad_class_errors_name_dataset_class_and_field(doc, mutate, field_hint):
    mutate(doc["classes"][1])
    with pytest.raises(DescriptionError) as err:
        parse_descriptions(doc, "toy.json")
    msg = str(err.value)
    assert "'toy'" in msg and "'c2'" in msg and field_hint in msg, msg


def test_missing_joints_error_lists_them(make_class):
    rec = make_class()
    for j in ("AnkleLeft", "FootLeft"):
        rec["joints"].pop(j)
    with pytest.raises(DescriptionError, match=r"23 joints, expected 25; missing: AnkleLeft, FootLeft"):
        parse_class(rec, "toy")


@pytest.mark.parametrize(
    ("mutate", "hint"),
    [
        (lambda d: d.update({"schema": "crossglg-descriptions/0"}), "schema"),
        (lambda d: d.update({"dataset": ""}), "dataset"),
        (lambda d: d.update({"classes": {}}), "classes"),
        (lambda d: d["classes"].append(dict(d["classes"][0])), "duplicate class id"),
    ],
)
def test_bad_document(doc, mutate, hint):
    mutate(doc)
    with pytest.raises(DescriptionError, match=hint):
        parse_descriptions(doc, "toy.json")


def test_invalid_json_and_duplicate_keys_are_reported(doc):
    with pytest.raises(DescriptionError, match=r"x\.json: invalid JSON at line 1"):
        loads_descriptions("{nope", "x.json")
    text = json.dumps(doc).replace('"SpineMid":', '"SpineBase": "dup", "SpineMid":', 1)
    with pytest.raises(DescriptionError, match="duplicate JSON key 'SpineBase'"):
        loads_descriptions(text, "x.json")


def test_save_load_merge_round_trip(tmp_path: Path, doc, make_class):
    ds = parse_descriptions(doc)
    path = tmp_path / "sub" / "toy.json"
    save_descriptions(ds, path)
    assert load_descriptions(path) == ds
    assert not [p for p in path.parent.iterdir() if p.name != "toy.json"], "temp file left behind"

    new = parse_class(make_class("c3", "jump"), "toy")
    merged = merge_descriptions(ds, [new])
    assert merged.ids == ("c1", "c2", "c3")
    with pytest.raises(DescriptionError, match="'c1'.*exists"):
        merge_descriptions(ds, [parse_class(make_class("c1", "clap"), "toy")])
    replaced = merge_descriptions(ds, [parse_class(make_class("c1", "clap"), "toy")], replace=True)
    assert replaced.ids == ("c1", "c2") and replaced.get("c1").name == "clap"
