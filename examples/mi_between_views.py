"""I_NCE between two views: how much the L and ab channels of Lab share, over seeds.

A view spec names the pair (`infomin.views.specs`); `estimate_mi` trains two critics on
its pairs, measures I_NCE = log K - L on held-out pairs (always with K) and probes the
trained encoders. Run ``python examples/mi_between_views.py [--quick]``.
"""

import argparse
from dataclasses import replace

from infomin.experiments.mi import estimate_mi, mi_table
from infomin.experiments.pairs import QUICK_CONFIG, QUICK_SIZES, Sizes
from infomin.views.specs import parse_view_spec


def main(quick: bool) -> dict:
    source = parse_view_spec("colorspace:lab,size=16,photo_size=96")  # L vs ab of photo patches
    config, sizes, seeds = QUICK_CONFIG, QUICK_SIZES, [0, 1]
    if quick:
        config = replace(config, width=0.25, epochs=1, batch_size=64)
        sizes = Sizes(train_pairs=128, test_pairs=64, probe_train=128, probe_test=64, test_batch=64)
        seeds = [0]
    result = estimate_mi(source, config, sizes, seeds)
    print(mi_table(result))
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    main(parser.parse_args().quick)
