"""Generate class descriptions with any OpenAI-compatible chat endpoint (stdlib ``urllib`` only).

Two requests per class, following the paper's two prompts:

* global: which joints / body parts are important for the action and how they move;
* local: what each of the 25 NTU joints does during the action.

Both ask for JSON. The replies are validated with :func:`crossglg.text.descriptions.parse_class`,
so a malformed reply raises :class:`DescriptionError` naming the dataset, class and field, and the
caller writes nothing.
"""

from __future__ import annotations

import ipaddress
import json
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from crossglg.text.descriptions import JOINT_NAMES, ClassDescription, DescriptionError, parse_class

SYSTEM_PROMPT = (
    "You are a kinesiology expert describing human actions recorded as 3D skeletons with the 25 Kinect v2 "
    "joints. Be specific and physically correct; distinguish left and right from the performer's own "
    "point of view. Reply with JSON only, no prose around it."
)

GLOBAL_PROMPT = (
    'Action: "{name}".\n'
    "Describe in one paragraph (2-4 sentences) which body parts and joints are important for this action "
    "and how they move (direction, bending or straightening, which side), and which parts stay still. "
    'Reply as JSON: {{"global": "<paragraph>"}}'
)

LOCAL_PROMPT = (
    'Action: "{name}".\n'
    "For each of these 25 joints, describe in one short sentence what that joint does during the action "
    "(how it moves, or how it is held if it stays still, specific to this action): {joints}.\n"
    'Reply as JSON: {{"joints": {{"SpineBase": "<sentence>", ...}}}} with exactly these 25 keys.'
)


@dataclass(frozen=True)
class ChatConfig:
    """Where and how to call the chat endpoint.

    Attributes:
        base_url: API root, e.g. ``http://127.0.0.1:8000/v1`` (``/chat/completions`` is appended).
        model: model name passed to the endpoint.
        api_key: bearer token, or None for endpoints without auth.
        timeout: seconds per request.
        temperature: sampling temperature.
    """

    base_url: str
    model: str
    api_key: str | None = None
    timeout: float = 120.0
    temperature: float = 0.2

    def __post_init__(self) -> None:
        parsed = urllib.parse.urlparse(self.base_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"--base-url {self.base_url!r}: expected an http(s) URL such as http://127.0.0.1:8000/v1")
        if not self.model:
            raise ValueError("--model: a model name is required")

    @property
    def endpoint(self) -> str:
        return self.base_url.rstrip("/") + "/chat/completions"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def chat(config: ChatConfig, messages: list[dict[str, str]]) -> str:
    """POST one chat completion and return the first choice's message content.

    Raises ``ValueError`` for HTTP errors, unreachable servers and replies without content.
    """
    host = urllib.parse.urlparse(config.base_url).hostname or ""
    if config.api_key and config.endpoint.startswith("http://") and not _is_loopback(host):
        print(f"warning: sending the API key unencrypted to {host} (use https)", file=sys.stderr)
    body = json.dumps({"model": config.model, "messages": messages, "temperature": config.temperature}).encode()
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if config.api_key:
        headers["Authorization"] = f"Bearer {config.api_key}"
    req = urllib.request.Request(config.endpoint, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=config.timeout) as resp:
            raw = resp.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:300].decode("utf-8", "replace")
        raise ValueError(f"{config.endpoint}: HTTP {exc.code} {exc.reason}: {detail}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ValueError(f"{config.endpoint}: request failed: {reason}") from None
    try:
        reply = json.loads(raw)
        content = reply["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise ValueError(
            f"{config.endpoint}: not an OpenAI-style chat completion (choices[0].message.content): {raw[:200]!r}"
        ) from None
    if not isinstance(content, str):
        raise ValueError(f"{config.endpoint}: choices[0].message.content is not a string")
    return content


_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.S)


def parse_json_reply(content: str, where: str) -> dict[str, Any]:
    """Decode a JSON object from a model reply (a ```json fence around it is tolerated)."""
    m = _FENCE.match(content)
    text = m.group(1) if m else content.strip()
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DescriptionError(f"{where}: reply is not valid JSON ({exc.msg} at line {exc.lineno}): {content[:120]!r}") from None
    if not isinstance(obj, dict):
        raise DescriptionError(f"{where}: reply is JSON but not an object")
    return obj


def describe_class(config: ChatConfig, dataset: str, class_id: str, name: str) -> ClassDescription:
    """Ask the endpoint for one class's global and joint descriptions and validate them."""
    msgs = [{"role": "system", "content": SYSTEM_PROMPT}]
    g = parse_json_reply(
        chat(config, msgs + [{"role": "user", "content": GLOBAL_PROMPT.format(name=name)}]),
        f"dataset {dataset!r}, class {class_id!r}, global prompt",
    )
    local_prompt = LOCAL_PROMPT.format(name=name, joints=", ".join(JOINT_NAMES))
    loc = parse_json_reply(
        chat(config, msgs + [{"role": "user", "content": local_prompt}]),
        f"dataset {dataset!r}, class {class_id!r}, local prompt",
    )
    joints = loc.get("joints", loc)  # tolerate the 25 keys at the top level
    record = {"id": class_id, "name": name, "global": g.get("global"), "joints": joints}
    if record["global"] is None:
        raise DescriptionError(f"dataset {dataset!r}, class {class_id!r}, field 'global': missing in the reply")
    return parse_class(record, dataset)
