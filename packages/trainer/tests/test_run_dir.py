"""A run folder has one owner: a second run, or a concurrent process, is refused clearly."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from codemode_trainer.run_dir import RunDir, RunDirError


def test_layout(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "r")
    assert run.data == tmp_path / "r" / "data"
    assert run.adapters.name == "adapters"
    assert (run.fused.name, run.quantized.name) == ("fused", "quantized")
    assert (run.metrics.name, run.loss_plot.name) == ("metrics.toml", "loss.png")


def test_claim_records_the_owner_and_a_second_run_is_refused(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "r")
    with run.claim("first"):
        (run.root / "marker").write_text("x")
        run.adapters.mkdir()
        (run.adapters / "checkpoint.json").write_text("{}")  # it trained: work to lose
    owner = run.owner()
    assert owner is not None
    assert owner["command"] == "first"
    assert len(owner["run_id"]) == 12
    with pytest.raises(RunDirError) as caught, run.claim("second"):
        pass
    message = str(caught.value)
    assert "already belongs to run" in message
    assert owner["run_id"] in message
    assert "--resume" in message
    assert "\n" not in message


def test_resume_keeps_the_run_id(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "r")
    with run.claim("first"):
        pass
    first = run.owner()
    with run.claim("again", resume=True):
        pass
    again = run.owner()
    assert first is not None
    assert again is not None
    assert again["run_id"] == first["run_id"]
    assert len(again["resumed"]) == 1


def test_resume_of_nothing_and_foreign_folders_are_refused(tmp_path: Path) -> None:
    with (
        pytest.raises(RunDirError, match="holds no run to resume"),
        RunDir(tmp_path / "new").claim("x", resume=True),
    ):
        pass
    assert not (tmp_path / "new").exists()  # a refused claim leaves nothing behind
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "thesis.tex").write_text("")
    with (
        pytest.raises(RunDirError, match="not empty and not a run folder"),
        RunDir(tmp_path / "busy").claim("x"),
    ):
        pass


def test_a_folder_in_use_by_another_process_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "r"
    holder = textwrap.dedent(
        f"""
        import sys, time
        from codemode_trainer.run_dir import RunDir
        with RunDir({str(root)!r}).claim("holder"):
            print("ready", flush=True)
            sys.stdin.readline()
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", holder], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        with (
            pytest.raises(RunDirError, match="is in use by run") as caught,
            RunDir(root).claim("me", resume=True),
        ):
            pass
        assert f"pid {proc.pid}" in str(caught.value)
        with (
            pytest.raises(RunDirError, match=r"is in use by run .*; sweep it afterwards"),
            RunDir(root).hold("sweep"),
        ):
            pass
    finally:
        proc.communicate("\n", timeout=30)
    with RunDir(root).claim("me", resume=True):  # the lock died with its process
        pass
    assert json.loads((root / "owner.json").read_text())["command"] == "me"


def test_holding_a_run_keeps_training_out_without_taking_the_folder(tmp_path: Path) -> None:
    """The sweep reads checkpoints under the lock; a claim meanwhile is refused, the owner kept."""
    run = RunDir(tmp_path / "r")
    with run.claim("codemode-train pipeline"):
        pass
    owner = json.loads(run.owner_file.read_text())
    with (
        run.hold("sweep"),
        pytest.raises(RunDirError, match="is in use by run"),
        RunDir(run.root).claim("codemode-train pipeline", resume=True),
    ):
        pass
    assert json.loads(run.owner_file.read_text()) == owner
    with (
        pytest.raises(RunDirError, match="run folder not found"),
        RunDir(tmp_path / "nowhere").hold("sweep"),
    ):
        pass
    assert run.sweep_point(40) == run.root / "sweep" / "0000040"


def test_a_run_that_never_trained_does_not_block_the_next_attempt(tmp_path: Path) -> None:
    """A run stopped by bad data, a bad model or preflight left nothing to continue or lose."""
    run = RunDir(tmp_path / "r")

    def first_attempt() -> None:
        with run.claim("first"):
            run.data.mkdir()
            run.record_stage("data", 0.1)
            raise ValueError("bad model")

    with pytest.raises(ValueError, match="bad model"):
        first_attempt()
    first = run.owner()
    assert first is not None
    with run.claim("second"):
        pass
    second = run.owner()
    assert second is not None
    assert second["run_id"] != first["run_id"]
    assert second["command"] == "second"
    assert run.read_state() == {"stages": {}}  # the old records are redone, not trusted
