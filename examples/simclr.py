"""SimCLR with infomin's blocks: a recipe as the view, a backbone, an MLP head, NT-Xent.

Run ``python examples/simclr.py`` (a few minutes on 2 CPU cores) or with ``--quick``
(seconds: a smoke run). Prints the frozen linear probe of the trained backbone.
"""

import argparse
import itertools

import torch
from torch.utils.data import DataLoader

from infomin.data import load_dataset
from infomin.evaluate import evaluate_backbone
from infomin.models import build_backbone
from infomin.objectives import MLPHead, NTXentLoss
from infomin.views import TwoCrop, build_recipe


def main(quick: bool) -> dict[str, float]:
    torch.manual_seed(0)
    clips, steps, batch = (256, 4, 64) if quick else (4000, 300, 128)
    view = build_recipe("B", image_size=32)  # MoCo v2 / SimCLR-style crop, colour, blur
    train = load_dataset("colorful-moving-digits", "train", num_clips=clips,
                         transform=TwoCrop(view))  # fmt: skip
    loader = DataLoader(train, batch_size=batch, shuffle=True, drop_last=True)
    backbone = build_backbone("convnet", width=0.25, image_size=32)
    head = MLPHead(backbone.out_dim, out_dim=64)
    criterion = NTXentLoss(temperature=0.5)
    parameters = [*backbone.parameters(), *head.parameters()]
    optimizer = torch.optim.Adam(parameters, lr=1e-3)
    for step, ((x1, x2), _) in zip(range(steps), itertools.cycle(loader)):
        z1, z2 = head(backbone(x1)), head(backbone(x2))  # [B, 64] each, unit-norm
        loss = criterion(z1, z2)  # each of the 2B views against the other 2B - 1
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        print(f"step {step + 1}/{steps}: NT-Xent {loss.item():.3f}")
    probe_size = (128, 64) if quick else (2000, 1000)
    train_set = load_dataset("colorful-moving-digits", "train", num_clips=probe_size[0])
    test_set = load_dataset("colorful-moving-digits", "test", num_clips=probe_size[1])
    metrics = evaluate_backbone(backbone, train_set, test_set, use_knn=not quick)
    print({key: round(value, 2) for key, value in metrics.items()})
    return metrics


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    main(parser.parse_args().quick)
