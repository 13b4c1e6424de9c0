"""A learned view in pretraining: g's two channel groups feed CMC's two towers.

Learns a small g first (as in ``learn_view.py``), then pretrains the ``cmc`` preset with
``views="learned:PATH"``: g(X)_1 goes to one tower and g(X)_2:3 to the other, and the
frozen backbone is probed. Run ``python examples/pretrain_learned_view.py [--quick]``.
"""

import argparse
import tempfile
from pathlib import Path

from infomin.methods.pretrain import PretrainConfig, pretrain
from infomin.view_learning.game import GameConfig, game_data, learn_view
from infomin.views.flows import FlowConfig, save_flow
from infomin.views.images import ImagePool


def learn_g(path: Path, steps: int) -> Path:
    """A semi-supervised g on 16 px photo patches, saved at ``path``."""
    pool = ImagePool("photo-patches", size=16, photo_size=96)
    train, test = pool.images("train", 512, 0), pool.images("test", 256, 0)
    data = game_data(train.images, train.targets["photo"], test.images, test.targets["photo"],
                     int(train.tasks["photo"].num_classes or 0), "rgb", 0.1, seed=0)  # fmt: skip
    result = learn_view(data, FlowConfig(), GameConfig(steps=steps, checkpoints=1))
    return save_flow(result.flow, path)


def main(quick: bool, out: Path) -> dict:
    g = learn_g(out / "g.pt", steps=5 if quick else 200)
    sizes = {"train_size": 64, "test_size": 64, "batch_size": 16, "epochs": 1, "max_steps": 2,
             "width": 0.25} if quick else {"epochs": 10}  # fmt: skip
    config = PretrainConfig(preset="cmc", views=f"learned:{g}", **sizes)
    results = pretrain(config, out / "pretrain")
    print({key: round(value, 2) for key, value in results["metrics"].items()})
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: temp)")
    args = parser.parse_args()
    if args.out is None:
        with tempfile.TemporaryDirectory() as folder:
            main(args.quick, Path(folder))
    else:
        main(args.quick, args.out)
