"""Tests of the compiled dropout kernel (mne_m2s.nn._dropout)."""

import logging

import pytest
import torch

from mne_m2s.nn import _dropout, _native
from mne_m2s.nn._dropout import Dropout, dropout_kernel_for, load_dropout_kernel, relu_keep
from mne_m2s.nn._kernels import Dropout as TorchDropout
from mne_m2s.nn._native import KernelUnavailable, find_compiler

needs_cc = pytest.mark.skipif(find_compiler() is None, reason="no C compiler on this machine")


def _seeded(fn, seed=0):
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return fn()


@needs_cc
@pytest.mark.parametrize(
    ("counter", "key", "expected"),
    [  # Random123's known-answer vectors for Philox4x32-10
        ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
        ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
        ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
         (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
    ],
)
def test_philox_known_answers(counter, key, expected):
    assert load_dropout_kernel().philox(counter, key) == expected


@needs_cc
@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_rate_values_and_gradient(kernel_setting, p):
    kernel_setting("compiled")
    x = (torch.rand(300_000) + 0.5).requires_grad_()
    out = Dropout(p)(x)
    kept = out != 0
    # 3e5 draws: the binomial standard deviation is below 1e-3
    assert abs(1 - kept.double().mean().item() - p) < 5e-3
    torch.testing.assert_close(out[kept], x.detach()[kept] / (1 - p))
    # the backward pass regenerates the same mask: nothing of x's size is saved
    assert out.grad_fn.saved_tensors == ()
    g = torch.randn(300_000)
    (gx,) = torch.autograd.grad(out, x, g)
    torch.testing.assert_close(gx, torch.where(kept, g / (1 - p), 0.0))


@needs_cc
def test_positions_calls_and_seeds_are_independent(kernel_setting):
    kernel_setting("compiled")
    x = torch.ones(512_000)
    drop = Dropout(0.5)
    a, b = _seeded(lambda: (drop(x) == 0, drop(x) == 0))
    # element 64 c + 8 l + k takes 16-bit lane l of Philox block 8 c + k: every
    # lane, every block position and the next call drop independently
    groups = [a.view(-1, 8, 8)[:, lane, :].flatten() for lane in range(8)]
    groups += [a.view(-1, 8, 8)[:, :, k].flatten() for k in range(8)]
    for group in groups:
        assert abs(group.double().mean().item() - 0.5) < 1e-2
    for u, v in [(groups[0], groups[1]), (groups[8], groups[9]), (a, b), (a[:-1], a[1:])]:
        assert abs((u & v).double().mean().item() - 0.25) < 1e-2


@needs_cc
def test_reproducible_with_the_global_seed_and_any_thread_count(kernel_setting):
    kernel_setting("compiled")
    x = torch.randn(200_003)
    drop = Dropout(0.3)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = _seeded(lambda: drop(x))
        torch.set_num_threads(2)
        two = _seeded(lambda: drop(x))
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(one, two)
    a, b = _seeded(lambda: (drop(x), drop(x)))
    assert torch.equal(a, one) and not torch.equal(a, b)


@needs_cc
@pytest.mark.parametrize("n", [1, 7, 63, 64, 65, 130, 1000])
def test_tails_follow_the_same_positions(kernel_setting, n):
    """The mask is a function of (seed, position): a shorter tensor gets a prefix."""
    kernel_setting("compiled")
    full = _seeded(lambda: Dropout(0.4)(torch.ones(1024)))
    part = _seeded(lambda: Dropout(0.4)(torch.ones(n)))
    assert torch.equal(part, full[:n])


@needs_cc
def test_bfloat16_rounds_like_torch(kernel_setting):
    kernel_setting("compiled")
    x = torch.randn(10_007) * 3
    x16 = x.bfloat16()
    mask = _seeded(lambda: Dropout(0.2)(torch.ones(10_007)))
    got = _seeded(lambda: Dropout(0.2)(x16))
    assert got.dtype == torch.bfloat16
    assert torch.equal(got, (x16.float() * mask).bfloat16())
    with torch.autocast("cpu", dtype=torch.bfloat16):
        h = torch.nn.functional.linear(torch.randn(64, 32), torch.randn(48, 32))
        out = Dropout(0.2)(h)
    assert out.dtype == torch.bfloat16 and 0.1 < (out == 0).float().mean().item() < 0.3


@needs_cc
def test_relu_keep_is_relu_then_the_same_mask(kernel_setting):
    kernel_setting("compiled")
    x = torch.randn(3000, 50, requires_grad=True)
    g = torch.randn(3000, 50)
    fused = _seeded(lambda: relu_keep(x, 0.3))
    assert [t.data_ptr() for t in fused.grad_fn.saved_tensors] == [fused.data_ptr()]
    plain = _seeded(lambda: Dropout(0.3)(torch.relu(x.detach()))) * (1 - 0.3)
    torch.testing.assert_close(fused.detach(), plain)
    (gx,) = torch.autograd.grad(fused, x, g)
    torch.testing.assert_close(gx, torch.where(fused.detach() > 0, g, 0.0))


@needs_cc
@pytest.mark.parametrize("kernels", ["auto", "torch"])
def test_linear_relu_keep_is_the_three_modules(kernel_setting, kernels):
    """The fused first half of the feed-forward network (oneDNN product, mask in place)."""
    from mne_m2s.nn._dropout import linear_relu_keep

    kernel_setting(kernels)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(512, 5, 310, generator=g, requires_grad=True)
    w = (torch.randn(1024, 310, generator=g) / 310 ** 0.5).requires_grad_()
    b = torch.randn(1024, generator=g).requires_grad_()
    grad = torch.randn(512, 5, 1024, generator=g)
    fused = _seeded(lambda: linear_relu_keep(x, w, b, 0.1))
    assert fused.shape == (512, 5, 1024)
    x64, w64, b64 = (t.detach().double().requires_grad_() for t in (x, w, b))
    keep = (_seeded(lambda: Dropout(0.1)(torch.ones(512, 5, 1024))) != 0).double()
    plain = torch.relu(torch.nn.functional.linear(x64, w64, b64)) * keep
    torch.testing.assert_close(fused.double(), plain, rtol=1e-5, atol=1e-5)
    # gradients through the same active set (a pre-activation within rounding of
    # 0 may take either side of the ReLU in float32 and float64)
    active = (fused.detach() > 0).double()
    assert (active.bool() != (plain > 0)).double().mean().item() < 1e-4
    got = torch.autograd.grad(fused, (x, w, b), grad)
    linear64 = torch.nn.functional.linear(x64, w64, b64) * active
    want = torch.autograd.grad(linear64, (x64, w64, b64), grad.double())
    for a, r in zip(got, want, strict=True):
        assert ((a.double() - r).abs().max() / r.abs().max()).item() < 1e-5


@needs_cc
def test_inplace_and_non_contiguous_inputs(kernel_setting):
    kernel_setting("compiled")
    x = torch.ones(10_000)
    out = Dropout(0.5, inplace=True)(x)
    assert out.data_ptr() == x.data_ptr()
    assert set(torch.unique(x).tolist()) == {0.0, 2.0}
    y = torch.ones(300, 200).t()  # not contiguous: the PyTorch path
    out = Dropout(0.5)(y)
    assert out.shape == y.shape and set(torch.unique(out).tolist()) == {0.0, 2.0}


def test_torch_setting_draws_the_pytorch_masks(kernel_setting):
    kernel_setting("torch")
    x = torch.randn(5000)
    assert dropout_kernel_for(x) is None
    got = _seeded(lambda: Dropout(0.25)(x))
    want = _seeded(lambda: TorchDropout(0.25)(x))
    assert torch.equal(got, want)


@needs_cc
def test_float64_auto_uses_pytorch_and_compiled_raises(kernel_setting):
    x = torch.ones(1000, dtype=torch.float64)
    kernel_setting("auto")
    out = Dropout(0.5)(x)
    assert out.dtype == torch.float64 and set(torch.unique(out).tolist()) == {0.0, 2.0}
    kernel_setting("compiled")
    with pytest.raises(KernelUnavailable, match="float32 and bfloat16.*float64"):
        Dropout(0.5)(x)


def test_no_compiler_auto_falls_back_and_compiled_raises(monkeypatch, fresh_kernels,
                                                          kernel_setting, caplog):
    monkeypatch.setenv("CC", "/nonexistent/cc")
    x = torch.ones(4096)
    kernel_setting("auto")
    with caplog.at_level(logging.INFO, logger="mne_m2s"):
        out = Dropout(0.5)(x)
        Dropout(0.5)(x)
    assert set(torch.unique(out).tolist()) == {0.0, 2.0}
    notes = [r.getMessage() for r in caplog.records if "Dropout uses PyTorch" in r.getMessage()]
    assert len(notes) == 1 and "no C compiler" in notes[0]
    kernel_setting("compiled")
    with pytest.raises(KernelUnavailable, match="set_cpu_kernels\\('compiled'\\).*no C compiler"):
        Dropout(0.5)(x)
    assert not fresh_kernels.exists() or not any(fresh_kernels.iterdir())


@needs_cc
def test_encoder_trains_with_the_compiled_dropout(kernel_setting):
    """A train-mode encoder step: finite gradients, masks reproducible from the seed."""
    from mne_m2s.nn.encoders import EREncoder

    kernel_setting("compiled")
    enc = EREncoder(310, 32, n_bands=5, n_layers=2, ffn_dim=64, head_dim=8).train()
    x = torch.randn(16, 5, 62, 5)

    def step():
        enc.zero_grad()
        out = enc(x)
        out.square().sum().backward()
        return [out.detach()] + [p.grad.clone() for p in enc.parameters()]

    first, again = _seeded(step, 3), _seeded(step, 3)
    for a, b in zip(first, again, strict=True):
        assert torch.isfinite(a).all()
        assert torch.equal(a, b)
    assert isinstance(_dropout.Dropout(0.1), TorchDropout)  # a drop-in subclass


@needs_cc
def test_python_thread_build_draws_the_same_masks(monkeypatch, fresh_kernels, kernel_setting):
    """Without torch's OpenMP runtime the kernel runs on Python threads: same masks."""
    kernel_setting("compiled")
    x = torch.randn(300_001)
    omp_kernel = load_dropout_kernel()
    want = _seeded(lambda: Dropout(0.3)(x))
    monkeypatch.setattr(_native, "_libraries", {})
    monkeypatch.setattr(_native, "_process_libgomp", lambda: False)
    pool_kernel = load_dropout_kernel()
    assert not pool_kernel.openmp
    if omp_kernel.openmp:
        assert pool_kernel.path != omp_kernel.path
    assert torch.equal(_seeded(lambda: Dropout(0.3)(x)), want)
