"""The caching CPU allocator of pre-training steps (mne_m2s.nn._allocator)."""

import contextlib
import logging
import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest
import torch

from mne_m2s.nn import _allocator, _native
from mne_m2s.nn._allocator import (
    allocator_stats,
    allocator_status,
    caching_allocator,
    load_allocator,
    release_cached_memory,
)
from mne_m2s.nn._native import KernelUnavailable, find_compiler
from mne_m2s.utils import set_cpu_kernels

needs_cxx = pytest.mark.skipif(find_compiler("c++") is None,
                               reason="no C++ compiler on this machine")
MIB = 1 << 20


def _big(n_mib=4, fill=1.0):
    return torch.full((n_mib * MIB // 4,), fill)  # float32: n_mib MiB


@needs_cxx
def test_large_blocks_come_from_the_cache_and_are_reused(kernel_setting):
    set_cpu_kernels("compiled")
    load_allocator()
    release_cached_memory()
    before = allocator_stats()
    with caching_allocator() as active:
        assert active
        assert allocator_stats()["active"] == before["active"] + 1
        a = _big(4, 2.0)
        b = a * 3.0
        inside = allocator_stats()
        assert inside["in_use"] - before["in_use"] == 8 * MIB  # a and b, 4 MiB each
        assert b.sum().item() == 6.0 * a.numel()
        small = torch.ones(1000)  # under THRESHOLD: torch's allocator
        assert allocator_stats()["in_use"] == inside["in_use"]
        del a, b, small
        freed = allocator_stats()
        assert freed["cached"] - before["cached"] == 8 * MIB
        assert freed["in_use"] == before["in_use"]
        c = _big(4)
        again = allocator_stats()
        assert again["hits"] == freed["hits"] + 1  # reused, not mapped again
        assert again["mapped"] == freed["mapped"]
        assert c.sum().item() == c.numel()
        d = _big(1)  # a 4 MiB block is more than twice a 1 MiB request: not reused
        assert allocator_stats()["misses"] == again["misses"] + 1
        del c, d
    after = allocator_stats()
    assert after["active"] == before["active"]
    assert after["installed"] == 1
    release_cached_memory()
    assert allocator_stats()["cached"] == 0


@needs_cxx
def test_outside_a_step_torch_allocates(kernel_setting):
    set_cpu_kernels("compiled")
    with caching_allocator():
        kept = _big(2)  # allocated in a step, freed outside it
    before = allocator_stats()
    other = _big(4)
    assert allocator_stats()["in_use"] == before["in_use"]  # not from the cache
    del kept
    assert allocator_stats()["cached"] == before["cached"] + 2 * MIB
    del other
    release_cached_memory()


@needs_cxx
def test_mapped_bytes_stay_within_the_high_water_mark(kernel_setting):
    set_cpu_kernels("compiled")
    load_allocator()
    release_cached_memory()
    rng = np.random.default_rng(0)
    with caching_allocator():
        for _ in range(40):
            held = [_big(int(k)) for k in rng.integers(1, 9, size=rng.integers(1, 6))]
            stats = allocator_stats()
            slack = max(32 * MIB, stats["high_water"] // 8)
            assert stats["mapped"] <= stats["high_water"] + slack
            assert stats["in_use"] <= stats["mapped"]
            del held
    assert allocator_stats()["failures"] == 0
    release_cached_memory()


@needs_cxx
def test_onednn_buffers_and_threads(kernel_setting):
    """oneDNN frees raw buffers through the current allocator, inside and outside steps."""
    set_cpu_kernels("compiled")
    x, w = torch.randn(2048, 310), torch.randn(1024, 310)
    expected = x @ w.T
    with caching_allocator():
        inside = torch.ops.mkldnn._linear_pointwise(x, w, None, "none", [], "")
    outside = torch.ops.mkldnn._linear_pointwise(x, w, None, "none", [], "")
    torch.testing.assert_close(inside, expected, rtol=1e-4, atol=1e-3)
    torch.testing.assert_close(outside, expected, rtol=1e-4, atol=1e-3)
    del inside, outside
    before = allocator_stats()["in_use"]
    errors = []

    def work(seed):
        try:
            g = torch.Generator().manual_seed(seed)
            with caching_allocator():
                for _ in range(20):
                    a = torch.randn(512, 1024, generator=g)
                    torch.testing.assert_close((a * 2).sum(), 2 * a.sum(), rtol=1e-5, atol=1e-2)
        except Exception as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    stats = allocator_stats()
    assert stats["in_use"] == before and stats["active"] == 0 and stats["failures"] == 0
    release_cached_memory()


@needs_cxx
def test_profiler_sees_the_cached_blocks(kernel_setting):
    set_cpu_kernels("compiled")
    with caching_allocator(), torch.profiler.profile(profile_memory=True,
                                                          acc_events=True) as prof:
        a = _big(4)
        del a
    usage = [e.cpu_memory_usage for e in prof.events()]
    assert max(usage) >= 4 * MIB
    release_cached_memory()


def _one_step(seed, allocator_on, monkeypatch):
    from mne_m2s import training
    from mne_m2s.nn.m2s import M2SNetwork
    from mne_m2s.training import M2SPretrainer, WeightedLoss

    if not allocator_on:
        monkeypatch.setattr(training, "caching_allocator",
                            lambda enabled=True: contextlib.nullcontext(False))
    else:
        monkeypatch.setattr(training, "caching_allocator", caching_allocator)
    rng = np.random.default_rng(seed)
    batch = {"eeg": torch.from_numpy(rng.standard_normal((128, 5, 62, 5), dtype=np.float32)),
             "eye": torch.from_numpy(rng.standard_normal((128, 5, 33), dtype=np.float32))}
    torch.manual_seed(seed)
    net = M2SPretrainer(M2SNetwork({"eeg": (310, 5), "eye": (33, None)}), WeightedLoss(),
                        optimizer=torch.optim.Adam, lr=1e-3, batch_size=128, train_split=None,
                        device="cpu", mi_steps=2).initialize()
    net.history.new_epoch()
    for _ in range(2):
        net.history.new_batch()
        net.train_step((batch, None))
    return [p.detach().clone() for p in net.module_.parameters()]


@needs_cxx
def test_training_steps_are_identical_with_and_without_the_cache(kernel_setting, monkeypatch):
    set_cpu_kernels("compiled")
    load_allocator()
    release_cached_memory()
    hits = allocator_stats()["hits"]
    with_cache = _one_step(0, True, monkeypatch)
    assert allocator_stats()["hits"] > hits  # the steps did use it
    without = _one_step(0, False, monkeypatch)
    for a, b in zip(with_cache, without, strict=True):
        assert torch.equal(a, b)
    release_cached_memory()


def test_torch_setting_never_uses_it(kernel_setting):
    set_cpu_kernels("torch")
    before = allocator_stats()
    with caching_allocator() as active:
        a = _big(4)
    assert not active
    assert allocator_stats() == before
    assert allocator_status() == "torch (set_cpu_kernels('torch'))"
    del a


def test_disabled_off_the_cpu(kernel_setting):
    set_cpu_kernels("auto")
    before = allocator_stats()
    with caching_allocator(enabled=False) as active:
        _big(4)
    assert not active and allocator_stats() == before


def test_no_compiler(monkeypatch, kernel_setting, tmp_path, caplog):
    monkeypatch.setenv("CXX", "/nonexistent/c++")
    monkeypatch.setenv("MNE_M2S_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(_allocator, "_library", None)
    monkeypatch.setattr(_native, "_logged", set())
    set_cpu_kernels("compiled")
    with pytest.raises(KernelUnavailable, match=r"caching CPU allocator: no C\+\+ compiler "
                                                r"found \(CXX, c\+\+, g\+\+, clang\+\+\); "
                                                r"set CXX to a C\+\+ compiler"):
        with caching_allocator():
            pass
    assert allocator_status().startswith("unavailable: no C++ compiler found")
    set_cpu_kernels("auto")
    with caplog.at_level(logging.INFO, logger="mne_m2s"):
        for _ in range(2):
            with caching_allocator() as active:
                assert not active
    messages = [r.getMessage() for r in caplog.records if "caching allocator" in r.getMessage()]
    assert len(messages) == 1  # logged once
    assert "torch's CPU allocator" in messages[0] and "no C++ compiler" in messages[0]
    assert allocator_status().startswith("torch (no C++ compiler found")


@needs_cxx
def test_missing_torch_headers_are_named(monkeypatch, tmp_path):
    monkeypatch.setattr(_native.torch, "__file__", str(tmp_path / "torch" / "__init__.py"))
    with pytest.raises(KernelUnavailable, match="torch's C\\+\\+ headers are not installed"):
        _native._build_library(_allocator.SOURCE, "x", (), "x", language="c++")


@needs_cxx
def test_replaced_allocator_is_refused_in_a_fresh_process(tmp_path):
    """Another allocator installed over the cache: activation is refused, with the reason."""
    code = textwrap.dedent("""
        import torch
        from mne_m2s.nn._allocator import caching_allocator
        from mne_m2s.utils import set_cpu_kernels, set_log_level
        with caching_allocator() as active:
            assert active
        torch._C._set_default_mobile_cpu_allocator()
        set_log_level("INFO")
        with caching_allocator() as active:
            assert not active
        set_cpu_kernels("compiled")
        try:
            with caching_allocator():
                pass
        except RuntimeError as err:
            print("REFUSED:", err)
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300, check=False,
                            env={**os.environ, "MNE_M2S_CACHE_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert "REFUSED:" in result.stdout
    assert "another CPU allocator replaced it after it was installed" in result.stdout
    assert "Pre-training uses torch's CPU allocator" in result.stderr


def test_not_used_where_malloc_keeps_large_blocks(monkeypatch, kernel_setting, caplog):
    monkeypatch.setattr(_allocator, "_malloc", ["tcmalloc"])
    monkeypatch.setattr(_native, "_logged", set())
    set_cpu_kernels("auto")
    before = allocator_stats()
    with caplog.at_level(logging.INFO, logger="mne_m2s"):
        for _ in range(2):
            with caching_allocator() as active:
                assert not active
                _big(4)
    assert allocator_stats() == before
    messages = [r.getMessage() for r in caplog.records if "keeps large blocks" in r.getMessage()]
    assert messages == ["Pre-training uses torch's CPU allocator: the process's malloc is "
                        "tcmalloc, which keeps large blocks itself"]
    assert allocator_status() == "torch (malloc is tcmalloc, which keeps large blocks itself)"
    if find_compiler("c++") is not None:
        set_cpu_kernels("compiled")  # used anyway
        with caching_allocator() as active:
            assert active


@needs_cxx
def test_pretraining_uses_the_cache_and_unmaps_it_at_the_end(kernel_setting):
    from mne_m2s import M2SClassifier

    set_cpu_kernels("compiled")
    load_allocator()
    before = allocator_stats()
    rng = np.random.default_rng(0)
    data = {"eeg": rng.standard_normal((256, 5, 62, 5), dtype=np.float32),
            "eye": rng.standard_normal((256, 5, 33), dtype=np.float32)}
    M2SClassifier(pretrain_max_epochs=1, pretrain_batch_size=128, device="cpu",
                  random_state=0).pretrain(data)
    after = allocator_stats()
    assert after["hits"] + after["misses"] > before["hits"] + before["misses"]
    assert after["cached"] == 0 and after["active"] == 0
