"""Every command, fed bad input: exit status 2, one line naming the problem, no traceback.

Table-driven: each row is (command line with placeholders, a phrase the one-line error
must contain). Placeholders name prepared files and folders (a corrupt image, an empty
folder, a YAML with a typo, a file where a folder is expected...). Rows run in-process
through `infomin.cli.main` (a subprocess per row would spend minutes importing torch;
tests/cli/test_cli.py checks that a real process prints no traceback). Each row is also
recorded for docs/reliability.md (see tests/conftest.py).
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from infomin.cli import main
from infomin.data import registry

# (command, expected phrase in the error, the bad input in words)
CASES: list[tuple[str, str, str]] = [
    # the command itself
    ("frobnicate", "invalid choice", "unknown command"),
    ("pretrain --epochs", "expected one argument", "option without its value"),
    # infomin data
    ("data show nope --out {OUT}/g.png", "unknown dataset", "unknown dataset"),
    ("data show folder --data-dir {MISSING} --out {OUT}/g.png", "does not exist", "missing path"),
    ("data show folder --data-dir {EMPTY} --out {OUT}/g.png", "no class folders", "empty folder"),
    ("data show folder-unlabeled --data-dir {EMPTY} --out {OUT}/g.png", "no images",
     "empty folder, unlabeled"),
    ("data show folder --data-dir {CORRUPT} -n 3 --out {OUT}/g.png", "cannot decode image",
     "corrupt image"),
    ("data show cifar10 --data-dir {BADCIFAR} --out {OUT}/g.png", "not a CIFAR python pickle",
     "wrong format (CIFAR folder of garbage)"),
    ("data show colorful-moving-digits --split nope --out {OUT}/g.png", "split",
     "unknown split"),
    ("data show colorful-moving-digits -n 0 --out {OUT}/g.png", "positive integer",
     "nonsense number"),
    ("data show colorful-moving-digits --out {FILE}/g.png", "not a folder",
     "output folder is a file"),
    # infomin pretrain
    ("pretrain --preset nope --out {OUT}", "unknown preset", "unknown preset"),
    ("pretrain --config {TYPO} --out {OUT}", "did you mean 'epochs'", "config typo"),
    ("pretrain --config {WRONGTYPE} --out {OUT}", "epochs in", "wrong type in config"),
    ("pretrain --config {NEGATIVE} --out {OUT}", "expected a positive integer, got -1",
     "negative epochs in config"),
    ("pretrain --epochs -3 --out {OUT}", "positive integer", "negative epochs"),
    ("pretrain --lr abc --out {OUT}", "invalid float value", "not a number"),
    ("pretrain --temperature 0 --out {OUT}", "temperature must be > 0", "temperature = 0"),
    ("pretrain --temperature -0.1 --out {OUT}", "temperature must be > 0", "temperature < 0"),
    ("pretrain --width 0 --out {OUT}", "width must be > 0", "width = 0"),
    ("pretrain --lr inf --out {OUT}", "lr must be > 0 and finite", "infinite learning rate"),
    ("pretrain --views patches:distance=1e400 --out {OUT}", "must be a finite number",
     "infinite number in a view spec"),
    ("pretrain --preset moco --num-negatives 16 --batch-size 32 --out {OUT}",
     "smaller than the global batch", "queue smaller than the batch"),
    ("pretrain --backbone nope --out {OUT}", "unknown backbone", "unknown backbone"),
    ("pretrain --precision 8-bit --out {OUT}", "precision must be one of", "unknown precision"),
    # options the run would ignore, and config files that name data (issue 16)
    ("pretrain --preset mocov2 --config configs/cifar10-resnet18.yaml --data-dir {MISSING} "
     "--out {OUT}", "--data-dir for 'cifar10'", "the CIFAR config with a missing folder"),
    ("pretrain --data-dir {EMPTY} --out {OUT}", "is embedded", "--data-dir with embedded data"),
    ("pretrain --preset simclr --num-negatives 512 --out {OUT}", "num_negatives cannot apply",
     "--num-negatives for an in-batch preset"),
    ("pretrain --data folder --data-dir {CORRUPT} --train-size 9 --out {OUT}",
     "train_size cannot apply", "--train-size for data on disk (whole splits)"),
    ("pretrain --no-evaluate --test-size 9 --out {OUT}", "test_size cannot apply",
     "--test-size with nothing to evaluate"),
    ("pretrain --skip-corrupt --out {OUT}", "skip_corrupt applies to image folders",
     "--skip-corrupt for data that is not a folder"),
    ("pretrain --data folder-unlabeled --data-dir {EMPTY} --knn-every 1 --out {OUT}",
     "knn_every cannot apply", "kNN monitor on unlabelled data"),
    ("evaluate --raw-pixels --backbone resnet18 --out {OUT}", "--backbone cannot apply",
     "a backbone for raw pixels"),
    # evaluation data (issue 18)
    ("pretrain --eval-data folder-unlabeled --eval-data-dir {EMPTY} --out {OUT}",
     "has no labels to probe", "evaluation data without labels"),
    ("pretrain --data folder --data-dir {NOTEST} --out {OUT}", "no 'test' folder",
     "labelled folder without test/ (stops before training)"),
    ("pretrain --eval-data cifar10 --eval-data-dir {MISSING} --out {OUT}", "does not exist",
     "missing evaluation folder"),
    ("pretrain --eval-data-dir {EMPTY} --out {OUT}", "without eval_data",
     "evaluation folder without a dataset"),
    ("mi --config {TYPO} --out {OUT}", "unknown key 'epocs'", "config typo (mi)"),
    ("sweep --config {WRONGTYPE} --out {OUT}", "epochs in", "wrong type in config (sweep)"),
    ("pretrain --accelerator abacus --out {OUT}", "accelerator must be one of",
     "unknown accelerator"),
    ("pretrain --max-steps -5 --out {OUT}", "max_steps must be >= 0", "negative max steps"),
    ("pretrain --views recipe:D,crop_scale=1.5 --out {OUT}", "crop_scale",
     "crop scale above 1"),
    ("pretrain --views recipe:D,crop_scale=0 --out {OUT}", "crop_scale", "crop scale 0"),
    ("pretrain --config {MISSING}.yaml --out {OUT}", "config file not found",
     "missing config file"),
    ("pretrain --config {BADYAML} --out {OUT}", "not valid YAML", "config is not YAML"),
    ("pretrain --config {LISTYAML} --out {OUT}", "mapping", "config is not a mapping"),
    ("pretrain --data folder --data-dir {MISSING} --out {OUT}", "does not exist",
     "missing data folder"),
    ("pretrain --data folder --data-dir {EMPTY} --out {OUT}", "no class folders",
     "empty data folder"),
    ("pretrain --data cifar10 --data-dir {BADCIFAR} --out {OUT}", "not a CIFAR python pickle",
     "wrong format (CIFAR folder of garbage)"),
    ("pretrain --out {FILE}", "not a folder", "output path is a file"),
    ("pretrain --out {UNWRITABLE}", "cannot write to output folder",
     "output folder not writable"),
    ("pretrain --resume --out {FILE}", "not a folder", "resume into a file"),
    # infomin export
    ("export {MISSING}.ckpt --out {OUT}/b.pt", "checkpoint not found", "missing checkpoint"),
    ("export {GARBAGE} --out {OUT}/b.pt", "cannot read checkpoint", "corrupt checkpoint"),
    ("export {TYPO} --out {OUT}/b.pt", "cannot read checkpoint", "wrong format (YAML)"),
    ("export {GARBAGE} --format onnx --out {OUT}/b.pt", "invalid choice", "unknown format"),
    # infomin evaluate
    ("evaluate --out {OUT}", "choose what to evaluate", "nothing to evaluate"),
    ("evaluate --weights {MISSING}.pt --out {OUT}", "checkpoint not found", "missing weights"),
    ("evaluate --weights {GARBAGE} --out {OUT}", "cannot read checkpoint", "corrupt weights"),
    ("evaluate --data nope --random-init --out {OUT}", "unknown dataset", "unknown dataset"),
    ("evaluate --data folder --random-init --out {OUT}", "--data-dir is required",
     "missing --data-dir"),
    ("evaluate --data folder --data-dir {EMPTY} --random-init --out {OUT}", "no class folders",
     "empty data folder"),
    ("evaluate --data folder --data-dir {CORRUPT} --random-init --out {OUT}",
     "cannot decode image", "corrupt image"),
    ("evaluate --random-init --train-size -5 --out {OUT}", "positive integer",
     "negative size"),
    ("evaluate --random-init --knn-k 0 --out {OUT}", "positive integer", "k = 0"),
    ("evaluate --random-init --out {FILE}", "not a folder", "output path is a file"),
    # infomin demo
    ("demo --out {FILE}", "not a folder", "output path is a file"),
    ("demo --out {UNWRITABLE}", "cannot write to output folder", "output folder not writable"),
    ("demo --seed abc", "invalid int value", "not a number"),
    # infomin mi
    ("mi --out {OUT}", "required", "missing --views"),
    ("mi --views nope:1 --out {OUT}", "bad view spec", "unknown view kind"),
    ("mi --views recipe:D,crop_scale=1.5 --out {OUT}", "crop_scale", "crop scale above 1"),
    ("mi --views recipe:D,crop_scale=-0.2 --out {OUT}", "crop_scale", "negative crop scale"),
    ("mi --views colorspace:lab --train-pairs 8 --batch-size 64 --out {OUT}",
     "--train-pairs 8 < --batch-size 64", "fewer pairs than the batch"),
    ("mi --views colorspace:lab --width 0 --out {OUT}", "expected a number > 0", "width 0"),
    ("mi --views colorspace:lab --data nope --out {OUT}", "unknown dataset",
     "unknown dataset"),
    ("mi --views colorspace:lab --out {FILE}", "not a folder", "output path is a file"),
    # infomin sweep
    ("sweep --out {OUT}", "give --experiment NAME", "nothing to sweep"),
    ("sweep --experiment nope --out {OUT}", "nope", "unknown experiment"),
    ("sweep --experiment jitter --views recipe:B --out {OUT}", "fixed sweep",
     "conflicting options"),
    ("sweep --views recipe:B --vary jitter_strength --out {OUT}", "needs --values",
     "missing --values"),
    ("sweep --views recipe:B --vary nope --values 1 2 --out {OUT}", "nope",
     "unknown parameter"),
    ("sweep --views recipe:B --vary crop_scale --values 0.5 2 --out {OUT}", "crop_scale",
     "crop scale above 1 in a ladder"),
    ("sweep --experiment jitter --seeds 0 --out {OUT}", "positive integer", "zero seeds"),
    ("sweep --experiment jitter --out {FILE}", "not a folder", "output path is a file"),
    ("sweep --experiment patch-distance-hires --data-dir {MISSING} --out {OUT}",
     "mate-backgrounds", "missing folder of high-resolution photos"),
    ("sweep --experiment patch-distance-hires --data-dir {EMPTY} --out {OUT}", "no photos",
     "folder without photos"),
    # infomin toy
    ("toy --rows nope --out {OUT}", "nope", "unknown row"),
    ("toy --rows ladder=5 --out {OUT}", "ladder", "ladder step out of range"),
    ("toy --seeds 0 --out {OUT}", "positive integer", "zero seeds"),
    ("toy --out {FILE}", "not a folder", "output path is a file"),
    # infomin learn-views
    ("learn-views --out {OUT}", "--mode is required", "missing --mode"),
    ("learn-views --mode nope --out {OUT}", "invalid choice", "unknown mode"),
    ("learn-views --mode unsupervised --label-fraction 2 --out {OUT}", "fraction in (0, 1]",
     "fraction above 1"),
    ("learn-views --mode unsupervised --input-space nope --out {OUT}", "unknown colour space",
     "unknown colour space"),
    ("learn-views --mode unsupervised --data nope --out {OUT}", "unknown dataset",
     "unknown dataset"),
    ("learn-views --mode unsupervised --out {FILE}", "not a folder", "output path is a file"),
    # Fashion-MNIST's IDX files, and grey data where colour is needed (issue 11)
    ("data show fashion-mnist --data-dir {MISSING} --out {OUT}/g.png",
     "does not exist (install the Debian package dataset-fashion-mnist", "missing folder"),
    ("evaluate --data fashion-mnist --data-dir {FM_MAGIC} --raw-pixels --out {OUT}",
     "train-images-idx3-ubyte: magic number 0x00000801 is not an IDX image file",
     "Fashion-MNIST: wrong magic number"),
    ("pretrain --data fashion-mnist --data-dir {FM_TRUNCATED} --out {OUT}",
     "train-images-idx3-ubyte is truncated", "Fashion-MNIST: truncated image file"),
    ("data show fashion-mnist --split test --data-dir {FM_GZCUT} --out {OUT}/g.png",
     "t10k-images-idx3-ubyte.gz is not a complete gzip file",
     "Fashion-MNIST: truncated gzip file"),
    ("data show fashion-mnist --data-dir {FM_COUNTS} --out {OUT}/g.png",
     "train-labels-idx1-ubyte holds 7 labels for the 60 images",
     "Fashion-MNIST: image and label counts disagree"),
    ("pretrain --preset cmc --data fashion-mnist --data-dir {FASHION} --out {OUT}",
     "splits colour channels (Y vs DbDr), and dataset 'fashion-mnist' is grayscale",
     "colour-split preset on grey data"),
    ("pretrain --preset cmcv2 --data fashion-mnist --data-dir {FASHION} --out {OUT}",
     "is grayscale", "colour-split preset on grey data (cmcv2)"),
    ("pretrain --preset simclr --views colorspace:lab --data fashion-mnist --data-dir {FASHION} "
     "--out {OUT}", "need colour images", "colour-space views on grey data"),
    ("mi --views colorspace:ycbcr --data fashion-mnist --data-dir {FASHION} --out {OUT}",
     "need colour images", "colour-space views on grey data"),
    ("sweep --views recipe:C --vary crop_scale --values 0.2 0.5 --data fashion-mnist "
     "--data-dir {FASHION} --out {OUT}", "recipe C ends in colour space ydbdr",
     "a colour-space recipe swept on grey data"),
    ("learn-views --mode unsupervised --data fashion-mnist --data-dir {FASHION} --out {OUT}",
     "is grayscale", "learning a colour space of grey data"),
    ("sweep --views recipe:B,holdout=50 --vary crop_scale --values 0.2 0.5 --out {OUT}",
     "holdout applies to datasets read from disk", "holdout on a generated dataset"),
    ("mi --views recipe:B,holdout=60 --data fashion-mnist --data-dir {FASHION} --out {OUT}",
     "holdout=60 leaves nothing", "holdout as large as the training split"),
    ("pretrain --preset simclr --crop-min 1.5 --out {OUT}", "crop_min must be in (0, 1]",
     "crop lower bound above 1"),
]  # fmt: skip


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory, idx_files: tuple) -> dict[str, Path]:
    """The bad files and folders the placeholders stand for, made once."""
    root = tmp_path_factory.mktemp("bad-inputs")
    paths = _fashion_mnist_folders(root, *idx_files)
    paths |= {name: root / name.lower() for name in ("EMPTY", "CORRUPT", "BADCIFAR")}
    paths["EMPTY"].mkdir()
    _image_folder(paths["CORRUPT"])
    paths["NOTEST"] = root / "notest"
    _image_folder(paths["NOTEST"])
    shutil.rmtree(paths["NOTEST"] / "test")
    (paths["BADCIFAR"] / "cifar-10-batches-py").mkdir(parents=True)
    for name in ("data_batch_1", "test_batch", "batches.meta"):
        (paths["BADCIFAR"] / "cifar-10-batches-py" / name).write_bytes(b"\x80\x04garbage")
    files = {
        "TYPO": "epocs: 3\n",
        "WRONGTYPE": "epochs: ten\n",
        "NEGATIVE": "epochs: -1\n",
        "BADYAML": "epochs: [1, 2\n",
        "LISTYAML": "- epochs\n- 3\n",
        "NOEVAL": "evaluate: false\n",
        "FILE": "a file where a folder is expected\n",
    }
    for name, text in files.items():
        paths[name] = root / f"{name.lower()}.yaml"
        paths[name].write_text(text)
    paths["GARBAGE"] = root / "garbage.ckpt"
    paths["GARBAGE"].write_bytes(pickle.dumps({"state_dict": 1})[:7])
    paths["MISSING"] = root / "no-such-path"
    paths["UNWRITABLE"] = Path("/proc/infomin-cannot-write-here")
    return paths


def _fashion_mnist_folders(root: Path, write_idx, write_fashion_mnist) -> dict[str, Path]:
    """A good Fashion-MNIST folder (gzipped) and four spoilt ones (raw IDX files)."""
    paths = {"FASHION": write_fashion_mnist(root / "fashion")}
    for name in ("FM_MAGIC", "FM_TRUNCATED", "FM_COUNTS"):
        paths[name] = write_fashion_mnist(root / name.lower(), gz=False)
    paths["FM_GZCUT"] = write_fashion_mnist(root / "fm_gzcut")
    images = paths["FM_MAGIC"] / "train-images-idx3-ubyte"
    images.write_bytes(b"\x00\x00\x08\x01" + images.read_bytes()[4:])  # a label file's magic
    images = paths["FM_TRUNCATED"] / "train-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:-100])
    gz = paths["FM_GZCUT"] / "t10k-images-idx3-ubyte.gz"
    gz.write_bytes(gz.read_bytes()[:-100])
    write_idx(paths["FM_COUNTS"] / "train-labels-idx1-ubyte", np.arange(7), gz=False)
    return paths


def _image_folder(root: Path) -> None:
    """train/ and test/, two classes of three 32 px images; one training file of class b
    is not an image at all."""
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for label in ("a", "b"):
            (root / split / label).mkdir(parents=True)
            for i in range(3):
                pixels = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(root / split / label / f"{i}.png")
    (root / "train" / "b" / "2.png").write_bytes(b"this is not a PNG")


def _argv(template: str, inputs: dict[str, Path], out: Path) -> list[str]:
    values = {name: str(path) for name, path in inputs.items()} | {"OUT": str(out)}
    return [part.format(**values) for part in template.split()]


def _error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("infomin:")]


@pytest.mark.parametrize(("template", "phrase", "what"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_exits_2_with_one_line(template, phrase, what, inputs, tmp_path, capfd,
                                         reliability, monkeypatch):  # fmt: skip
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    with pytest.raises(SystemExit) as exit_info:
        main(_argv(template, inputs, tmp_path / "out"))
    err = capfd.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    errors = _error_lines(err)
    reliability(
        f"Bad input: infomin {template.split()[0]}",
        what,
        f"infomin {template}",
        f"exit {exit_info.value.code}: {errors[-1] if errors else err.strip()}",
    )
    assert exit_info.value.code == 2
    assert "Traceback" not in err
    assert len(errors) == 1 and lines[-1] == errors[0], lines
    assert phrase in errors[0]
    assert len(lines) == 1, lines  # refused before any work: nothing else on stderr


@pytest.mark.parametrize(
    "template",
    [
        "pretrain --data fashion-mnist --out {OUT}",
        "evaluate --data fashion-mnist --random-init --out {OUT}",
        "mi --views recipe:B --data fashion-mnist --out {OUT}",
    ],
)
def test_fashion_mnist_not_installed_names_the_package(template, inputs, tmp_path, capfd,
                                                       reliability, monkeypatch):  # fmt: skip
    """Without --data-dir, fashion-mnist is read from the Debian package's folder; where
    it is not installed (here the default points at {MISSING}), the one line names the
    package and --data-dir. mi opens the data only when it draws the pairs."""
    entry = dataclasses.replace(registry._ENTRIES["fashion-mnist"], default_dir=inputs["MISSING"])
    monkeypatch.setitem(registry._ENTRIES, "fashion-mnist", entry)
    with pytest.raises(SystemExit) as exit_info:
        main(_argv(template, inputs, tmp_path / "out"))
    errors = _error_lines(capfd.readouterr().err)
    observed = f"exit {exit_info.value.code}: {' '.join(errors)}"
    reliability(f"Bad input: infomin {template.split()[0]}",
                "Fashion-MNIST not installed (no --data-dir; the default folder is missing)",
                f"infomin {template}", observed)  # fmt: skip
    assert exit_info.value.code == 2 and len(errors) == 1
    assert "not found in" in errors[0] and "no-such-path" in errors[0]
    assert "dataset-fashion-mnist" in errors[0] and "--data-dir" in errors[0]


def _run(argv: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "infomin", *argv], capture_output=True,
                          text=True, timeout=300, env=env)  # fmt: skip


def test_corrupt_image_met_during_training_is_one_line(inputs, tmp_path, reliability):
    """Images are decoded lazily (a full scan of a large folder would cost minutes before
    every run), so a corrupt file surfaces mid-epoch: still one error line, status 2, no
    traceback, after Lightning's two lines about the hardware. A separate process, as
    Lightning's log handler keeps the stderr it found at import."""
    template = ("pretrain --data folder --data-dir {CORRUPT} --config {NOEVAL} --batch-size 4 "
                "--epochs 1 --width 0.25 --out {OUT}")  # fmt: skip
    done = _run(_argv(template, inputs, tmp_path))
    errors = _error_lines(done.stderr)
    reliability(
        "Bad input: infomin pretrain",
        "corrupt image met during training",
        f"infomin {template}",
        f"exit {done.returncode}: {' '.join(errors)}",
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert len(errors) == 1 and done.stderr.strip().splitlines()[-1] == errors[0]
    assert "cannot decode image" in errors[0] and "2.png" in errors[0]


@pytest.mark.parametrize(
    "template",
    [
        "data show folder --data-dir {CORRUPT} --skip-corrupt -n 3 --out {OUT}/g.png",
        "evaluate --data folder --data-dir {CORRUPT} --skip-corrupt --raw-pixels --out {OUT}",
        "pretrain --data folder --data-dir {CORRUPT} --skip-corrupt --config {NOEVAL} "
        "--batch-size 4 --epochs 1 --width 0.25 --out {OUT}",
    ],
)
def test_skip_corrupt_counts_the_bad_file_and_goes_on(template, inputs, tmp_path, capfd,
                                                      reliability):  # fmt: skip
    code = main(_argv(template, inputs, tmp_path / "out"))
    err = capfd.readouterr().err
    notice = " ".join(line for line in err.splitlines() if "skipped" in line)
    reliability(f"Bad input: infomin {template.split()[0]}", "corrupt image, with --skip-corrupt",
                f"infomin {template}", f"exit {code}: {notice}")  # fmt: skip
    assert code == 0
    assert "skipped 1 corrupt image(s)" in notice and "2.png" in notice
