import json
import os
from pathlib import Path

import pytest

from infomin.outputs import OutputError, atomic_write, prepare_out_dir, write_json, write_text


def test_write_json_round_trips(tmp_path):
    path = write_json(tmp_path / "results.json", {"b": 1.5, "a": [1, 2]})
    assert json.loads(path.read_text()) == {"a": [1, 2], "b": 1.5}
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_failed_write_keeps_previous_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "results.json"
    write_json(target, {"good": True})

    def broken(tmp):
        tmp.write_text("half-writ")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(target, broken)
    assert json.loads(target.read_text()) == {"good": True}
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_prepare_out_dir_refuses_a_file(tmp_path):
    afile = tmp_path / "taken"
    afile.write_text("x")
    with pytest.raises(OutputError, match="not a folder"):
        prepare_out_dir(afile)


def test_prepare_out_dir_creates_nested(tmp_path):
    out = prepare_out_dir(tmp_path / "a" / "b")
    assert out.is_dir()
    assert list(out.iterdir()) == []


def test_written_files_get_the_usual_mode_not_0600(tmp_path):
    import os

    path = write_json(tmp_path / "r.json", {})
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc to name fds")
def test_atomic_write_fsyncs_the_file_then_its_folder(tmp_path, monkeypatch):
    """The data must be durable before the rename exposes it, and the rename itself after."""
    synced: list[str] = []
    real_fsync = os.fsync

    def spy(fd: int) -> None:
        synced.append(os.path.realpath(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)
    write_text(tmp_path / "a.txt", "x")
    assert len(synced) == 2
    assert Path(synced[0]).parent == tmp_path.resolve()
    assert Path(synced[0]).name.startswith(".a.txt.")
    assert synced[1] == str(tmp_path.resolve())
