"""The shared CLI front end: lazy imports, help, errors as one line."""

from __future__ import annotations

import subprocess
import sys
import types

import pytest

from crossglg.cli import run_cli


@pytest.fixture
def fake_commands(monkeypatch):
    calls = []
    ok = types.ModuleType("cli_ok_cmd")
    ok.HELP = "say ok"
    ok.add_arguments = lambda p: p.add_argument("--n", type=int, default=1)
    ok.run = lambda args: calls.append(args.n) or 0
    bad = types.ModuleType("cli_bad_cmd")
    bad.HELP = "fail"
    bad.add_arguments = lambda p: None

    def fail(args):
        raise ValueError("input.json line 3: expected a number")

    bad.run = fail
    monkeypatch.setitem(sys.modules, "cli_ok_cmd", ok)
    monkeypatch.setitem(sys.modules, "cli_bad_cmd", bad)
    return {"ok": ("cli_ok_cmd", "say ok"), "bad": ("cli_bad_cmd", "fail"), "never": ("no.such.module", "x")}, calls


def test_runs_selected_command_without_importing_others(fake_commands):
    commands, calls = fake_commands
    # "never" points at a module that does not exist: importing it would raise
    assert run_cli("prog", "d", commands, ["ok", "--n", "5"]) == 0
    assert calls == [5]


def test_user_error_is_one_line_exit_2(fake_commands, capsys):
    commands, _ = fake_commands
    assert run_cli("prog", "d", commands, ["bad"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "prog bad: error: input.json line 3: expected a number"


def test_no_command_prints_help(fake_commands, capsys):
    commands, _ = fake_commands
    assert run_cli("prog", "d", commands, []) == 2
    assert "say ok" in capsys.readouterr().out


def test_listen_help_does_not_import_heavy_modules():
    code = (
        "import sys; from edge.cli import main\n"
        "try:\n    main(['listen', '--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('torch', 'mediapipe', 'scipy', 'cv2', 'textual') if m in sys.modules]\n"
        "sys.exit(1 if heavy else 0)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
