"""The view generator g: exact inverse, log-determinant, identity start, files."""

from __future__ import annotations

import pytest
import torch

from infomin.views.flows import (
    COUPLINGS,
    FlowConfig,
    FlowFileError,
    PixelFlow,
    load_flow,
    save_flow,
)


def _random_flow(coupling: str, seed: int = 0) -> PixelFlow:
    """A flow far from the identity (the last layers are zero at initialisation)."""
    torch.manual_seed(seed)
    flow = PixelFlow(FlowConfig(coupling=coupling))
    with torch.no_grad():
        for layer in flow.layers:
            layer.hyper[-1].weight.normal_(std=0.3)
            layer.hyper[-1].bias.normal_(std=0.3)
    return flow


@pytest.mark.parametrize("coupling", COUPLINGS)
def test_inverse_recovers_the_input(coupling):
    flow = _random_flow(coupling)
    x = torch.randn(4, 3, 8, 8) * 1.5
    y = flow(x)
    assert (y - x).abs().max() > 0.1  # g really moved the pixels
    assert torch.allclose(flow.inverse(y), x, atol=1e-5, rtol=0)


def test_flow_starts_as_the_identity():
    x = torch.randn(2, 3, 5, 5)
    for coupling in COUPLINGS:
        assert torch.equal(PixelFlow(FlowConfig(coupling=coupling))(x), x)


def test_additive_flow_is_volume_preserving():
    x = torch.randn(3, 3, 6, 6)
    _, log_det = _random_flow("additive").forward_and_log_det(x)
    assert torch.equal(log_det, torch.zeros(3))


def test_affine_log_det_is_the_sum_of_per_pixel_jacobian_log_dets():
    flow = _random_flow("affine", seed=1)
    x = torch.randn(1, 3, 2, 2)
    _, log_det = flow.forward_and_log_det(x)
    log_det = log_det.detach()
    assert abs(float(log_det)) > 0.1
    expected = 0.0
    for i in range(2):
        for j in range(2):
            pixel = x[0, :, i, j]
            jac = torch.autograd.functional.jacobian(
                lambda v: flow(v.reshape(1, 3, 1, 1)).reshape(3), pixel
            )
            expected += float(torch.linalg.slogdet(jac).logabsdet)
    assert float(log_det) == pytest.approx(expected, abs=1e-4)


def test_flow_is_pixel_wise():
    """Changing one pixel changes g(X) at that pixel only (a learned colour space)."""
    flow = _random_flow("affine")
    x = torch.randn(1, 3, 4, 4)
    changed = x.clone()
    changed[0, :, 1, 2] += 1.0
    diff = (flow(changed) - flow(x)).abs().sum(dim=1)[0]
    assert diff[1, 2] > 0
    diff[1, 2] = 0
    assert torch.equal(diff, torch.zeros(4, 4))


def test_save_and_load_round_trip(tmp_path):
    flow = _random_flow("additive")
    flow.config = FlowConfig(coupling="additive", input_space="YDbDr")
    path = save_flow(flow, tmp_path / "g.pt", {"mode": "unsupervised"})
    loaded = load_flow(path)
    assert loaded.config.input_space == "ydbdr"
    x = torch.randn(2, 3, 4, 4)
    assert torch.equal(loaded(x), flow(x))


def test_load_refuses_missing_and_foreign_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_flow(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(FlowFileError):
        load_flow(tmp_path / "junk.pt")
    torch.save({"state_dict": {}}, tmp_path / "other.pt")
    with pytest.raises(FlowFileError, match="not a learned view"):
        load_flow(tmp_path / "other.pt")


def test_config_refuses_unknown_coupling_and_space():
    with pytest.raises(ValueError, match="coupling"):
        FlowConfig(coupling="spline")
    with pytest.raises(ValueError):
        FlowConfig(input_space="cmyk")
