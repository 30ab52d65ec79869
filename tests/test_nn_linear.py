"""Tests of the oneDNN float32 linear layers (mne_m2s.nn._linear)."""

import logging

import pytest
import torch
import torch.nn.functional as F

from mne_m2s.nn import _linear
from mne_m2s.nn._linear import Linear, linear, linear_status

onednn = pytest.mark.skipif(not _linear._check_operator(),
                            reason="torch's oneDNN float32 linear operator is unavailable")


@pytest.fixture
def calls(monkeypatch):
    """Count the products that go to oneDNN."""
    seen = []
    real = _linear._OneDNNLinear.apply

    def spy(*args):
        seen.append(args[0].shape)
        return real(*args)

    monkeypatch.setattr(_linear._OneDNNLinear, "apply", spy)
    return seen


def _problem(n=2560, d_in=310, d_out=1024, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n // 5, 5, d_in, generator=g, requires_grad=True)
    w = torch.randn(d_out, d_in, generator=g).div_(d_in ** 0.5).requires_grad_()
    b = torch.randn(d_out, generator=g).requires_grad_()
    grad = torch.randn(n // 5, 5, d_out, generator=g)
    return x, w, b, grad


def _rel(a, b):
    return ((a.double() - b).abs().max() / b.abs().max()).item()


@onednn
@pytest.mark.parametrize(("d_in", "d_out"), [(310, 1024), (1024, 310), (128, 384), (33, 128)])
def test_value_and_gradients_match_float64(kernel_setting, calls, d_in, d_out):
    kernel_setting("auto")
    x, w, b, grad = _problem(d_in=d_in, d_out=d_out)
    out = linear(x, w, b)
    assert len(calls) == 1 and out.shape == (512, 5, d_out)
    got = [out, *torch.autograd.grad(out, (x, w, b), grad)]
    x64, w64, b64 = (t.detach().double().requires_grad_() for t in (x, w, b))
    ref = F.linear(x64, w64, b64)
    want = [ref, *torch.autograd.grad(ref, (x64, w64, b64), grad.double())]
    for a, r in zip(got, want, strict=True):
        assert a.dtype == torch.float32
        assert _rel(a, r) < 1e-5


@onednn
def test_only_the_needed_gradients_and_no_bias(kernel_setting, calls):
    kernel_setting("auto")
    x, w, _, grad = _problem()
    x = x.detach()  # a first layer: no input gradient
    out = linear(x, w)
    (gw,) = torch.autograd.grad(out, w, grad)
    torch.testing.assert_close(gw, torch.autograd.grad(F.linear(x, w), w, grad)[0],
                               rtol=1e-4, atol=1e-3)
    assert len(calls) == 1


@onednn
def test_falls_to_f_linear_when_it_should(kernel_setting, calls):
    x, w, b, _ = _problem()
    kernel_setting("torch")
    linear(x, w, b)
    kernel_setting("auto")
    linear(x[:2], w, b)  # too small to gain
    linear(x.double(), w.double(), b.double())
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert linear(x, w, b).dtype == torch.bfloat16
    enabled = torch._C._get_mkldnn_enabled()
    torch._C._set_mkldnn_enabled(False)  # torch.backends.mkldnn.enabled = False
    try:
        linear(x, w, b)
    finally:
        torch._C._set_mkldnn_enabled(enabled)
    assert calls == []
    linear(x.transpose(0, 1), w, b)  # not contiguous: copied, then oneDNN
    assert len(calls) == 1


@onednn
def test_module_is_a_drop_in_linear(kernel_setting):
    kernel_setting("auto")
    torch.manual_seed(0)
    layer = Linear(310, 1024)
    plain = torch.nn.Linear(310, 1024)
    plain.load_state_dict(layer.state_dict())
    assert isinstance(layer, torch.nn.Linear)
    assert list(layer.state_dict()) == ["weight", "bias"]
    x = torch.randn(600, 5, 310)
    torch.testing.assert_close(layer(x), plain(x), rtol=1e-5, atol=1e-4)


def test_a_wrong_operator_is_not_used(monkeypatch, kernel_setting, caplog):
    """The one-off check: an operator that gives other numbers is logged and never used."""
    kernel_setting("auto")
    monkeypatch.setattr(_linear, "_state", {})
    monkeypatch.setattr(torch.ops.mkldnn, "_linear_pointwise",
                        lambda x, w, b, *args: F.linear(x, w, b) + 1.0, raising=False)
    with caplog.at_level(logging.INFO, logger="mne_m2s"):
        x, w, b, _ = _problem()
        out = linear(x, w, b)
    torch.testing.assert_close(out, F.linear(x, w, b))
    assert any("use F.linear: its result differs" in r.getMessage() for r in caplog.records)
    assert linear_status() == "torch (oneDNN's float32 product unavailable)"


def test_an_operator_wrong_for_strided_weights_is_not_used(monkeypatch, kernel_setting, caplog):
    """The input gradient reads the weight's transpose through its strides: an
    operator that mishandles them (here: reads the storage as contiguous) is
    logged and never used."""
    kernel_setting("auto")
    monkeypatch.setattr(_linear, "_state", {})
    real = torch.ops.mkldnn._linear_pointwise

    def ignores_strides(x, w, b, *args):
        flat = w.contiguous() if w.is_contiguous() else w.t().contiguous().view(w.shape)
        return real(x, flat, b, *args)

    monkeypatch.setattr(torch.ops.mkldnn, "_linear_pointwise", ignores_strides, raising=False)
    with caplog.at_level(logging.INFO, logger="mne_m2s"):
        x, w, b, _ = _problem()
        out = linear(x, w, b)
    torch.testing.assert_close(out, F.linear(x, w, b))
    assert any("use F.linear: its result for a transposed weight differs" in r.getMessage()
               for r in caplog.records)


@onednn
def test_status_line(kernel_setting):
    kernel_setting("auto")
    assert linear_status() == "oneDNN"
    kernel_setting("torch")
    assert linear_status().startswith("torch (set_cpu_kernels")
