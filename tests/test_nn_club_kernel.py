"""Tests of the compiled CLUB log-likelihood kernel (mne_m2s.nn._club) and its setting."""


import pytest
import torch

from mne_m2s.nn import _club, _native
from mne_m2s.nn._club import club_log_likelihood, load_club_kernel, torch_log_likelihood
from mne_m2s.nn._native import KernelUnavailable, find_compiler
from mne_m2s.nn.losses import CLUB

needs_cc = pytest.mark.skipif(find_compiler() is None, reason="no C compiler on this machine")


def _inputs(shape, seed=0, spread=2.0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    mu, u = (torch.randn(shape, generator=g, dtype=dtype) for _ in range(2))
    a = torch.randn(shape, generator=g, dtype=dtype) * spread
    return mu, a, u


def _value_and_grads(fn, inputs):
    inputs = [t.detach().clone().requires_grad_() for t in inputs]
    out = fn(*inputs)
    return [out, *torch.autograd.grad(out, inputs)]


def _max_rel(got, want):
    return ((got.double() - want).abs().max() / want.abs().max().clamp_min(1e-30)).item()


def _check_against_float64(fn, inputs):
    want = _value_and_grads(torch_log_likelihood, [t.double() for t in inputs])
    torch32 = _value_and_grads(torch_log_likelihood, inputs)
    got = _value_and_grads(fn, inputs)
    for name, g, t, w in zip(("loglik", "dmu", "da", "du"), got, torch32, want, strict=True):
        assert g.dtype == torch.float32 and g.shape == w.shape, name
        assert torch.isfinite(g).all(), name
        assert _max_rel(g, w) <= max(1e-6, 3 * _max_rel(t, w)), name
    return got


@needs_cc
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("shape", [(512, 5, 128), (3, 7), (1, 1, 1), (9000,), (2, 4097)])
def test_compiled_matches_float64_reference(shape, threads, kernel_setting):
    """Value and the three gradients against float64: one element, sizes below,
    at and above a vector of 16 and a chunk of 4096, several chunks."""
    kernel_setting("compiled")
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        got = _check_against_float64(club_log_likelihood, _inputs(shape, seed=len(shape)))
    finally:
        torch.set_num_threads(old)
    assert got[0].grad_fn.name() == "_ClubLogLikelihoodBackward"


@needs_cc
def test_result_does_not_depend_on_the_thread_count(kernel_setting):
    kernel_setting("compiled")
    inputs = _inputs((512, 5, 128), seed=3)
    old = torch.get_num_threads()
    results = []
    try:
        for threads in (1, 2, 3):
            torch.set_num_threads(threads)
            results.append(_value_and_grads(club_log_likelihood, inputs))
    finally:
        torch.set_num_threads(old)
    for other in results[1:]:
        for a, b in zip(results[0], other, strict=True):
            assert torch.equal(a, b)


@needs_cc
@pytest.mark.parametrize("portable", [False, True])
def test_tanh_and_the_loss_in_both_builds(portable, fresh_kernels):
    """tanh within 3 ulp of float64's on a dense grid (zeros, tiny, saturated
    arguments included), in the default build and the portable one (no AVX-512
    instructions); the portable build's loss and gradients too."""
    kernel = load_club_kernel() if not portable else _native._open_library(
        _club.SOURCE, "club_portable", ("-DM2S_PORTABLE",), "the portable CLUB kernel",
        _club._ClubLibrary)
    tiny = torch.logspace(-30, 0, 3001)
    x = torch.cat([torch.linspace(-20, 20, 200_001), tiny, -tiny,
                   torch.tensor([0.0, -0.0, 1e-45, 88.0, -88.0])]).float()
    got = kernel.tanh(x)
    want = torch.tanh(x.double())
    ulp = torch.finfo(torch.float32).eps * want.abs().clamp_min(torch.finfo(torch.float32).tiny)
    assert ((got.double() - want).abs() / ulp).max() <= 3
    assert torch.equal(torch.signbit(got), torch.signbit(x))  # -0.0 stays -0.0
    inputs = _inputs((64, 5, 33), seed=4, spread=4.0)
    rows = 64 * 5
    want = _value_and_grads(torch_log_likelihood, [t.double() for t in inputs])
    mu, a, u = inputs
    loglik = kernel.forward_sum(mu, a, u) / (-2.0 * rows)
    dmu, da = kernel.backward(mu, a, u, -1.0 / rows, 1.0 / (2.0 * rows))
    for g, w in zip((loglik, dmu, da), want, strict=False):
        assert _max_rel(g, w) < 1e-6


@needs_cc
def test_torch_setting_and_other_devices_use_pytorch_operations(kernel_setting):
    inputs = _inputs((8, 5, 16), seed=5)
    kernel_setting("torch")
    assert torch.equal(club_log_likelihood(*inputs), torch_log_likelihood(*inputs))
    kernel_setting("compiled")
    meta = [t.to("meta") for t in inputs]
    assert _club.club_kernel_for(*meta) is None  # not a CPU tensor: PyTorch's


@needs_cc
def test_under_bf16_autocast_the_kernel_computes_in_float32(kernel_setting):
    kernel_setting("compiled")
    mu, a, u = _inputs((16, 5, 32), seed=6)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = club_log_likelihood(mu.bfloat16(), a.bfloat16(), u.bfloat16())
    assert got.dtype == torch.float32
    want = torch_log_likelihood(*(t.bfloat16().double() for t in (mu, a, u)))
    assert _max_rel(got, want) < 1e-6


def test_unsupported_inputs_auto_falls_back_and_compiled_raises(kernel_setting):
    inputs = _inputs((4, 8), seed=7, dtype=torch.float64)
    mu, a, _ = _inputs((4, 8))
    broadcast = (mu, a, _inputs((4, 1))[2])
    kernel_setting("compiled")
    with pytest.raises(KernelUnavailable, match=r"CLUB log-likelihood: it computes in float32"):
        club_log_likelihood(*inputs)
    with pytest.raises(KernelUnavailable, match=r"one shape, got \(4, 8\), \(4, 8\), \(4, 1\)"):
        club_log_likelihood(*broadcast)
    kernel_setting("auto")
    for args in (inputs, broadcast):
        assert torch.equal(club_log_likelihood(*args), torch_log_likelihood(*args))


@needs_cc
def test_club_estimator_same_function_and_gradients_with_either_path(kernel_setting):
    """CLUB.log_likelihood through its heads: same value and parameter gradients."""
    torch.manual_seed(0)
    club = CLUB(z_dim=24, u_dim=20)
    g = torch.Generator().manual_seed(1)
    z, u = torch.randn(32, 5, 24, generator=g), torch.randn(32, 5, 20, generator=g)
    results = {}
    for kind in ("torch", "compiled"):
        kernel_setting(kind)
        club.zero_grad()
        value = club.log_likelihood(z, u)
        value.backward()
        results[kind] = [value.detach(), *(p.grad.clone() for p in club.parameters())]
    assert len(results["torch"]) == 1 + len(list(club.parameters()))
    for a, b in zip(results["compiled"], results["torch"], strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


@needs_cc
def test_thread_pool_build_matches_the_openmp_build(monkeypatch, kernel_setting):
    """Without an OpenMP runtime to share, the kernel runs its chunks on a pool
    of Python threads: the same numbers, bit for bit."""
    kernel_setting("compiled")
    inputs = _inputs((300, 5, 128), seed=9)
    first = _value_and_grads(club_log_likelihood, inputs)
    monkeypatch.setattr(_native, "_libraries", {})
    monkeypatch.setattr(_native, "_process_libgomp", lambda: False)
    assert not load_club_kernel().openmp
    old = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        second = _value_and_grads(club_log_likelihood, inputs)
    finally:
        torch.set_num_threads(old)
    for a, b in zip(first, second, strict=True):
        assert torch.equal(a, b)


def test_a_replaced_log_variance_head_keeps_the_formula(kernel_setting):
    """A log-variance head that does not end in tanh is evaluated as it is."""
    torch.manual_seed(0)
    club = CLUB(z_dim=8, u_dim=6)
    club.logvar = torch.nn.Sequential(torch.nn.Linear(8, 6))
    z, u = torch.randn(4, 3, 8), torch.randn(4, 3, 6)
    kernel_setting("auto")
    logvar = club.logvar(z)
    want = ((-((club.mu(z) - u) ** 2) / logvar.exp() - logvar).sum(-1) / 2).mean()
    assert torch.equal(club.log_likelihood(z, u), want)
