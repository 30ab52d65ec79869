"""Shared fixtures: tiny settings and a synthetic two-modality latent problem."""

import os

import numpy as np
import pytest
import torch

# The machine has 2 cores; tests are small and run faster without oversubscription.
torch.set_num_threads(2)


@pytest.fixture(autouse=True, scope="session")
def _session_cache_dir(tmp_path_factory):
    """Caches of the test session (compiled kernels, dataset caches) in a temporary folder,
    never in the user's ``~/mne_data`` (subprocesses inherit it)."""
    old = os.environ.get("MNE_M2S_CACHE_DIR")
    os.environ["MNE_M2S_CACHE_DIR"] = str(tmp_path_factory.mktemp("mne_m2s_cache"))
    yield
    if old is None:
        os.environ.pop("MNE_M2S_CACHE_DIR", None)
    else:
        os.environ["MNE_M2S_CACHE_DIR"] = old


#: Small architecture/schedule for fast tests (the SPEC defaults are tested elsewhere).
SMALL = dict(
    embedding_dim=32,
    n_layers=1,
    ffn_dim=64,
    head_dim=8,
    proj_dim=16,
    pretrain_max_epochs=30,
    pretrain_batch_size=128,
    pretrain_lr=1e-3,
    max_epochs=60,
    batch_size=64,
    device="cpu",
    random_state=0,
)


def tiny_shallow_fbcsp():
    """A tiny braindecode ShallowFBCSPNet (one epoch) for short raw-EEG samples."""
    from mne_m2s.baselines import BraindecodeClassifier

    return BraindecodeClassifier(
        "ShallowFBCSPNet",
        model_kwargs={"filter_time_length": 5, "pool_time_length": 5, "pool_time_stride": 2,
                      "n_filters_time": 8, "n_filters_spat": 8},
        max_epochs=1,
        batch_size=32,
        random_state=0,
    )


def make_latent_problem(seed=0, n_trials=30, per_trial=20, n_windows=5, n_chans=14, n_bands=5,
                        n_eye=12, noise=1.0):
    """Two modalities sharing a class-dependent latent signal plus independent noise.

    Returns
    -------
    Xa : ndarray, shape (n, n_windows, n_chans, n_bands)   ("eeg", electrode layout)
    Xb : ndarray, shape (n, n_windows, n_eye)               ("eye")
    y : ndarray, shape (n,)
    trial : ndarray, shape (n,)
    """
    rng = np.random.default_rng(seed)
    wa = rng.normal(size=(3, n_chans * n_bands))
    wb = rng.normal(size=(3, n_eye))
    means = rng.normal(size=(3, 3)) * 1.5
    xa, xb, ys, trials = [], [], [], []
    for tr in range(n_trials):
        c = tr % 3
        lat = means[c] + rng.normal(size=(per_trial, n_windows, 3)) * 0.7
        a = lat @ wa + rng.normal(size=(per_trial, n_windows, n_chans * n_bands)) * noise
        xa.append(a.reshape(per_trial, n_windows, n_chans, n_bands))
        xb.append(lat @ wb + rng.normal(size=(per_trial, n_windows, n_eye)) * noise)
        ys.append(np.full(per_trial, c))
        trials.append(np.full(per_trial, tr))
    return (np.concatenate(xa).astype(np.float32), np.concatenate(xb).astype(np.float32),
            np.concatenate(ys), np.concatenate(trials))


@pytest.fixture(scope="session")
def latent_problem():
    return make_latent_problem()


@pytest.fixture(scope="session")
def pretrained_clf(latent_problem):
    from mne_m2s import M2SClassifier

    xa, xb, y, trial = latent_problem
    train = trial < 18
    return M2SClassifier(**SMALL).pretrain({"eeg": xa[train], "eye": xb[train]})


@pytest.fixture
def kernel_setting():
    """:func:`mne_m2s.utils.set_cpu_kernels` for the test; the setting is restored after it."""
    from mne_m2s.utils import set_cpu_kernels

    previous = set_cpu_kernels(None)
    set_cpu_kernels(previous)
    yield set_cpu_kernels
    set_cpu_kernels(previous)


@pytest.fixture
def fresh_kernels(monkeypatch, tmp_path):
    """An empty kernel folder and no compiled library loaded yet in this process."""
    from mne_m2s.nn import _native

    monkeypatch.setenv("MNE_M2S_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(_native, "_libraries", {})
    monkeypatch.setattr(_native, "_logged", set())
    return tmp_path / "kernels"
