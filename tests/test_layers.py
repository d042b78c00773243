"""ann.layers: parity with torch.nn (weights copied across), shapes, and error messages."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ann import layers as L
from ann.errors import AnnError

TOL = {"rtol": 1e-5, "atol": 1e-6}


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


# --- ann's own math against torch.nn -------------------------------------------------------------

@pytest.mark.parametrize("shape", [16, (4, 8)])
def test_rmsnorm_matches_torch(shape):
    ours = L.RMSNorm(shape, eps=1e-6)
    ref = nn.RMSNorm(shape, eps=1e-6)
    with torch.no_grad():
        ours.weight.copy_(torch.rand_like(ours.weight) + 0.5)
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(3, 5, *((shape,) if isinstance(shape, int) else shape), requires_grad=True)
    x_ref = x.detach().clone().requires_grad_()
    torch.testing.assert_close(ours(x), ref(x_ref), **TOL)
    ours(x).square().sum().backward()
    ref(x_ref).square().sum().backward()
    torch.testing.assert_close(x.grad, x_ref.grad, **TOL)
    torch.testing.assert_close(ours.weight.grad, ref.weight.grad, rtol=1e-5, atol=1e-5)


def test_rmsnorm_keeps_half_dtype():
    x = torch.randn(2, 8).to(torch.bfloat16)
    assert L.RMSNorm(8).to(torch.bfloat16)(x).dtype == torch.bfloat16


@pytest.mark.parametrize("ours,ref", [
    (L.GlobalAvgPool2d, lambda: nn.AdaptiveAvgPool2d(1)),
    (L.GlobalMaxPool2d, lambda: nn.AdaptiveMaxPool2d(1)),
])
def test_global_pool_matches_adaptive(ours, ref):
    x = torch.randn(2, 3, 7, 5, requires_grad=True)
    x_ref = x.detach().clone().requires_grad_()
    out, expected = ours()(x), ref()(x_ref).flatten(1)
    assert out.shape == (2, 3)
    torch.testing.assert_close(out, expected, **TOL)
    out.sum().backward()
    expected.sum().backward()
    torch.testing.assert_close(x.grad, x_ref.grad, **TOL)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("kernel,dilation", [(1, 1), (2, 1), (3, 1), (4, 1), (5, 1), (3, 2),
                                             (4, 3)])
def test_same_conv_matches_torch_same(kernel, dilation):
    ours = L.Conv2d(3, 4, kernel, padding="same", dilation=dilation)
    ref = nn.Conv2d(3, 4, kernel, padding="same", dilation=dilation)
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(2, 3, 9, 8)
    out = ours(x)
    assert out.shape == (2, 4, 9, 8)
    torch.testing.assert_close(out, ref(x), **TOL)


@pytest.mark.parametrize("kernel,size", [(3, 8), (3, 7), (4, 9), (5, 28), (1, 5)])
def test_same_conv_stride_2_gives_ceil_half(kernel, size):
    conv = L.Conv2d(2, 3, kernel, stride=2, padding="same")
    half = -(-size // 2)
    assert conv(torch.randn(1, 2, size, size)).shape == (1, 3, half, half)


def test_same_conv_stride_2_matches_explicit_padding():
    ours = L.Conv2d(2, 3, 4, stride=2, padding="same")
    ref = nn.Conv2d(2, 3, 4, stride=2)
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(2, 2, 9, 9)
    torch.testing.assert_close(ours(x), ref(F.pad(x, (1, 2, 1, 2))), **TOL)


def test_int_padding_conv_matches_torch():
    ours = L.Conv2d(3, 5, 5, padding=2, stride=2)
    ref = nn.Conv2d(3, 5, 5, padding=2, stride=2)
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(2, 3, 11, 11)
    torch.testing.assert_close(ours(x), ref(x), **TOL)


@pytest.mark.parametrize("train", [True, False])
def test_conv_bn_act_matches_torch_sequence(train):
    ours = L.ConvBNAct(3, 6, 3, stride=2, activation="silu")
    ref = nn.Sequential(nn.Conv2d(3, 6, 3, stride=2, padding=1, bias=False),
                        nn.BatchNorm2d(6), nn.SiLU())
    with torch.no_grad():
        ours.bn.weight.uniform_(0.5, 1.5)
        ours.bn.bias.uniform_(-0.5, 0.5)
        ours.bn.running_mean.uniform_(-0.5, 0.5)
        ours.bn.running_var.uniform_(0.5, 1.5)
    ref.load_state_dict({k.replace("conv.", "0.").replace("bn.", "1."): v
                         for k, v in ours.state_dict().items()})
    ours.train(train)
    ref.train(train)
    x = torch.randn(4, 3, 8, 8)
    torch.testing.assert_close(ours(x), ref(x), **TOL)
    torch.testing.assert_close(ours.bn.running_mean, ref[1].running_mean, **TOL)


def test_conv_bn_act_without_activation_is_linear_in_eval():
    block = L.ConvBNAct(2, 2, 3, activation=None).eval()
    assert isinstance(block.act, nn.Identity)
    x = torch.randn(1, 2, 5, 5)
    # affine f(x) = Ax + b, so f(2x) = 2 f(x) - f(0)
    torch.testing.assert_close(block(2 * x), 2 * block(x) - block(torch.zeros_like(x)), **TOL)


def test_mlp_matches_torch_sequential():
    ours = L.MLP((6, 8, 5, 3), activation="gelu", dropout=0.5).eval()
    ref = nn.Sequential(nn.Linear(6, 8), nn.GELU(), nn.Linear(8, 5), nn.GELU(), nn.Linear(5, 3))
    ref_keys = [k for k in ref.state_dict()]
    ref.load_state_dict(dict(zip(ref_keys, ours.state_dict().values())))
    x = torch.randn(4, 2, 6)
    out = ours(x)
    assert out.shape == (4, 2, 3)
    torch.testing.assert_close(out, ref(x), **TOL)


def test_mlp_dropout_only_in_training():
    mlp = L.MLP((4, 64, 2), dropout=0.5)
    x = torch.randn(8, 4)
    assert not torch.equal(mlp.train()(x), mlp.train()(x))
    assert torch.equal(mlp.eval()(x), mlp.eval()(x))


def test_mlp_single_layer_is_linear():
    mlp = L.MLP((4, 3))
    assert len(mlp.net) == 1 and isinstance(mlp.net[0], L.Linear)


# --- thin subclasses: shapes and activations -----------------------------------------------------

@pytest.mark.parametrize("name,fn", [("relu", F.relu), ("gelu", F.gelu), ("silu", F.silu),
                                     ("tanh", torch.tanh), ("sigmoid", torch.sigmoid),
                                     ("softmax", lambda x: F.softmax(x, -1)),
                                     ("identity", lambda x: x), (None, lambda x: x)])
def test_get_activation(name, fn):
    x = torch.randn(3, 4)
    torch.testing.assert_close(L.get_activation(name)(x), fn(x), **TOL)


def test_get_activation_fresh_instances():
    assert L.get_activation("relu") is not L.get_activation("relu")
    assert isinstance(L.get_activation("ReLU"), L.ReLU)


def test_get_activation_unknown_lists_choices():
    with pytest.raises(AnnError) as err:
        L.get_activation("rellu")
    msg = str(err.value)
    assert "rellu" in msg and "'relu'" in msg
    for name in ("gelu", "silu", "tanh", "sigmoid", "softmax"):
        assert name in msg


def test_pooling_shapes():
    x = torch.randn(2, 3, 9, 9)
    assert L.MaxPool2d(2)(x).shape == (2, 3, 4, 4)
    assert L.AvgPool2d(3, stride=2)(x).shape == (2, 3, 4, 4)


def test_norm_and_misc_shapes():
    assert L.BatchNorm1d(4)(torch.randn(5, 4)).shape == (5, 4)
    assert L.BatchNorm1d(4)(torch.randn(5, 4, 7)).shape == (5, 4, 7)
    assert L.BatchNorm2d(3)(torch.randn(2, 3, 4, 4)).shape == (2, 3, 4, 4)
    assert L.LayerNorm(6)(torch.randn(2, 5, 6)).shape == (2, 5, 6)
    assert L.Dropout(0.3)(torch.randn(2, 5)).shape == (2, 5)
    assert L.Dropout2d(0.3)(torch.randn(2, 3, 4, 4)).shape == (2, 3, 4, 4)
    ids = torch.tensor([[1, 2, 3], [0, 9, 4]])
    assert L.Embedding(10, 7)(ids).shape == (2, 3, 7)


def test_same_padding_split():
    assert L.same_padding(3) == (1, 1, 1, 1)
    assert L.same_padding(4) == (1, 2, 1, 2)
    assert L.same_padding(3, dilation=2) == (2, 2, 2, 2)
