"""Faults a pretraining run must survive: SIGKILL, SIGTERM/SIGINT, NaN, corrupt files.

The subprocess tests run `python -m infomin pretrain` as a real process and interrupt it
from outside, as a scheduler or a user would. Each process spends seconds importing torch
and Lightning, so only the SIGKILL test (the one no in-process test can imitate) runs in
the default suite; the others are `slow` (`make test-slow`), and the in-process tests
below cover their code paths. Timing: 40 steps per epoch of ~20 ms, so a kill sent
0.25 s after `epoch000.ckpt` appears lands early in epoch 1 (the tests check that epoch 1
had not finished). Each row is also recorded for docs/reliability.md.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import lightning as L
import pytest
import torch

import infomin.methods.pretrain as pretrain_module
from infomin.methods.faults import (
    AtomicCheckpointIO,
    Diverged,
    FiniteGuard,
    Interrupted,
    non_finite_tensors,
)
from infomin.methods.in_batch import InBatchMethod
from infomin.methods.pretrain import PretrainConfig, pretrain
from infomin.outputs import OutputError, WriteError

STEPS_PER_EPOCH = 40
EPOCHS = 2
PRETRAIN = (
    "pretrain --preset mocov2 --train-size 640 --batch-size 16 --width 0.25 "
    f"--epochs {EPOCHS} --config {{NOEVAL}}"
)
# In-process runs: 4 steps per epoch.
TINY = PretrainConfig(preset="simclr", evaluate=False, train_size=32, batch_size=8, epochs=3,
                      width=0.25)  # fmt: skip
AREA = "Faults during pretraining"


def _argv(out: Path, *extra: str) -> list[str]:
    noeval = out.parent / "noeval.yaml"
    noeval.write_text("evaluate: false\n")
    return [*PRETRAIN.format(NOEVAL=noeval).split(), "--out", str(out), *extra]


def _start(out: Path, *extra: str) -> subprocess.Popen:
    out.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "infomin", *_argv(out, *extra)]
    with (
        open(out.parent / f"{out.name}.stdout", "wb") as stdout,
        open(out.parent / f"{out.name}.stderr", "wb") as stderr,
    ):
        return subprocess.Popen(cmd, stdout=stdout, stderr=stderr, env=env)


def _finish(proc: subprocess.Popen, out: Path, timeout: float = 300) -> tuple[int, str]:
    code = proc.wait(timeout=timeout)
    return code, (out.parent / f"{out.name}.stderr").read_text()


def _run(out: Path, *extra: str) -> tuple[int, str]:
    return _finish(_start(out, *extra), out)


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, f"the run ended (status {proc.returncode}) before {path}"
        assert time.monotonic() < deadline, f"no {path} after {timeout} s"
        time.sleep(0.02)


def _results(out: Path) -> dict:
    return json.loads((out / "results.json").read_text())


def _state(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=False)


def _last_line(stderr: str) -> str:
    return stderr.strip().splitlines()[-1] if stderr.strip() else ""


@pytest.fixture(scope="module")
def straight(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One uninterrupted run, the reference for the interrupted ones."""
    out = tmp_path_factory.mktemp("faults") / "straight"
    code, stderr = _run(out)
    assert code == 0, stderr
    return out


def _assert_same_run(a: Path, b: Path) -> None:
    """Same steps, same final metrics and the same weights, buffers and queue (1e-6: the
    runs are expected to be bit-identical on CPU; the margin only absorbs float printing)."""
    ra, rb = _results(a), _results(b)
    assert ra["steps_done"] == rb["steps_done"] == EPOCHS * STEPS_PER_EPOCH
    assert ra["final"].keys() == rb["final"].keys()
    for key, value in ra["final"].items():
        assert rb["final"][key] == pytest.approx(value, abs=1e-6), key
    sa = _state(a / "checkpoints/last.ckpt")["state_dict"]
    sb = _state(b / "checkpoints/last.ckpt")["state_dict"]
    for key in sa:
        assert torch.allclose(sa[key].float(), sb[key].float(), atol=1e-6), key


def test_sigkill_mid_epoch_then_resume_ends_like_an_uninterrupted_run(straight, reliability):
    out = straight.parent / "killed"
    proc = _start(out)
    _wait_for(out / "checkpoints/epoch000.ckpt", proc)
    time.sleep(0.25)
    proc.kill()
    killed, _ = _finish(proc, out)
    assert killed == -signal.SIGKILL
    assert not (out / "checkpoints/epoch001.ckpt").exists(), "the kill came after epoch 1"
    code, stderr = _run(out, "--resume")
    reliability(AREA, "SIGKILL early in epoch 1 of 2, then `--resume`", f"infomin {PRETRAIN}",
                f"killed: exit {killed}; resume: exit {code}, continued from the epoch-0 "
                "checkpoint and ended with the same steps, final metrics and weights "
                "(all tensors within 1e-6) as an uninterrupted run")  # fmt: skip
    assert code == 0, stderr
    _assert_same_run(straight, out)


@pytest.mark.slow
def test_sigterm_saves_a_checkpoint_and_resume_finishes(straight, reliability):
    out = straight.parent / "terminated"
    proc = _start(out)
    _wait_for(out / "checkpoints/epoch000.ckpt", proc)
    time.sleep(0.25)
    proc.send_signal(signal.SIGTERM)
    code, stderr = _finish(proc, out)
    saved = _state(out / "checkpoints/last.ckpt")["global_step"]
    message = _last_line(stderr)
    resumed, resume_err = _run(out, "--resume")
    reliability(AREA, "SIGTERM early in epoch 1 of 2, then `--resume`", f"infomin {PRETRAIN}",
                f"exit {code}: {message}; last.ckpt at step {saved}; resume: exit {resumed}, "
                f"{_results(out)['steps_done'] if resumed == 0 else '?'} steps done")  # fmt: skip
    assert code == 128 + signal.SIGTERM
    assert "Traceback" not in stderr
    assert (
        message == f"infomin: stopped by SIGTERM after step {saved}; saved "
        f"{out / 'checkpoints/last.ckpt'} (run the same command with --resume to continue)"
    )
    assert STEPS_PER_EPOCH < saved < EPOCHS * STEPS_PER_EPOCH  # mid-epoch, not the epoch's
    assert resumed == 0, resume_err
    assert _results(out)["steps_done"] == EPOCHS * STEPS_PER_EPOCH


@pytest.mark.slow
def test_resume_skips_a_truncated_last_checkpoint(straight, reliability):
    """The run ended; last.ckpt is then cut in half (a full disk, a copy cut short)."""
    out = straight.parent / "truncated"
    shutil.copytree(straight, out)
    last = out / "checkpoints/last.ckpt"
    last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])
    code, stderr = _run(out, "--resume")
    squeeze = lambda text: "".join(text.split())  # noqa: E731 (the console wraps lines)
    skipped = f"skipping unreadable checkpoint {out / 'checkpoints/last.ckpt'}:"
    used = f"from the checkpoint path at {out / 'checkpoints/epoch001.ckpt'}"
    reliability(
        AREA,
        "last.ckpt truncated to half its size, then `--resume`",
        f"infomin {PRETRAIN} --resume",
        f"exit {code}; printed '{skipped} ...', restored {used.split()[-1]} (the run "
        f"had finished: {EPOCHS * STEPS_PER_EPOCH} steps done, nothing left to train)",
    )
    assert code == 0, stderr
    assert squeeze(skipped) in squeeze(stderr) and squeeze(used) in squeeze(stderr)
    assert _results(out)["steps_done"] == EPOCHS * STEPS_PER_EPOCH  # nothing left to train


@pytest.mark.slow
def test_diverging_run_exits_3_in_one_line(tmp_path, reliability):
    out = tmp_path / "diverged"
    code, stderr = _run(out, "--lr", "1e10")
    message = _last_line(stderr)
    reliability(
        AREA,
        "non-finite loss (`--lr 1e10`)",
        f"infomin {PRETRAIN} --lr 1e10",
        f"exit {code}: {message}",
    )
    assert code == 3
    assert "Traceback" not in stderr
    assert message.startswith("infomin: training diverged: non-finite loss nan at step ")
    assert "no checkpoint was written" in message


class _SendSignal(L.Callback):
    """Sends `signum` to this process just before step `step` (a user's Ctrl-C)."""

    def __init__(self, signum: int, step: int) -> None:
        self.signum, self.step = signum, step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_step == self.step:
            signal.raise_signal(self.signum)


def test_ctrl_c_stops_at_the_step_boundary_with_a_checkpoint(tmp_path, monkeypatch,
                                                             reliability):  # fmt: skip
    monkeypatch.setattr(pretrain_module, "make_monitors",
                        lambda *args, **kwargs: [_SendSignal(signal.SIGINT, 5)])  # fmt: skip
    # What was installed before: Python's default, or SIG_IGN under a shell's background job.
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(Interrupted) as stop:
        pretrain(TINY, tmp_path)
    saved = _state(tmp_path / "checkpoints/last.ckpt")
    reliability(AREA, "SIGINT (Ctrl-C) before step 5 of 12, then resume", "pretrain(...)",
                f"Interrupted, exit status {stop.value.exit_code}: {stop.value}; "
                f"last.ckpt at step {saved['global_step']}")  # fmt: skip
    assert stop.value.step == saved["global_step"] == 6  # step 5 finished, then stopped
    assert stop.value.exit_code == 130
    assert signal.getsignal(signal.SIGINT) == before  # the previous handler is restored
    monkeypatch.undo()
    assert pretrain(TINY, tmp_path, resume=True)["steps_done"] == 12


def _nan_at(step: int):
    original = InBatchMethod.contrastive_loss

    def loss(self, views, index):
        value = original(self, views, index)
        return value * float("nan") if self.global_step == step else value

    return loss


def test_nan_loss_names_the_step_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch,
                                                                    reliability):  # fmt: skip
    monkeypatch.setattr(InBatchMethod, "contrastive_loss", _nan_at(9))  # epoch 2, 2nd step
    with pytest.raises(FloatingPointError, match="non-finite loss nan at step 9") as err:
        pretrain(TINY, tmp_path)
    last = _state(tmp_path / "checkpoints/last.ckpt")
    reliability(AREA, "NaN loss injected at step 9 (epoch 2 of 3)", "pretrain(...)",
                f"{type(err.value).__name__}: {err.value}; last.ckpt kept at step "
                f"{last['global_step']} (end of epoch 1), all weights finite")  # fmt: skip
    assert last["global_step"] == 8 and not non_finite_tensors(last["state_dict"])
    assert not (tmp_path / "checkpoints/epoch002.ckpt").exists()


def test_finite_guard_refuses_to_save_non_finite_weights():
    trainer = SimpleNamespace(global_step=7)
    good = {"state_dict": {"w": torch.ones(3), "steps": torch.tensor(3)}}
    FiniteGuard().on_save_checkpoint(trainer, None, good)  # type: ignore[arg-type]
    bad = {"state_dict": {"w": torch.tensor([1.0, float("inf")]), "b": torch.ones(1)}}
    with pytest.raises(Diverged, match=r"non-finite weights \(w\) at step 7"):
        FiniteGuard().on_save_checkpoint(trainer, None, bad)  # type: ignore[arg-type]


def test_checkpoint_write_that_fails_keeps_the_previous_file(tmp_path, monkeypatch,
                                                             reliability):  # fmt: skip
    path = tmp_path / "last.ckpt"
    AtomicCheckpointIO().save_checkpoint({"step": 1}, path)

    real_write_bytes = Path.write_bytes

    def half_then_crash(self: Path, data, *args, **kwargs):
        real_write_bytes(self, bytes(data)[: len(data) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(Path, "write_bytes", half_then_crash)
    with pytest.raises(WriteError, match=r"cannot write .*last.ckpt: No space"):
        AtomicCheckpointIO().save_checkpoint({"step": 2}, path)
    monkeypatch.undo()
    reliability(
        AREA,
        "disk full half-way through writing a checkpoint",
        "(checkpoint writer)",
        "the write fails; the previous checkpoint is intact, no temporary file left",
    )
    assert torch.load(path, weights_only=True) == {"step": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]


def test_same_seed_same_metrics_on_cpu(tmp_path, reliability):
    config = replace(TINY, epochs=1)
    a, b = pretrain(config, tmp_path / "a"), pretrain(config, tmp_path / "b")
    c = pretrain(replace(config, seed=1), tmp_path / "c")
    reliability(
        AREA,
        "the same seed twice, then another seed",
        "pretrain(...)",
        f"seed 0: loss {a['final']['train/loss']:.6f} and "
        f"{b['final']['train/loss']:.6f}; seed 1: {c['final']['train/loss']:.6f}",
    )
    assert a["final"] == b["final"]
    assert a["final"]["train/loss"] != c["final"]["train/loss"]


@pytest.mark.slow
def test_a_dead_ddp_rank_stops_the_other_and_resume_finishes(tmp_path, reliability):
    """2-process gloo DDP on the CPU; the second process is SIGKILLed mid-epoch 1. The
    survivor must leave within 60 s with one clear line (not hang in a collective until
    the backend's 30-minute timeout), and `--resume` must finish the run."""
    out = tmp_path / "ddp"
    argv = ["pretrain", "--preset", "simclr", "--devices", "2", "--accelerator", "cpu",
            "--train-size", "1280", "--batch-size", "16", "--epochs", "3", "--width", "0.25",
            "--no-evaluate", "--out", str(out)]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    errors = open(tmp_path / "stderr", "w+")  # a file: a full pipe could block the run  # noqa: SIM115
    main_proc = subprocess.Popen([sys.executable, "-m", "infomin", *argv], env=env,
                                 stdout=subprocess.DEVNULL, stderr=errors)  # fmt: skip
    try:
        _wait_for(out / "checkpoints" / "epoch000.ckpt", main_proc, timeout=600)
    except AssertionError as err:  # say why the run ended early
        raise AssertionError(f"{err}: {(tmp_path / 'stderr').read_text()[-2000:]}") from None
    children = subprocess.run(["pgrep", "-P", str(main_proc.pid)], capture_output=True,
                              text=True).stdout.split()  # fmt: skip
    assert children, "Lightning started no second process"
    os.kill(int(children[0]), signal.SIGKILL)
    killed = time.monotonic()
    code = main_proc.wait(timeout=120)
    waited = time.monotonic() - killed
    errors.close()
    stderr = (tmp_path / "stderr").read_text()
    assert waited < 60 and code == 5, (code, waited, stderr[-2000:])
    line = _last_line(stderr)
    assert line.startswith("infomin: error: another training process ended")
    resumed = subprocess.run([sys.executable, "-m", "infomin", *argv, "--resume"], env=env,
                             capture_output=True, text=True, timeout=900)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert _results(out)["epochs_done"] == 3
    reliability(AREA, "one of 2 DDP processes SIGKILLed mid-epoch, then `--resume`",
                "infomin pretrain --devices 2 --accelerator cpu ... --out {OUT}",
                f"the other exited {code} after {waited:.0f} s: {line}; resume: exit 0, "
                "3 epochs done")  # fmt: skip


def test_a_fresh_run_into_a_folder_with_checkpoints_is_refused(tmp_path):
    """Lightning would write `last-v1.ckpt` beside the old `last.ckpt`, and every reader of
    `last.ckpt` (export, evaluate, the benchmark tables) would take the old weights."""
    out = tmp_path / "run"
    pretrain(replace(TINY, epochs=1), out)
    before = {p.name: p.stat().st_mtime_ns for p in (out / "checkpoints").iterdir()}
    with pytest.raises(OutputError, match=r"already holds checkpoints .*last\.ckpt"):
        pretrain(replace(TINY, epochs=2), out)
    after = {p.name: p.stat().st_mtime_ns for p in (out / "checkpoints").iterdir()}
    assert after == before  # nothing trained, nothing written
    pretrain(replace(TINY, epochs=2), out, resume=True)  # the same folder, resumed: allowed
    assert not list((out / "checkpoints").glob("last-v*.ckpt"))
