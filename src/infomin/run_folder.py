"""A run folder holds one run, written by one process at a time.

Without these rules a second run into an existing `--out` silently replaced the first
one's `config.yaml` and `results.json` and piled its checkpoints beside the old ones, so
that a later `--resume` could not tell which run it continued; two runs started at once
into one folder both "succeeded" with one's config and the other's numbers.

- `claim` refuses a folder that holds another run unless the user says `--resume` (the
  same run goes on) or `--overwrite` (the old run is deleted first), and takes a lock.
- The lock (`.infomin.lock`) records the process id, host, command and start time; a
  second writer is refused with the holder's name. A lock left behind by a process that
  no longer exists on this host is taken over, with a one-line notice.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from pathlib import Path

from infomin.outputs import OutputError, prepare_out_dir

LOCK_NAME = ".infomin.lock"
CONFIG_NAME = "config.yaml"
# What shows that a folder holds a run (of any command, any version of infomin).
MARKERS = (CONFIG_NAME, "results.json", "checkpoints", "report.md")

_held: list[Path] = []  # locks this process holds, released by `release_all`
_fresh: list[tuple[Path, bool]] = []  # folders that held nothing: (folder, created by us)


def is_secondary_process() -> bool:
    """True in the DDP processes Lightning starts besides rank 0 (they re-run the same
    command line; the rank-0 process owns the folder and its lock)."""
    return any(os.environ.get(name, "0") != "0" for name in ("LOCAL_RANK", "NODE_RANK"))


def run_in(folder: Path) -> str | None:
    """The command whose run `folder` holds ('pretrain', 'mi', ...), 'unknown' when it
    holds one without a readable header, None when it holds none."""
    if not folder.is_dir() or not any((folder / name).exists() for name in MARKERS):
        return None
    config = folder / CONFIG_NAME
    if config.is_file():
        first = config.read_text(encoding="utf-8", errors="replace").split("\n", 1)[0].split()
        if len(first) >= 3 and first[:2] == ["#", "infomin"]:
            return first[2]
    return "unknown"


def claim(
    path: str | Path, command: str, *, resume: bool = False, overwrite: bool = False,
    can_resume: bool = False,
) -> Path:  # fmt: skip
    """Make `path` this run's folder: refuse another run's folder unless resuming it or
    overwriting it, and hold the folder's lock until `release_all`."""
    out = Path(path)
    if is_secondary_process():
        return prepare_out_dir(out)
    held = run_in(out)
    if held is not None and not (resume or overwrite):
        ways = "--resume to continue it, " if can_resume else ""
        raise OutputError(
            f"{out} already holds a run ({held}); use {ways}--overwrite to replace it, "
            "or a new --out"
        )
    if resume and held not in (None, command, "unknown"):  # unknown: the checkpoint tells
        raise OutputError(f"--resume: {out} holds a {held} run, not a {command} run")
    created = not out.exists()
    fresh = created or (out.is_dir() and not any(out.iterdir()))
    out = prepare_out_dir(out)
    _lock(out, command)
    if overwrite and held is not None:
        _empty(out)
    if fresh:
        _fresh.append((out, created))
    return out


def abandon_fresh() -> None:
    """After a user error, take back what this process wrote into folders that held
    nothing before it: a refused run must not leave a "run" that the next attempt would
    have to --overwrite."""
    while _fresh:
        folder, created = _fresh.pop()
        if not folder.is_dir():
            continue
        written = {p.name for p in folder.rglob("*") if p.is_file()}
        if written - {CONFIG_NAME, LOCK_NAME}:
            continue  # results or checkpoints exist: never delete work
        if created:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            _empty(folder)


def _empty(folder: Path) -> None:
    """Delete everything of the old run (the lock just taken stays)."""
    for entry in folder.iterdir():
        if entry.name == LOCK_NAME:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def _lock(folder: Path, command: str) -> None:
    path = folder / LOCK_NAME
    record = {"pid": os.getpid(), "host": socket.gethostname(), "command": command,
              "started": time.strftime("%Y-%m-%d %H:%M:%S")}  # fmt: skip
    for _ in range(2):
        if not _create_whole(path, record):
            holder = _read_lock(path)
            if holder.get("pid") == os.getpid() and holder.get("host") == record["host"]:
                return  # this process already holds it
            if not _stale(holder, record["host"]):
                raise OutputError(
                    f"{folder} is in use by pid {holder.get('pid')} on {holder.get('host')} "
                    f"(infomin {holder.get('command')}, started {holder.get('started')}); "
                    f"wait for it, or delete {path} if that process is gone"
                ) from None
            print(f"infomin: taking over the lock of pid {holder.get('pid')}, which has ended",
                  flush=True)  # fmt: skip
            path.unlink(missing_ok=True)
            continue
        _held.append(path)
        return
    raise OutputError(f"cannot take the lock {path}")


def _create_whole(path: Path, record: dict) -> bool:
    """Create the lock `path` holding `record`, whole or not at all; False if it exists.

    Why not create-then-write: between the two, another process read an empty lock,
    took it for one left behind, and both runs wrote into the folder (seen in CI). The
    record goes to a private file first, then gets the lock's name by a hard link,
    which refuses an existing name: a lock is never seen half-written. A file system
    without hard links (some network or FAT mounts) falls back to create-then-write.
    """
    private = path.with_name(f"{path.name}.{record['host']}.{record['pid']}")
    private.write_text(json.dumps(record))
    try:
        os.link(private, path)
    except (FileExistsError, FileNotFoundError):  # held, or emptied by its holder
        return False
    except OSError:
        return _create_then_write(path, record)
    finally:
        private.unlink(missing_ok=True)
    return True


def _create_then_write(path: Path, record: dict) -> bool:
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as handle:
        json.dump(record, handle)
    return True


def _read_lock(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}  # unreadable or half-written: treated as left behind
    return data if isinstance(data, dict) else {}


def _stale(holder: dict, host: str) -> bool:
    """A lock whose process has ended on this host (another host's cannot be checked)."""
    pid = holder.get("pid")
    if not isinstance(pid, int):
        return True
    if holder.get("host") != host:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


def release_all() -> None:
    """Give up every lock this process holds (at the end of a command, however it ends)."""
    _fresh.clear()
    while _held:
        path = _held.pop()
        if _read_lock(path).get("pid") == os.getpid():
            path.unlink(missing_ok=True)
