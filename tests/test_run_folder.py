"""One run per output folder, one writer at a time, resume continues the same run or
refuses, and a failed write loses nothing (issue: reliability, round two)."""

from __future__ import annotations

import errno
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from infomin import run_folder
from infomin.cli import main
from infomin.outputs import WriteError, write_json
from infomin.run_folder import LOCK_NAME

TINY = ["--preset", "simclr", "--train-size", "64", "--test-size", "32", "--batch-size", "16",
        "--epochs", "1", "--width", "0.25", "--accelerator", "cpu"]  # fmt: skip
CLI = "import sys; from infomin.cli import main; sys.exit(main())"
EVAL = ["evaluate", "--raw-pixels", "--train-size", "64", "--test-size", "32"]


def _exit(argv: list[str], capsys) -> tuple[int, str]:
    """Exit status and the stderr line of a command that fails (0, '' when it succeeds)."""
    try:
        code = main(argv)
    except SystemExit as stop:
        code = stop.code
    err = capsys.readouterr().err.strip()
    return int(code or 0), err


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory) -> Path:
    """A finished tiny pretraining run (its folder)."""
    out = tmp_path_factory.mktemp("pretrained") / "run"
    assert main(["pretrain", *TINY, "--out", str(out)]) == 0
    return out


AREA = "Run folders: one run, one writer, resume the same run"


def test_a_second_run_into_a_run_folder_is_refused(tmp_path, capsys, reliability):
    out = tmp_path / "run"
    assert main([*EVAL, "--seed", "1", "--out", str(out)]) == 0
    before = {name: (out / name).read_text() for name in ("config.yaml", "results.json")}
    code, err = _exit([*EVAL, "--seed", "2", "--out", str(out)], capsys)
    assert code == 2 and len(err.splitlines()) == 1
    assert "already holds a run (evaluate)" in err and "--overwrite" in err and "new --out" in err
    assert {name: (out / name).read_text() for name in before} == before
    reliability(AREA, "a second run into a folder that holds a run",
                "infomin evaluate ... --out {OUT} (twice)",
                f"exit {code}: {err}; config.yaml and results.json unchanged")  # fmt: skip


def test_pretrain_names_the_three_ways_on(pretrained, capsys, reliability):
    code, err = _exit(["pretrain", *TINY, "--out", str(pretrained)], capsys)
    assert code == 2
    reliability(AREA, "a new pretraining into a pretraining run's folder",
                "infomin pretrain ... --out {RUN}", f"exit {code}: {err}")  # fmt: skip
    assert "--resume to continue it, --overwrite to replace it, or a new --out" in err


def test_overwrite_keeps_nothing_of_the_old_run(tmp_path):
    out = tmp_path / "run"
    assert main([*EVAL, "--seed", "1", "--out", str(out)]) == 0
    (out / "old-plot.png").write_bytes(b"old")
    assert main([*EVAL, "--seed", "2", "--out", str(out), "--overwrite"]) == 0
    assert not (out / "old-plot.png").exists()
    assert yaml.safe_load((out / "config.yaml").read_text())["seed"] == 2
    assert not (out / LOCK_NAME).exists()  # released at the end


def test_evaluating_a_pretraining_run_writes_beside_it(pretrained, capsys, reliability):
    before = (pretrained / "results.json").read_text()
    weights = pretrained / "checkpoints" / "last.ckpt"
    argv = ["evaluate", "--weights", str(weights), "--train-size", "64", "--test-size", "32",
            "--out", str(pretrained)]  # fmt: skip
    assert main(argv) == 0
    assert (pretrained / "results.json").read_text() == before
    beside = json.loads((pretrained / "eval-colorful-moving-digits" / "results.json").read_text())
    assert beside["metrics"]
    assert "holds a pretrain run" in capsys.readouterr().out
    reliability(AREA, "evaluate --out pointed at a pretraining run",
                "infomin evaluate --weights {RUN}/checkpoints/last.ckpt ... --out {RUN}",
                "exit 0; results in {RUN}/eval-colorful-moving-digits/, the run's own "
                "results.json unchanged")  # fmt: skip


def _lock(folder: Path, pid: int, host: str | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    record = {"pid": pid, "host": host or socket.gethostname(), "command": "pretrain",
              "started": "2026-01-01 00:00:00"}  # fmt: skip
    (folder / LOCK_NAME).write_text(json.dumps(record))


def test_a_live_writer_holds_the_folder(tmp_path, capsys, reliability):
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        _lock(tmp_path / "run", holder.pid)
        code, err = _exit([*EVAL, "--out", str(tmp_path / "run")], capsys)
    finally:
        holder.kill()
        holder.wait()
    assert code == 2
    assert f"in use by pid {holder.pid} on {socket.gethostname()}" in err
    assert (tmp_path / "run" / LOCK_NAME).exists()  # not ours to remove
    reliability(AREA, "the folder's lock held by a live process", "infomin evaluate ...",
                f"exit {code}: {err.replace(str(holder.pid), 'PID')}")  # fmt: skip


def test_a_lock_of_another_host_is_never_taken_over(tmp_path, capsys):
    _lock(tmp_path / "run", 1, host="elsewhere")
    code, err = _exit([*EVAL, "--out", str(tmp_path / "run")], capsys)
    assert code == 2 and "on elsewhere" in err


def test_a_lock_left_by_a_dead_process_is_taken_over(tmp_path, capsys, reliability):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    _lock(tmp_path / "run", dead.pid)
    assert main([*EVAL, "--out", str(tmp_path / "run")]) == 0
    assert f"taking over the lock of pid {dead.pid}" in capsys.readouterr().out
    assert (tmp_path / "run" / "results.json").is_file()
    reliability(
        AREA,
        "a lock left by a process that has ended",
        "infomin evaluate ...",
        "exit 0, after the notice 'taking over the lock of pid PID, which has ended'",
    )


def test_the_lock_appears_whole_and_its_draft_is_gone(tmp_path, monkeypatch):
    """The lock gets its name only once its record is written (a reader never sees it
    empty), and the private draft it was written in does not stay."""
    linked = []
    link = os.link

    def spy(source, target):
        linked.append(json.loads(Path(source).read_text()))
        link(source, target)

    monkeypatch.setattr(run_folder.os, "link", spy)
    out = run_folder.claim(tmp_path / "run", "pretrain")
    try:
        assert linked[0]["pid"] == os.getpid() and linked[0]["command"] == "pretrain"
        assert [p.name for p in out.iterdir()] == [LOCK_NAME]
        assert json.loads((out / LOCK_NAME).read_text()) == linked[0]
    finally:
        run_folder.release_all()


def test_without_hard_links_the_lock_is_still_taken(tmp_path, monkeypatch):
    def no_links(source, target):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(run_folder.os, "link", no_links)
    out = run_folder.claim(tmp_path / "run", "pretrain")
    try:
        assert [p.name for p in out.iterdir()] == [LOCK_NAME]
        assert json.loads((out / LOCK_NAME).read_text())["pid"] == os.getpid()
    finally:
        run_folder.release_all()


def test_two_runs_started_together_one_wins_whole(tmp_path, reliability):
    """Two real processes into one folder: one finishes, the other is refused, and the
    folder holds the winner's config and the winner's numbers."""
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    runs = [
        subprocess.Popen([sys.executable, "-c", CLI, *EVAL, "--seed", str(seed),
                          "--out", str(out)], stderr=subprocess.PIPE, text=True, env=env)
        for seed in (1, 2)
    ]  # fmt: skip
    results = [(run.wait(timeout=300), run.stderr.read()) for run in runs]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], results
    refused = next(err for code, err in results if code == 2)
    assert "in use by pid" in refused or "already holds a run" in refused
    seed = yaml.safe_load((out / "config.yaml").read_text())["seed"]
    assert json.loads((out / "results.json").read_text())["config"]["seed"] == seed
    reliability(AREA, "two runs started at the same time into one folder (real processes)",
                "infomin evaluate --seed 1|2 ... --out {OUT}",
                f"exits {codes}; the loser: {refused.strip().splitlines()[-1]}; the folder "
                "holds the winner's config and numbers")  # fmt: skip


@pytest.mark.parametrize(
    ("change", "phrase"),
    [
        (["--preset", "mocov2"], "preset 'simclr' (run) vs 'mocov2' (now)"),
        (["--batch-size", "8"], "batch_size 16 (run) vs 8 (now)"),
        (["--train-size", "96"], "train_size 64 (run) vs 96 (now)"),
        (["--epochs", "1", "--max-steps", "1"], "max_steps -1 (run) vs 1 (now)"),
    ],
)
def test_resume_refuses_a_different_run(change, phrase, pretrained, capsys, reliability):
    argv = [*TINY, *change]
    code, err = _exit(["pretrain", *argv, "--resume", "--out", str(pretrained)], capsys)
    assert code == 2 and len(err.splitlines()) == 1, err
    assert phrase in err and "Traceback" not in err
    reliability(AREA, f"--resume with {' '.join(change)}", "infomin pretrain ... --resume",
                f"exit {code}: {err}")  # fmt: skip


def test_resume_refuses_a_foreign_checkpoint_in_one_line(tmp_path, pretrained, capsys,
                                                         reliability):  # fmt: skip
    """No config.yaml to compare with: the checkpoint itself is checked before loading."""
    out = tmp_path / "foreign"
    (out / "checkpoints").mkdir(parents=True)
    last = pretrained / "checkpoints" / "last.ckpt"
    (out / "checkpoints" / "last.ckpt").write_bytes(last.read_bytes())
    argv = ["pretrain", *TINY, "--preset", "mocov2", "--resume", "--out", str(out)]
    code, err = _exit(argv, capsys)
    assert code == 2 and "is not a checkpoint of this run" in err
    reliability(
        AREA,
        "--resume from another preset's checkpoint (no config.yaml)",
        "infomin pretrain --preset mocov2 ... --resume",
        f"exit {code}: {err}",
    )


def test_resume_with_more_epochs_continues(tmp_path, pretrained):
    out = tmp_path / "longer"
    shutil.copytree(pretrained / "checkpoints", out / "checkpoints")
    shutil.copy2(pretrained / "config.yaml", out / "config.yaml")
    argv = ["pretrain", *TINY, "--epochs", "2", "--num-workers", "0", "--resume"]
    assert main([*argv, "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["epochs_done"] == 2 and results["steps_done"] == 2 * 4


def _half_then_enospc(self: Path, data, *args, **kwargs):
    """A writer that puts half its bytes on disk, then finds the disk full."""
    with open(self, "wb" if isinstance(data, bytes | memoryview) else "w") as handle:
        handle.write(data[: len(data) // 2])
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_full_disk_leaves_the_previous_file_and_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "results.json"
    write_json(target, {"version": 1})
    monkeypatch.setattr(Path, "write_text", _half_then_enospc)
    with pytest.raises(WriteError, match=r"cannot write .*results.json: No space left"):
        write_json(target, {"version": 2, "more": list(range(100))})
    monkeypatch.undo()
    assert json.loads(target.read_text()) == {"version": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json"]


# A command line whose checkpoint writes fail with the errno given first (a real process,
# so that the exit status and stderr are exactly what a user sees).
FAILING_CLI = """
import errno, os, sys
from pathlib import Path
from infomin.cli import main
code = int(sys.argv.pop(1))
real = Path.write_bytes
def failing(self, data):
    if self.name.startswith((".last.ckpt", ".epoch")):  # a checkpoint's temporary file
        raise OSError(code, os.strerror(code))
    return real(self, data)
Path.write_bytes = failing
sys.exit(main())
"""


@pytest.mark.parametrize("error", [errno.ENOSPC, errno.EIO, errno.EACCES])
def test_a_failed_checkpoint_write_stops_the_run_with_exit_4(error, tmp_path, reliability):
    out = tmp_path / "run"
    argv = [sys.executable, "-c", FAILING_CLI, str(error), "pretrain", *TINY, "--out", str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600)
    assert run.returncode == 4, run.stderr
    line = run.stderr.strip().splitlines()[-1]
    assert line.startswith("infomin: error: cannot write") and os.strerror(error) in line
    assert "ckpt" in line and "Traceback" not in run.stderr
    assert not list(out.rglob("*.tmp"))
    reliability("Faults during pretraining",
                f"writing a checkpoint fails: {errno.errorcode[error]}",
                "infomin pretrain ... (checkpoint writes fail)",
                f"exit 4: {line}; no temporary file left")  # fmt: skip


def test_a_refused_run_leaves_no_run_behind(tmp_path, capsys):
    """A user error found after the folder was claimed and config.yaml written (here: a
    labelled folder without test/) takes back the folder this run created, so that the
    retry needs no --overwrite; a folder that held other files keeps them."""
    from PIL import Image

    root = tmp_path / "labelled"
    for label in ("a", "b"):
        (root / "train" / label).mkdir(parents=True)
        for i in range(4):
            Image.new("RGB", (32, 32), (40 * i, 0, 0)).save(root / "train" / label / f"{i}.png")
    out = tmp_path / "new"
    argv = ["pretrain", *TINY[:2], "--data", "folder", "--data-dir", str(root)]
    code, err = _exit([*argv, "--out", str(out)], capsys)
    assert code == 2 and "no 'test' folder" in err
    assert not out.exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    code, err = _exit([*argv, "--out", str(empty)], capsys)
    assert code == 2 and empty.is_dir() and not any(empty.iterdir())
