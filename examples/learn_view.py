"""Learning a view: a pixel-wise flow g trained semi-supervised, saved, then measured.

g is a learned colour space (`infomin.views.flows.PixelFlow`); the game
(`infomin.view_learning.game`) lowers the I_NCE between g(X)_1 and g(X)_2:3 while view
classifiers keep the label in both. The saved g is a view like any other
(``learned:PATH``). Run ``python examples/learn_view.py [--quick] [--out g.pt]``.
"""

import argparse
from dataclasses import replace
from pathlib import Path

from infomin.experiments.mi import estimate_mi, mi_table
from infomin.experiments.pairs import QUICK_CONFIG, QUICK_SIZES, Sizes
from infomin.view_learning.game import GameConfig, game_data, learn_view
from infomin.views.flows import FlowConfig, save_flow
from infomin.views.images import ImagePool
from infomin.views.specs import parse_view_spec


def main(quick: bool, out: Path) -> dict:
    pool = ImagePool("photo-patches", size=16, photo_size=96)
    train, test = pool.images("train", 512 if quick else 3072, 0), pool.images("test", 256, 0)
    data = game_data(train.images, train.targets["photo"], test.images, test.targets["photo"],
                     int(train.tasks["photo"].num_classes or 0), "rgb", 0.1, seed=0)  # fmt: skip
    game = GameConfig(mode="semi-supervised", steps=10 if quick else 200, checkpoints=1)
    result = learn_view(data, FlowConfig(), game)
    for check in result.checks:
        print({key: round(value, 2) for key, value in check.items()})
    save_flow(result.flow, out)
    source = parse_view_spec(f"learned:{out},size=16,photo_size=96")  # g frozen, as a view
    config, sizes = QUICK_CONFIG, QUICK_SIZES
    if quick:
        config = replace(config, width=0.25, epochs=1, batch_size=64)
        sizes = Sizes(train_pairs=128, test_pairs=64, probe_train=128, probe_test=64, test_batch=64)
    measured = estimate_mi(source, config, sizes, [0])
    print(mi_table(measured))
    return measured


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    parser.add_argument("--out", type=Path, default=Path("g.pt"), help="where to save g")
    args = parser.parse_args()
    main(args.quick, args.out)
