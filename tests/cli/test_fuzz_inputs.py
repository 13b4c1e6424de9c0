"""Fuzzing what users type and hand us: view specs, YAML configs, checkpoint, IDX and image
files. Each input either works or ends with exit 2 and one line; never a traceback,
never a hang (a deadline per example).

`make test` runs a fixed, small budget of examples; `make test-slow` runs a larger one
(`INFOMIN_FUZZ_EXAMPLES`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import tempfile
from datetime import timedelta
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infomin.cli import main
from infomin.methods.pretrain_config import PretrainConfig

EXAMPLES = int(os.environ.get("INFOMIN_FUZZ_EXAMPLES", "25"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=timedelta(seconds=20),  # a hang is a failure, not a slow example
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=EXAMPLES <= 25,  # the make-test budget is the same every run
)
KEYS = [f.name for f in dataclasses.fields(PretrainConfig)]


def run_cli(argv: list[str]) -> tuple[int, str]:
    """Exit status and stderr of one command, run in this process."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(argv)
        except SystemExit as stop:
            code = stop.code
    return int(code or 0), err.getvalue()


def assert_clean(code: int, err: str) -> None:
    """Worked, or exit 2 with exactly one `infomin: error:` line and no traceback."""
    assert "Traceback" not in err, err
    if code == 0:
        return
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("infomin: error: "), err


spec_text = st.one_of(
    st.text(max_size=40),
    st.from_regex(
        r"(colorspace|patches|recipe|toy|learned|frob)?(:[a-z0-9_=.,+\-/ ]{0,30})?", fullmatch=True
    ),
)


@FUZZ
@given(spec=spec_text)
def test_any_view_spec_parses_or_is_refused_in_one_line(spec):
    if spec.startswith("-") or "\x00" in spec:
        return  # argparse reads a leading dash as an option; NUL cannot be in argv
    assert_clean(*run_cli(["pretrain", "--views", spec, "--dry-run"]))


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
)  # fmt: skip
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)
documents = st.one_of(
    st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), values, max_size=5),
    values,
)


@FUZZ
@given(document=documents)
def test_any_yaml_config_resolves_or_is_refused_in_one_line(document):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "config.yaml"
        path.write_text(yaml.safe_dump(document))
        assert_clean(*run_cli(["pretrain", "--config", str(path), "--dry-run"]))


@FUZZ
@given(text=st.text(max_size=200))
def test_any_text_as_a_config_file_is_handled(text):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "config.yaml"
        path.write_text(text)
        assert_clean(*run_cli(["pretrain", "--config", str(path), "--dry-run"]))


@FUZZ
@given(content=st.binary(max_size=400))
def test_any_bytes_as_a_checkpoint_are_refused_in_one_line(content):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.ckpt"
        path.write_bytes(content)
        code, err = run_cli(["export", str(path), "--out", str(Path(folder) / "backbone.pt")])
        assert code == 2
        assert_clean(code, err)


@FUZZ
@given(content=st.binary(max_size=400))
def test_any_bytes_as_an_image_are_refused_in_one_line(content):
    with tempfile.TemporaryDirectory() as folder:
        images = Path(folder) / "images"
        images.mkdir()
        (images / "photo.png").write_bytes(content)
        out = str(Path(folder) / "grid.png")
        assert_clean(*run_cli(["data", "show", "folder-unlabeled", "--data-dir", str(images),
                               "--out", out]))  # fmt: skip


@FUZZ
@given(content=st.binary(max_size=300), which=st.sampled_from(["images", "labels"]))
def test_any_bytes_as_an_idx_file_are_refused_in_one_line(content, which, idx_files):
    _, write_fashion_mnist = idx_files
    with tempfile.TemporaryDirectory() as folder:
        root = write_fashion_mnist(Path(folder) / "fmnist", train=10, test=10, gz=False)
        (root / f"t10k-{which}-idx{3 if which == 'images' else 1}-ubyte").write_bytes(content)
        out = str(Path(folder) / "grid.png")
        assert_clean(*run_cli(["data", "show", "fashion-mnist", "--data-dir", str(root),
                               "--split", "test", "--out", out]))  # fmt: skip
