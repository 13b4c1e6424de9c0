"""Jigsaw branch of PIRL and InfoMin: an order-free embedding of 9 image patches.

The shared backbone encodes 9 patches of one image (3x3 grid). Each patch feature is
projected to ``patch_dim`` (128); the 9 projections are shuffled with a random
permutation per image, concatenated (9 * 128 = 1152), projected to ``out_dim`` (128)
and L2-normalised. Shuffling makes the embedding useless for locating patches, so the
branch must capture what the patches share with the whole image. The jigsaw embedding
is a second *query* against the same key and negatives as the main query, and the two
losses are mixed 0.5 / 0.5 (:func:`combine_jigsaw`).

Projection choice: the notes say "each patch goes through ... its own projection to
128". We share one projection across the 9 positions (weights tied, like the shared
backbone): a projection specific to each grid position would stamp every embedding
with where its patch came from, the very information the shuffle is meant to hide.
Pass ``per_position=True`` for one projection per grid position (applied before the
shuffle) to test the other reading. ``hidden_dim`` turns each patch projection into an
MLP (the MLP-head recipe); by default it is linear.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from infomin.objectives.heads import LinearHead, MLPHead


def random_patch_permutation(
    batch_size: int,
    num_patches: int = 9,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> Tensor:
    """``[batch_size, num_patches]`` independent random permutations, one per image."""
    gen_device = generator.device if generator is not None else device
    noise = torch.rand(batch_size, num_patches, generator=generator, device=gen_device)
    return noise.argsort(dim=1).to(device)


def combine_jigsaw(main: Tensor, jigsaw: Tensor, weight: float = 0.5) -> Tensor:
    """``(1 - weight) * main + weight * jigsaw`` (0.5 / 0.5 in PIRL and InfoMin)."""
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"weight must be in [0, 1], got {weight}")
    return (1.0 - weight) * main + weight * jigsaw


class JigsawHead(nn.Module):
    """Patch features ``[B, 9, D]`` -> shuffled, concatenated, projected embedding.

    Args:
        in_dim: Backbone feature dimension ``D``.
        patch_dim: Per-patch projection size (128).
        out_dim: Output embedding size (128).
        num_patches: Patches per image (9 for a 3x3 grid).
        per_position: One projection per grid position instead of one shared.
        hidden_dim: If given, each patch projection is an MLP with this hidden width.
        normalize: L2-normalise the output (the objectives expect unit norm).
    """

    def __init__(
        self,
        in_dim: int,
        patch_dim: int = 128,
        out_dim: int = 128,
        num_patches: int = 9,
        per_position: bool = False,
        hidden_dim: int | None = None,
        normalize: bool = True,
    ) -> None:
        super().__init__()
        self.num_patches = num_patches
        self.per_position = per_position
        self.normalize = normalize

        def patch_projection() -> nn.Module:
            if hidden_dim is None:
                return LinearHead(in_dim, patch_dim, normalize=False)
            return MLPHead(in_dim, hidden_dim, patch_dim, normalize=False)

        count = num_patches if per_position else 1
        self.patch_projections = nn.ModuleList(patch_projection() for _ in range(count))
        self.output = nn.Linear(num_patches * patch_dim, out_dim)

    def project_patches(self, patch_features: Tensor) -> Tensor:
        """``[B, P, D]`` -> ``[B, P, patch_dim]`` (shared or per-position projection)."""
        if not self.per_position:
            return self.patch_projections[0](patch_features)
        return torch.stack(
            [proj(patch_features[:, i]) for i, proj in enumerate(self.patch_projections)], dim=1
        )

    def forward(
        self,
        patch_features: Tensor,
        permutation: Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Embed ``[B, P, D]`` patch features into ``[B, out_dim]``.

        Args:
            patch_features: Backbone features of each image's patches, grid order.
            permutation: ``[B, P]``; slot ``j`` of image ``b`` receives patch
                ``permutation[b, j]``. Drawn with :func:`random_patch_permutation`
                from ``generator`` when None.
            generator: Generator for the permutation (global RNG if None).
        """
        batch, patches, _ = patch_features.shape
        if patches != self.num_patches:
            raise ValueError(f"expected {self.num_patches} patches, got {patches}")
        projected = self.project_patches(patch_features)  # [B, P, patch_dim]
        if permutation is None:
            permutation = random_patch_permutation(
                batch, patches, generator, device=patch_features.device
            )  # [B, P]
        index = permutation.to(projected.device).unsqueeze(-1).expand_as(projected)
        shuffled = projected.gather(1, index)  # [B, P, patch_dim], slot j <- patch perm[b, j]
        z = self.output(shuffled.reshape(batch, -1))  # [B, P * patch_dim] -> [B, out_dim]
        return F.normalize(z, dim=-1) if self.normalize else z
