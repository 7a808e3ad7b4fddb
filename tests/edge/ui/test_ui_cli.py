"""`crossglg-edge ui` argument handling (the app itself is covered under Pilot in the other test_ui_* files)."""

from __future__ import annotations

import pytest

from edge.cli import main
from edge.commands.ui import default_control
from edge.ui.app import run_ui


def test_default_control_endpoint_follows_the_stream_host() -> None:
    assert default_control("tcp://127.0.0.1:5556") == "tcp://127.0.0.1:5557"
    assert default_control("tcp://10.0.0.7:6000") == "tcp://10.0.0.7:5557"
    assert default_control("ipc:///tmp/labels") is None


@pytest.mark.parametrize(
    "argv, message",
    [
        (["ui", "--source", "cam 0"], "--source"),
        (["ui", "--stale-after", "0"], "--stale-after"),
        (["ui", "--countdown", "-1"], "--countdown"),
        (["ui", "--client-key", "x.key_secret"], "--server-key"),
        (["ui", "--connect", "tcp://127.0.0.1"], "label stream endpoint"),  # no port: refused before the UI starts
        (["ui", "--control", "udp://127.0.0.1:5557"], "control endpoint"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(argv: list[str], message: str, capsys: pytest.CaptureFixture) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_run_ui_needs_an_endpoint() -> None:
    with pytest.raises(ValueError, match="connect"):
        run_ui()


def test_ui_command_is_registered() -> None:
    """(That the UI imports no torch is checked with every edge module in tests/edge/test_layering.py.)"""
    from edge.cli import COMMANDS

    assert COMMANDS["ui"][0] == "edge.commands.ui"
