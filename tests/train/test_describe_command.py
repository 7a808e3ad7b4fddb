"""`crossglg-train describe` against a real HTTP server on loopback (OpenAI chat-completions shape)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from crossglg.text.descriptions import JOINT_NAMES, load_descriptions
from train.cli import main


class FakeLLM:
    """Replies to /v1/chat/completions; ``mode`` chooses a good or a malformed reply."""

    def __init__(self) -> None:
        self.mode = "good"
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []

    def reply(self, prompt: str) -> str:
        name = prompt.split('"')[1]
        if "25 joints" in prompt:  # local prompt
            joints = {j: f"During {name} the {j} moves its own way." for j in JOINT_NAMES}
            if self.mode == "missing_joint":
                joints.pop("KneeRight")
            if self.mode == "bad_joint_name":
                joints["Kneee"] = joints.pop("KneeLeft")
            body = json.dumps({"joints": joints})
            return f"```json\n{body}\n```" if self.mode == "good" else body
        if self.mode == "not_json":
            return "Sure! The arms move a lot."
        if self.mode == "empty_global":
            return json.dumps({"global": "  "})
        return json.dumps({"global": f"For {name} the right arm swings and the right hand opens."})


@pytest.fixture
def llm() -> Iterator[tuple[FakeLLM, str]]:
    fake = FakeLLM()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server API)
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            fake.requests.append(body)
            fake.headers.append(dict(self.headers))
            if self.path != "/v1/chat/completions" or fake.mode == "http_500":
                self.send_response(500 if fake.mode == "http_500" else 404)
                self.end_headers()
                self.wfile.write(b'{"error": "boom"}')
                return
            content = fake.reply(body["messages"][-1]["content"])
            data = json.dumps({"choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]})
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(data.encode())

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake, f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


def _describe(path: Path, url: str, *names: str, extra: tuple[str, ...] = ()) -> int:
    return main(["describe", "--dataset", str(path), "--base-url", url, "--model", "tiny-llm", *extra, *names])


def test_good_replies_create_and_merge(tmp_path: Path, llm, monkeypatch, capsys):
    fake, url = llm
    monkeypatch.setenv("CROSSGLG_LLM_API_KEY", "sk-test")
    path = tmp_path / "mine.json"
    assert _describe(path, url, "w1=wave right hand", "stretch arms overhead") == 0
    ds = load_descriptions(path)
    assert ds.dataset == "mine" and ds.ids == ("w1", "stretch_arms_overhead")
    assert ds.get("w1").joint("KneeRight") == "During wave right hand the KneeRight moves its own way."
    assert "right arm swings" in ds.get("w1").global_text
    assert len(fake.requests) == 4  # global + local prompt per class
    assert all(r["model"] == "tiny-llm" for r in fake.requests)
    assert fake.headers[0]["Authorization"] == "Bearer sk-test"
    assert any("important" in r["messages"][-1]["content"] for r in fake.requests)
    assert all(j in fake.requests[1]["messages"][-1]["content"] for j in JOINT_NAMES)

    # merging keeps existing classes; an existing id needs --replace
    assert _describe(path, url, "k=kick") == 0
    assert load_descriptions(path).ids == ("w1", "stretch_arms_overhead", "k")
    before = path.read_bytes()
    assert _describe(path, url, "w1=wave left hand") == 2
    assert "already present" in capsys.readouterr().err
    assert path.read_bytes() == before
    assert _describe(path, url, "w1=wave left hand", extra=("--replace",)) == 0
    assert load_descriptions(path).get("w1").name == "wave left hand"


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("not_json", "global prompt: reply is not valid JSON"),
        ("missing_joint", "field 'joints': 24 joints, expected 25; missing: KneeRight"),
        ("bad_joint_name", "field 'joints.Kneee': unknown joint name"),
        ("empty_global", "field 'global': empty text"),
        ("http_500", "HTTP 500"),
    ],
)
def test_malformed_reply_is_a_clear_error_and_leaves_file_untouched(tmp_path: Path, llm, capsys, mode, expected):
    fake, url = llm
    path = tmp_path / "mine.json"
    assert _describe(path, url, "a=clap") == 0
    before = path.read_bytes()
    fake.mode = mode
    # the first class is good only up to the bad reply: nothing of the batch may be written
    assert _describe(path, url, "b=jump", "c=kick") == 2
    err = capsys.readouterr().err
    assert expected in err, err
    if mode != "http_500":
        assert "dataset 'mine', class 'b'" in err
    assert path.read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name != "mine.json"]


def test_missing_endpoint_or_unreachable_server(tmp_path: Path, monkeypatch, capsys):
    for var in ("CROSSGLG_LLM_BASE_URL", "OPENAI_BASE_URL", "CROSSGLG_LLM_MODEL"):
        monkeypatch.delenv(var, raising=False)
    path = tmp_path / "x.json"
    assert main(["describe", "--dataset", str(path), "--model", "m", "clap"]) == 2
    assert "--base-url" in capsys.readouterr().err
    # a closed loopback port: connection refused, reported, nothing written
    assert _describe(path, "http://127.0.0.1:9/v1", "clap", extra=("--timeout", "5")) == 2
    assert "request failed" in capsys.readouterr().err
    assert not path.exists()
