import pytest
import torch
import torchvision
from torch import nn

from infomin.models import (
    ConvNet,
    FeaturePool,
    ResNetBackbone,
    SplitEncoder,
    TorchvisionBackbone,
    build_backbone,
)


def _images(batch: int, channels: int, size: int) -> torch.Tensor:
    return torch.randn(batch, channels, size, size, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize(("width", "out_dim"), [(16, 128), (32, 256)])
def test_convnet_width_sets_channels(width, out_dim):
    model = ConvNet(width=width)
    assert model.out_dim == out_dim
    assert model(_images(2, 3, 32)).shape == (2, out_dim)


def test_factory_width_is_a_multiplier_for_convnet():
    assert build_backbone("convnet").out_dim == 256
    assert build_backbone("convnet", width=0.5).out_dim == 128
    assert build_backbone("convnet", width=2).out_dim == 512


@pytest.mark.parametrize("channels", [1, 2, 3, 5])
def test_convnet_input_channels(channels):
    model = build_backbone("convnet", in_channels=channels, width=0.5)
    assert model(_images(2, channels, 32)).shape == (2, 128)


def test_pool_size_keeps_a_spatial_grid_whose_mean_is_the_global_pool():
    model = ConvNet(width=8).eval()
    x = _images(3, 3, 32)
    global_feats = model(x)
    model.pool = FeaturePool(2)
    grid = model(x)
    assert grid.shape == (3, 64 * 4)
    assert build_backbone("convnet", width=0.25, pool_size=2).out_dim == 64 * 4
    torch.testing.assert_close(grid.view(3, 64, 2, 2).mean(dim=(2, 3)), global_feats)
    # position survives: the cells differ, so a flipped image gives other grid features
    assert not torch.allclose(model(x.flip(-1)), grid, atol=1e-4)


def test_resnet18_cifar_stem_on_32px():
    model = build_backbone("resnet18", image_size=32)
    assert isinstance(model, ResNetBackbone) and model.cifar_stem
    assert model.conv1.kernel_size == (3, 3) and model.conv1.stride == (1, 1)
    assert isinstance(model.maxpool, nn.Identity)
    x = _images(2, 3, 32)
    assert model.feature_map(x).shape == (2, 512, 4, 4)
    assert model(x).shape == (2, 512) and model.out_dim == 512


@pytest.mark.parametrize(
    ("cifar_stem", "image_size", "expected"),
    [
        (None, 32, True),
        (None, 64, True),
        (None, 96, False),
        (None, None, False),
        (False, 32, False),
    ],
)
def test_stem_choice(cifar_stem, image_size, expected):
    model = build_backbone("resnet18", cifar_stem=cifar_stem, image_size=image_size)
    assert model.cifar_stem is expected
    assert model.conv1.kernel_size == ((3, 3) if expected else (7, 7))


def test_resnet50_on_64px():
    model = build_backbone("resnet50")
    assert model(_images(2, 3, 64)).shape == (2, 2048) and model.out_dim == 2048


@pytest.mark.parametrize("channels", [1, 2])
def test_resnet_input_channels(channels):
    model = build_backbone("resnet18", in_channels=channels, image_size=32)
    assert model.conv1.in_channels == channels
    assert model(_images(2, channels, 32)).shape == (2, 512)


def test_resnet_width_multiplier_scales_every_stage():
    half = build_backbone("resnet50", width=0.5, in_channels=2)
    assert half.conv1.out_channels == 32 and half.bn1.num_features == 32
    assert half.layer1[0].conv1.in_channels == 32
    assert half.layer4[-1].conv3.out_channels == 1024
    assert half(_images(2, 2, 64)).shape == (2, 1024) and half.out_dim == 1024
    double = build_backbone("resnet18", width=2, image_size=32)
    assert double.layer4[-1].conv2.out_channels == 1024
    assert double(_images(1, 3, 32)).shape == (1, 1024)
    with pytest.raises(ValueError, match="width"):
        build_backbone("resnet18", width=0)


def test_resnet50_trunk_is_torchvision_minus_fc():
    ours = build_backbone("resnet50").state_dict()
    reference = torchvision.models.resnet50(weights=None).state_dict()
    assert set(reference) - set(ours) == {"fc.weight", "fc.bias"}
    assert set(ours) <= set(reference)
    for key, value in ours.items():
        assert value.shape == reference[key].shape, key


def test_resnet_trunk_loads_strictly_and_computes_the_same_features():
    backbone = build_backbone("resnet18").eval()
    reference = torchvision.models.resnet18(weights=None)
    state = backbone.state_dict()
    state.update({k: v for k, v in reference.state_dict().items() if k.startswith("fc.")})
    reference.load_state_dict(state, strict=True)
    reference.fc = nn.Identity()
    x = _images(2, 3, 64)
    torch.testing.assert_close(backbone(x), reference.eval()(x))


@pytest.mark.parametrize(
    ("name", "out_dim"), [("mobilenet_v3_small", 1024), ("regnet_x_400mf", 400)]
)
def test_torchvision_models_by_name(name, out_dim):
    model = build_backbone(name)
    assert isinstance(model, TorchvisionBackbone)
    assert model.out_dim == out_dim
    assert model.eval()(_images(2, 3, 64)).shape == (2, out_dim)


def test_torchvision_model_options():
    gray = build_backbone("mobilenet_v3_small", in_channels=1)
    assert gray.eval()(_images(2, 1, 64)).shape == (2, 1024)
    grid = build_backbone("regnet_x_400mf", pool_size=2)
    assert grid.out_dim == 1600 and grid.eval()(_images(2, 3, 64)).shape == (2, 1600)
    with pytest.raises(ValueError, match="pool_size"):
        build_backbone("mobilenet_v3_small", pool_size=2)
    with pytest.raises(ValueError, match="width"):
        build_backbone("mobilenet_v3_small", width=2)
    with pytest.raises(ValueError, match="cifar_stem"):
        build_backbone("mobilenet_v3_small", cifar_stem=True)


def test_model_without_linear_classifier_is_refused():
    with pytest.raises(ValueError, match="linear classifier"):
        build_backbone("squeezenet1_1")


def test_unknown_name_lists_the_choices():
    with pytest.raises(ValueError, match=r"unknown backbone 'resnet7'.*convnet.*resnet50"):
        build_backbone("resnet7")
    with pytest.raises(ValueError, match="cmc-"):
        build_backbone("cmc-mobilenet_v3_small")


def test_cmc_convnet_halves_width_and_concatenates():
    model = build_backbone("cmc-convnet")
    assert isinstance(model, SplitEncoder)
    assert model.groups == (1, 2) and model.group_dims == (128, 128) and model.out_dim == 256
    assert [e.features[0][0].in_channels for e in model.encoders] == [1, 2]
    model.eval()
    x = _images(4, 3, 32)
    first, second = model.forward_groups(x)
    assert first.shape == second.shape == (4, 128)
    torch.testing.assert_close(model(x), torch.cat([first, second], dim=1))


def test_each_half_sees_only_its_channel_group():
    model = build_backbone("cmc-convnet", width=0.5).eval()
    x = _images(3, 3, 32)
    first, second = model.forward_groups(x)
    other = x.clone()
    other[:, 1:] = torch.randn_like(other[:, 1:])
    first_b, second_b = model.forward_groups(other)
    torch.testing.assert_close(first_b, first)
    assert not torch.allclose(second_b, second)
    other = x.clone()
    other[:, :1] = torch.randn_like(other[:, :1])
    first_c, second_c = model.forward_groups(other)
    torch.testing.assert_close(second_c, second)
    assert not torch.allclose(first_c, first)


def test_cmc_resnet50_is_two_half_width_resnets():
    model = build_backbone("cmc-resnet50", image_size=32)
    assert model.group_dims == (1024, 1024) and model.out_dim == 2048
    params = sum(p.numel() for p in model.parameters())
    assert 11e6 < params < 13e6  # the paper's "ResNet-50*" pair, about 12M
    assert model.eval()(_images(1, 3, 32)).shape == (1, 2048)


def test_split_encoder_checks_channels():
    with pytest.raises(ValueError, match="channels"):
        build_backbone("cmc-convnet", in_channels=1)
    model = SplitEncoder(lambda c: ConvNet(c, width=4), groups=(2, 2))
    assert model.out_dim == 64
    with pytest.raises(ValueError, match="expected 4 input channels"):
        model(_images(1, 3, 32))
