"""A sweep: one parameter of a view spec varied, I_NCE and accuracy at each setting.

InfoMin's curve: as views share less (here: patches of one photo drawn further apart),
I_NCE falls, and downstream accuracy first rises then falls (a reverse-U). Run
``python examples/sweep.py [--quick]``; `infomin sweep` adds files and pictures.
"""

import argparse
from dataclasses import replace

from infomin.experiments.pairs import QUICK_CONFIG, QUICK_SIZES, Sizes
from infomin.experiments.sweep import ladder_sources, run_sweep, shape_lines, sweep_table


def main(quick: bool) -> dict:
    distances = [0, 8, 32] if quick else [0, 2, 4, 8, 16, 32, 64]
    sources = ladder_sources("patches:distance=0,size=16,photo_size=96", "distance", distances)
    config, sizes, seeds = QUICK_CONFIG, QUICK_SIZES, [0, 1, 2]
    if quick:
        config = replace(config, width=0.25, epochs=1, batch_size=64)
        sizes = Sizes(train_pairs=128, test_pairs=64, probe_train=128, probe_test=64, test_batch=64)
        seeds = [0]
    results = run_sweep(sources, config, sizes, seeds, parameter="distance", baseline=False)
    print(sweep_table(results))
    print("\n".join(shape_lines(results)))
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    main(parser.parse_args().quick)
