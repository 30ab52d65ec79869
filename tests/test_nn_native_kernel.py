"""Tests of the compiled STS attention kernel (mne_m2s.nn._native) and its setting."""

import io
import logging
import os
import subprocess
import sys
import textwrap

import pytest
import torch

import mne_m2s
from mne_m2s.nn import _native
from mne_m2s.nn._club import club_log_likelihood, torch_log_likelihood
from mne_m2s.nn._kernels import folded_sts_core
from mne_m2s.nn._native import KernelUnavailable, find_compiler, load_kernel, sts_core_cpu
from mne_m2s.nn.encoders import EREncoder
from mne_m2s.utils import get_cpu_kernels, set_cpu_kernels

needs_cc = pytest.mark.skipif(find_compiler() is None, reason="no C compiler on this machine")


def _inputs(n, c, b, h, seed=0, scale=0.3, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    xq, xk = (torch.randn(n, c, b, generator=g, dtype=dtype) for _ in range(2))
    a = torch.randn(h, b, b, generator=g, dtype=dtype) * scale
    m = torch.randn(h, b, b, generator=g, dtype=dtype)
    return [t.requires_grad_() for t in (xq, xk, a, m)]


def _value_and_grads(fn, inputs, grad):
    out = fn(*inputs)
    return [out, *torch.autograd.grad(out, inputs, grad)]


def _max_rel(got, want):
    return ((got.double() - want).abs().max() / want.abs().max().clamp_min(1e-30)).item()


@needs_cc
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize(
    "n, c, b, h",
    [(300, 62, 5, 4), (3, 14, 4, 2), (7, 3, 1, 1), (5, 17, 6, 3), (1, 62, 5, 4), (9, 16, 5, 4),
     (4, 33, 2, 8)],
)
def test_compiled_matches_float64_reference(n, c, b, h, threads, kernel_setting):
    """Output and the four gradients, against the float64 PyTorch kernel.

    Covers electrode counts below, at and above one vector of 16 (padded
    lanes), one band, one head, more items than threads and fewer.
    """
    set_cpu_kernels("compiled")
    inputs = _inputs(n, c, b, h, seed=n + c)
    grad = torch.randn(n, c, b, generator=torch.Generator().manual_seed(1))
    reference = _value_and_grads(
        folded_sts_core, [t.detach().double().requires_grad_() for t in inputs], grad.double()
    )
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        got = _value_and_grads(sts_core_cpu, inputs, grad)
        assert got[0].grad_fn.name() == "CompiledSTSCoreBackward"
    finally:
        torch.set_num_threads(old)
    for name, g, w in zip(("out", "dxq", "dxk", "da", "dm"), got, reference, strict=True):
        assert g.dtype == torch.float32 and g.shape == w.shape
        assert _max_rel(g, w) < 2e-6, name


@needs_cc
@pytest.mark.parametrize("scale", [0.3, 300.0])
def test_portable_build_matches_float64_reference(scale, fresh_kernels, kernel_setting):
    """The portable variant (no AVX-512 instructions, as on machines without
    them) computes the same function as the default build, saturated scores
    included."""
    shape = (62, 5, 4)
    defines = tuple(f"-DSTS_{k}={v}" for k, v in zip("CBH", shape, strict=True))
    portable = _native._open_library(
        _native.SOURCE, "sts_portable", (*defines, "-DM2S_PORTABLE"), "the portable STS kernel",
        lambda path, compiler: _native._Library(path, shape, compiler))
    default = load_kernel(shape)
    assert portable.path != default.path
    xq, xk, a, m = (t.detach() for t in _inputs(40, *shape, seed=3, scale=scale))
    grad = torch.randn(40, 62, 5, generator=torch.Generator().manual_seed(4))
    want = _value_and_grads(
        folded_sts_core, [t.double().requires_grad_() for t in (xq, xk, a, m)], grad.double()
    )
    torch32 = _value_and_grads(folded_sts_core, [t.requires_grad_() for t in (xq, xk, a, m)],
                               grad)
    for kernel in (portable, default):
        out, stats = kernel.forward(xq, xk, a, m, save=True)
        got = [out, *kernel.backward(xq, xk, a, m, grad, stats)]
        for name, g, t, w in zip(("out", "dxq", "dxk", "da", "dm"), got, torch32, want,
                                 strict=True):
            assert torch.isfinite(g).all(), name
            assert _max_rel(g, w) <= max(2e-6, 3 * _max_rel(t, w) + 1e-6), name


@needs_cc
@pytest.mark.parametrize("threads", [1, 2])
def test_inputs_without_gradient_get_the_same_weight_gradients(threads, kernel_setting):
    """Data inputs (the first block's): the backward pass computes the weights'
    gradients only, bit for bit those of the full backward pass."""
    set_cpu_kernels("compiled")
    xq, xk, a, m = _inputs(37, 62, 5, 4, seed=8)
    grad = torch.randn(37, 62, 5, generator=torch.Generator().manual_seed(9))
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        full = _value_and_grads(sts_core_cpu, [xq, xk, a, m], grad)
        data = [xq.detach(), xk.detach()]
        weights_only = _value_and_grads(lambda a, m: sts_core_cpu(*data, a, m), [a, m], grad)
        kernel = load_kernel((62, 5, 4))
        out, stats = kernel.forward(*data, a.detach(), m.detach(), save=True)
        raw = kernel.backward(*data, a.detach(), m.detach(), grad, stats, inputs=False)
    finally:
        torch.set_num_threads(old)
    assert raw[0] is None and raw[1] is None
    for got, want in zip(weights_only, [full[0], *full[3:]], strict=True):
        assert torch.equal(got, want)
    for got, want in zip(raw[2:], full[3:], strict=True):
        assert torch.equal(got, want)


@needs_cc
def test_compiled_large_scores_stay_finite_and_accurate(kernel_setting):
    """Scores of ~1e3 (base-2 exponents far below -126): no overflow, NaN or subnormal,
    and float32 errors (against float64) of the PyTorch kernel's size: a saturated
    softmax leaves gradients that are mostly rounding, for both kernels."""
    set_cpu_kernels("compiled")
    inputs = _inputs(6, 20, 5, 4, seed=5, scale=300.0)
    grad = torch.randn(6, 20, 5, generator=torch.Generator().manual_seed(2))
    got = _value_and_grads(sts_core_cpu, inputs, grad)
    torch32 = _value_and_grads(folded_sts_core, inputs, grad)
    want = _value_and_grads(
        folded_sts_core, [t.detach().double().requires_grad_() for t in inputs], grad.double()
    )
    for g, t, w in zip(got, torch32, want, strict=True):
        assert torch.isfinite(g).all()
        assert _max_rel(g, w) <= 3 * _max_rel(t, w) + 1e-6


@needs_cc
def test_compiled_is_deterministic_and_no_grad_path_agrees(kernel_setting):
    set_cpu_kernels("compiled")
    inputs = _inputs(50, 62, 5, 4, seed=3)
    grad = torch.randn(50, 62, 5, generator=torch.Generator().manual_seed(4))
    first = _value_and_grads(sts_core_cpu, inputs, grad)
    second = _value_and_grads(sts_core_cpu, inputs, grad)
    for a, b in zip(first, second, strict=True):
        assert torch.equal(a, b)
    with torch.no_grad():
        out = sts_core_cpu(*inputs)
    assert out.grad_fn is None and torch.equal(out, first[0])
    with torch.inference_mode():
        assert torch.equal(sts_core_cpu(*[t.detach() for t in inputs]), first[0])


@needs_cc
def test_compiled_under_bf16_autocast(kernel_setting):
    """bfloat16 inputs under CPU autocast are computed in float32, as the PyTorch kernel does."""
    inputs = _inputs(20, 62, 5, 4, seed=6)
    results = {}
    for kind in ("compiled", "torch"):
        set_cpu_kernels(kind)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = [t.to(torch.bfloat16) for t in inputs]
            out = sts_core_cpu(*low)
        assert out.dtype == torch.float32
        out.sum().backward()
        results[kind] = [out.detach(), *(t.grad.clone() for t in inputs)]
        for t in inputs:
            t.grad = None
    # the same float32 output; the gradients are rounded to bfloat16 on their way
    # back through the casts (a few units of its 2**-8 relative precision)
    assert _max_rel(results["compiled"][0], results["torch"][0].double()) < 1e-5
    for a, b in zip(results["compiled"][1:], results["torch"][1:], strict=True):
        assert _max_rel(a, b.double()) < 1e-2


@needs_cc
def test_encoder_same_function_with_either_kernel(kernel_setting, monkeypatch):
    """A train-mode SEED-shaped EEG encoder: same outputs and gradients with both kernels."""
    torch.manual_seed(0)
    enc = EREncoder(310, 32, n_bands=5, n_layers=2, ffn_dim=64, head_dim=8).train()
    x = torch.randn(16, 5, 62, 5, generator=torch.Generator().manual_seed(1))
    results = {}
    set_cpu_kernels("compiled")
    compiled_for = _native.kernel_for
    for kind in ("torch", "compiled"):
        # only the STS kernel switches: dropout draws the same masks in both runs
        monkeypatch.setattr(_native, "kernel_for",
                            compiled_for if kind == "compiled" else lambda xq, a: None)
        torch.manual_seed(7)  # the same dropout masks
        enc.zero_grad()
        out = enc(x)
        out.square().sum().backward()
        results[kind] = [out.detach()] + [p.grad.clone() for p in enc.parameters()]
    for a, b in zip(results["compiled"], results["torch"], strict=True):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def test_setting_values_and_environment(monkeypatch, kernel_setting):
    monkeypatch.delenv("MNE_M2S_CPU_KERNELS", raising=False)
    set_cpu_kernels(None)
    assert get_cpu_kernels() == "auto"
    monkeypatch.setenv("MNE_M2S_CPU_KERNELS", "torch")
    assert get_cpu_kernels() == "torch"
    assert set_cpu_kernels("compiled") is None
    assert get_cpu_kernels() == "compiled"  # the call wins over the environment
    assert set_cpu_kernels(None) == "compiled"
    assert get_cpu_kernels() == "torch"
    with pytest.raises(ValueError, match="'kind' parameter.*Did you mean 'compiled'"):
        set_cpu_kernels("compile")
    monkeypatch.setenv("MNE_M2S_CPU_KERNELS", "fast")
    with pytest.raises(ValueError, match="MNE_M2S_CPU_KERNELS must be one of"):
        get_cpu_kernels()
    assert mne_m2s.utils.set_cpu_kernels is set_cpu_kernels


def test_torch_setting_uses_the_pytorch_kernel(kernel_setting):
    set_cpu_kernels("torch")
    inputs = _inputs(4, 10, 5, 2)
    out = sts_core_cpu(*inputs)
    assert out.grad_fn.name() == "FoldedSTSCoreBackward"
    assert torch.equal(out, folded_sts_core(*inputs))


@pytest.mark.parametrize("kernel", ["STS attention", "CLUB log-likelihood"])
def test_no_compiler_auto_falls_back_and_compiled_raises(kernel, monkeypatch, fresh_kernels,
                                                         kernel_setting):
    """Without a C compiler: ``auto`` computes with PyTorch's operations (the
    reason logged once), ``compiled`` raises naming the reason; nothing is
    left in the kernel folder."""
    compiled, torch_ops, inputs = {
        "STS attention": (sts_core_cpu, folded_sts_core, _inputs(4, 10, 5, 2)),
        "CLUB log-likelihood": (club_log_likelihood, torch_log_likelihood,
                                [torch.randn(6, 5, 8) for _ in range(3)]),
    }[kernel]
    monkeypatch.setenv("CC", os.path.join(os.sep, "nonexistent", "cc"))
    records = io.StringIO()
    handler = logging.StreamHandler(records)
    mne_m2s.utils.logger.addHandler(handler)
    old_level = mne_m2s.utils.set_log_level("INFO")
    try:
        set_cpu_kernels("auto")
        out = compiled(*inputs)
        compiled(*inputs)
    finally:
        mne_m2s.utils.set_log_level(old_level)
        mne_m2s.utils.logger.removeHandler(handler)
    assert torch.equal(out, torch_ops(*inputs))
    log = records.getvalue()
    assert log.count(f"The {kernel} uses PyTorch operations") == 1
    assert "no C compiler found" in log
    set_cpu_kernels("compiled")
    with pytest.raises(KernelUnavailable,
                       match=rf"set_cpu_kernels\('compiled'\).* for the {kernel}.*no C compiler"):
        compiled(*inputs)
    assert not fresh_kernels.exists() or not any(fresh_kernels.iterdir())


def test_compiled_refuses_inputs_it_does_not_handle(kernel_setting):
    set_cpu_kernels("compiled")
    inputs = _inputs(2, 6, 3, 2, dtype=torch.float64)
    with pytest.raises(KernelUnavailable, match="computes in float32.*torch.float64"):
        sts_core_cpu(*inputs)
    set_cpu_kernels("auto")  # auto: the PyTorch kernel, which handles float64
    assert torch.equal(sts_core_cpu(*inputs), folded_sts_core(*inputs))


@needs_cc
def test_failed_build_leaves_no_file(monkeypatch, fresh_kernels, tmp_path, kernel_setting):
    """A compiler that writes a partial output and fails: clear error, nothing left behind."""
    fake = tmp_path / "badcc"
    fake.write_text(textwrap.dedent("""\
        #!/bin/sh
        if [ "$1" = "--version" ]; then echo "badcc 1.0"; exit 0; fi
        while [ $# -gt 0 ]; do
          if [ "$1" = "-o" ]; then echo partial > "$2"; fi
          shift
        done
        echo "error: the fake compiler fails" >&2
        exit 1
    """))
    fake.chmod(0o755)
    monkeypatch.setenv("CC", str(fake))
    set_cpu_kernels("compiled")
    with pytest.raises(KernelUnavailable, match="badcc 1.0 failed(.|\n)*fake compiler fails"):
        sts_core_cpu(*_inputs(2, 6, 3, 2))
    assert list(fresh_kernels.iterdir()) == []


@needs_cc
def test_library_is_built_once_and_reused_by_a_fresh_process(monkeypatch, fresh_kernels,
                                                               tmp_path):
    """The cached library is loaded, not rebuilt; the compiler is only asked its version."""
    log = tmp_path / "calls.txt"
    wrapper = tmp_path / "cc-wrapper"
    wrapper.write_text(f'#!/bin/sh\necho "$@" >> "{log}"\nexec {find_compiler()[0]} "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("CC", str(wrapper))
    code = ("import torch; from mne_m2s.nn._native import load_kernel; "
            "print(load_kernel((11, 3, 2)).path)")
    paths = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, env=os.environ.copy()).stdout.strip() for _ in range(2)]
    assert paths[0] == paths[1] and os.path.dirname(paths[0]) == str(fresh_kernels)
    builds = [line for line in log.read_text().splitlines() if "-shared" in line]
    assert len(builds) == 1 and "-DSTS_C=11" in builds[0]
    assert [p.name for p in fresh_kernels.iterdir()] == [os.path.basename(paths[0])]


@needs_cc
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/maps")
def test_openmp_build_shares_torchs_runtime_and_matches_the_thread_pool(monkeypatch,
                                                                        fresh_kernels):
    """With torch's libgomp loaded the kernel uses it (one OpenMP runtime in the process);
    the Python-thread build splits the items the same way: bit-identical results."""
    inputs = _inputs(40, 62, 5, 4, seed=9)
    grad = torch.randn(40, 62, 5, generator=torch.Generator().manual_seed(3))

    def mapped_openmp_runtimes():
        with open("/proc/self/maps") as fid:
            return {line.split()[-1] for line in fid if "libgomp" in line or "libomp" in line}

    before = mapped_openmp_runtimes()
    kernel = load_kernel((62, 5, 4))  # a new build (empty kernel folder), loaded now
    if _native._process_libgomp():
        assert kernel.openmp
        assert mapped_openmp_runtimes() == before  # no second OpenMP runtime
    def run(k):
        detached = [t.detach() for t in inputs]
        out, stats = k.forward(*detached, save=True)
        return [out, stats, *k.backward(*detached, grad, stats)]

    omp = run(kernel)
    monkeypatch.setattr(_native, "_libraries", {})
    monkeypatch.setattr(_native, "_process_libgomp", lambda: False)
    pool_kernel = load_kernel((62, 5, 4))
    assert not pool_kernel.openmp and pool_kernel.path != kernel.path
    for a, b in zip(omp, run(pool_kernel), strict=True):
        assert torch.equal(a, b)


def test_sys_info_names_the_kernel(kernel_setting):
    set_cpu_kernels("torch")
    out = io.StringIO()
    mne_m2s.sys_info(fid=out)
    rows = dict(line.split(":", 1) for line in out.getvalue().splitlines())
    for name in ("STS kernel (CPU)", "Dropout (CPU)", "CLUB log-likelihood (CPU)",
                 "Linear float32 (CPU)", "Allocator (CPU pre-training)"):
        assert rows[name].strip() == "torch (set_cpu_kernels('torch'))"
    set_cpu_kernels("auto")
    out = io.StringIO()
    mne_m2s.sys_info(fid=out)
    rows = {k.strip(): v.strip() for k, v in
            (line.split(":", 1) for line in out.getvalue().splitlines())}
    if find_compiler() is not None:
        assert rows["STS kernel (CPU)"].startswith("compiled (")
        assert rows["Dropout (CPU)"].startswith("compiled (")
        assert rows["CLUB log-likelihood (CPU)"].startswith("compiled (")
    if find_compiler("c++") is not None:
        assert rows["Allocator (CPU pre-training)"].startswith("caching, blocks >= 1 MiB (")
    if torch.backends.mkldnn.is_available():
        assert rows["Linear float32 (CPU)"] == "oneDNN"


@needs_cc
def test_missing_source_is_a_clear_error(monkeypatch, fresh_kernels, tmp_path, kernel_setting):
    monkeypatch.setattr(_native, "SOURCE", tmp_path / "missing.c")
    set_cpu_kernels("compiled")
    with pytest.raises(KernelUnavailable, match="missing.c cannot be read.*reinstall"):
        sts_core_cpu(*_inputs(2, 6, 3, 2))


def test_included_headers_enter_the_cache_key_and_a_missing_one_is_named(tmp_path):
    """An edited header rebuilds the kernels that include it; a missing one is a
    clear error naming the file (a broken installation)."""
    for name in ("_sts_kernel.c", "_vecmath.h"):
        (tmp_path / name).write_bytes((_native.SOURCE.parent / name).read_bytes())
    source = tmp_path / "_sts_kernel.c"
    parts = _native._source_parts(source)
    assert parts == [source.read_bytes(), (tmp_path / "_vecmath.h").read_bytes()]
    (tmp_path / "_vecmath.h").write_bytes(parts[1] + b"\n/* edited */\n")
    assert _native._source_parts(source)[1] != parts[1]
    (tmp_path / "_vecmath.h").unlink()
    with pytest.raises(KernelUnavailable, match=r"header \(included by _sts_kernel.c\) .*"
                                                r"_vecmath.h cannot be read.*reinstall"):
        _native._source_parts(source)
