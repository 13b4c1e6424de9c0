"""Run folders and atomic writes.

Every command writes into `--out DIR`. A file is written to a temporary sibling,
flushed to disk and renamed over the target, so a run killed mid-write leaves the
previous version intact instead of a half-written file.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml


class OutputError(ValueError):
    """The output folder cannot be used (not a folder, not writable)."""


def prepare_out_dir(path: str | Path) -> Path:
    """Create `path` if needed and check that we can write there, before any work starts."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise OutputError(f"output path {out} exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".write-test-"):
            pass
    except OSError as err:
        raise OutputError(f"cannot write to output folder {out}: {err.strerror}") from None
    return out


class WriteError(OSError):
    """Writing a result, report or checkpoint failed (disk full, I/O error, permission).

    Raised by `atomic_write` after it removed its temporary file: the previous version of
    the file is intact and nothing half-written is left. The command line reports it in
    one line naming the file, with its own exit status (`EXIT_WRITE`).
    """


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call `write(tmp_path)`, fsync the result, rename it over `path`, fsync the folder.

    The file's fsync makes its bytes durable before the rename can expose them; the
    folder's fsync makes the rename itself durable, so after a crash or power loss the
    name points at either the old file or the complete new one. Any `OSError` on the way
    (ENOSPC, EIO, EACCES) becomes a `WriteError` naming the file.
    """
    target = Path(path)
    tmp: Path | None = None
    try:
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        os.close(fd)
        tmp = Path(tmp_name)
        write(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual file mode
        os.replace(tmp, target)
    except WriteError:
        raise
    except OSError as err:
        reason = err.strerror or str(err) or type(err).__name__
        raise WriteError(err.errno, f"cannot write {target}: {reason}") from None
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
    fsync_dir(target.parent)
    return target


def fsync_dir(folder: Path) -> None:
    """Flush a folder's entries (a rename) to disk; a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. Windows: folders cannot be opened, renames are durable there
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems (network, FUSE) refuse fsync on a folder
        pass
    finally:
        os.close(fd)


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def write_text(path: str | Path, text: str) -> Path:
    """Atomically write a text file."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_json(path: str | Path, data: Any) -> Path:
    """Atomically write JSON (sorted keys, indented: diffable and machine-readable)."""
    return write_text(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def write_yaml(path: str | Path, data: Any) -> Path:
    """Atomically write YAML (used for the fully resolved `config.yaml` of a run)."""
    return write_text(path, yaml.safe_dump(data, sort_keys=False))


def command_line() -> str:
    """The command that produced a result, recorded beside it so anyone can rerun it."""
    argv = [Path(sys.argv[0]).name, *sys.argv[1:]]
    return " ".join(argv)
