"""Tests of mne_m2s.viz: what is drawn is what was given, and bad input is refused."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import mne
import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.container import BarContainer
from matplotlib.figure import Figure

from conftest import SMALL
from mne_m2s import M2SClassifier, viz
from mne_m2s.nn.attention import STSAttention, temporal_sparse_mean

CH_NAMES = ["AF3", "F7", "F3", "FC5", "T7", "P7", "O1", "O2", "P8", "T8", "FC6", "F4", "F8",
            "AF4"]  # the 14 DREAMER electrodes, as make_latent_problem's EEG
BANDS = ["delta", "theta", "alpha", "beta", "gamma"]


@pytest.fixture(scope="module")
def info():
    info = mne.create_info(CH_NAMES, 128.0, "eeg")
    info.set_montage("standard_1020")
    return info


@pytest.fixture(autouse=True)
def _no_pyplot_figures():
    before = plt.get_fignums()
    yield
    assert plt.get_fignums() == before, "a viz function left a figure in pyplot"


def _topomap_axes(fig):
    return [ax for ax in fig.axes if ax.images]


def _sensor_offsets(ax):
    return np.asarray(ax.collections[0].get_offsets())


# ------------------------------------------------------------------ topomaps
def test_plot_topomaps_grid_limits_and_positions(info):
    rng = np.random.default_rng(0)
    data = rng.normal(size=(2, 3, len(CH_NAMES)))
    fig = viz.plot_topomaps(data, info, titles=["a", "b", "c"], row_names=["r1", "r2"])
    assert isinstance(fig, Figure)
    maps = _topomap_axes(fig)
    assert len(maps) == 6
    assert len(fig.axes) == 7  # 6 maps + one joint colour bar
    for ax in maps:
        np.testing.assert_allclose(ax.images[0].get_clim(), (data.min(), data.max()))
    assert [ax.get_title() for ax in maps[:3]] == ["a", "b", "c"]
    # electrodes drawn where MNE draws them for this info
    ref = Figure()
    mne.viz.plot_topomap(data[0, 0], info, axes=ref.add_subplot(), show=False)
    np.testing.assert_allclose(_sensor_offsets(maps[0]), _sensor_offsets(ref.axes[0]))

    sym = viz.plot_topomaps(data, info, vlim="cols", symmetric=True)
    assert len(sym.axes) == 6 + 3  # one colour bar per column
    for c, ax in enumerate(_topomap_axes(sym)[:3]):
        m = np.abs(data[:, c]).max()
        np.testing.assert_allclose(ax.images[0].get_clim(), (-m, m))
    rows = viz.plot_topomaps(data, info, vlim="rows")
    assert len(rows.axes) == 6 + 2
    np.testing.assert_allclose(_topomap_axes(rows)[3].images[0].get_clim(),
                               (data[1].min(), data[1].max()))


def test_plot_topomaps_bad_input(info):
    data = np.zeros(len(CH_NAMES))
    bare = mne.create_info(CH_NAMES, 128.0, "eeg")
    with pytest.raises(ValueError, match="no channel positions"):
        viz.plot_topomaps(data, bare)
    with pytest.raises(ValueError, match="13 channels"):
        viz.plot_topomaps(data[:13], info)
    with pytest.raises(ValueError, match="shape"):
        viz.plot_topomaps(np.zeros((1, 1, 1, 14)), info)
    with pytest.raises(ValueError, match="vlim"):
        viz.plot_topomaps(data, info, vlim="band")
    with pytest.raises(ValueError, match="titles must have 1"):
        viz.plot_topomaps(data, info, titles=["a", "b"])
    with pytest.raises(TypeError, match="mne.Info"):
        viz.plot_topomaps(data, {"ch_names": CH_NAMES})


def test_plot_de_topomaps_arrays(info):
    rng = np.random.default_rng(1)
    de = rng.normal(size=(12, 3, len(CH_NAMES), 5))
    y = np.repeat(["neg", "neu", "pos"], 4)
    fig = viz.plot_de_topomaps(de, info, y=y)
    maps = _topomap_axes(fig)
    assert len(maps) == 3 * 5 and len(fig.axes) == 16
    assert [ax.get_title() for ax in maps[:5]] == BANDS
    per_sample = de.mean(axis=1)
    contrast = np.stack([per_sample[y == k].mean(0) for k in ("neg", "neu", "pos")])
    contrast -= per_sample.mean(0)
    m = np.abs(contrast).max()
    np.testing.assert_allclose(maps[0].images[0].get_clim(), (-m, m))

    mean = viz.plot_de_topomaps(de.reshape(12, 3, -1), info, bands=BANDS)  # flat channel-major
    maps = _topomap_axes(mean)
    assert len(maps) == 5 and len(mean.axes) == 10  # one colour bar per band
    band_means = per_sample.mean(0)
    for b, ax in enumerate(maps):
        np.testing.assert_allclose(ax.images[0].get_clim(),
                                   (band_means[:, b].min(), band_means[:, b].max()))
    with pytest.raises(ValueError, match="info is required"):
        viz.plot_de_topomaps(de)
    with pytest.raises(ValueError, match="y has 3 entries"):
        viz.plot_de_topomaps(de, info, y=y[:3])
    bad = de.copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        viz.plot_de_topomaps(bad, info)


def test_plot_de_topomaps_epochs(info):
    rng = np.random.default_rng(2)
    data = rng.normal(scale=1e-5, size=(6, len(CH_NAMES), 256))
    events = np.c_[np.arange(6) * 300, np.zeros(6, int), np.tile([1, 2], 3)]
    epochs = mne.EpochsArray(data, info, events=events, event_id={"neg": 1, "pos": 2},
                             verbose=False)
    fig = viz.plot_de_topomaps(epochs)  # labels from the events
    assert len(_topomap_axes(fig)) == 2 * 5
    assert fig.axes[0].texts[0].get_text() == "neg"


# ----------------------------------------------------------------- attention
@pytest.mark.parametrize("fold", [True, False])
@pytest.mark.parametrize("temporal_sparse", [True, False])
def test_sts_attention_probabilities_reproduce_the_module(fold, temporal_sparse):
    torch.manual_seed(0)
    att = STSAttention(5, n_heads=2, head_dim=4, dropout=0.0, fold=fold,
                       temporal_sparse=temporal_sparse).eval()
    h = torch.randn(3, 4, 14 * 5)
    p = viz.sts_attention_probabilities(att, h)
    assert p.shape == (3, 4, 2, 14, 14)
    torch.testing.assert_close(p.sum(-1), torch.ones(3, 4, 2, 14))
    # the module's output rebuilt from these probabilities
    x = h.reshape(3, 4, 14, 5)
    xs = temporal_sparse_mean(x) if temporal_sparse else x
    v = att.v_proj(xs).view(3, 4, 14, 2, 4).transpose(2, 3)
    heads = (p @ v).transpose(2, 3).reshape(3, 4, 14, 8)
    expected = att.out_proj(heads).reshape(3, 4, -1)
    with torch.no_grad():
        torch.testing.assert_close(expected, att(h), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="shape"):
        viz.sts_attention_probabilities(att, torch.randn(3, 4, 13))
    with pytest.raises(TypeError, match="STSAttention"):
        viz.sts_attention_probabilities(torch.nn.Linear(5, 5), h)


@pytest.fixture(scope="module")
def supervised_eeg(latent_problem):
    xa, _, y, _ = latent_problem
    params = {**SMALL, "max_epochs": 1, "n_heads": 2, "n_layers": 2, "ffn_dim": 16}
    return M2SClassifier(**params).fit({"eeg": xa[::5]}, y[::5]), xa[::5]


def test_compute_sts_attention_matches_first_block(supervised_eeg, info):
    clf, xa = supervised_eeg
    att = viz.compute_sts_attention(clf, {"eeg": xa[:50]}, batch_size=16)
    assert att.shape == (2, 2, 14, 14)
    np.testing.assert_allclose(att.sum(-1), 1.0, rtol=1e-5)
    # layer 1 sees the standardised input itself
    scaler = clf.scalers_["eeg"]
    x = scaler.transform(xa[:50].reshape(-1, 70)).reshape(50, 5, 70).astype(np.float32)
    module = clf.encoders_["eeg"].encoder.blocks[0].attention
    p = viz.sts_attention_probabilities(module, torch.as_tensor(x)).mean(dim=(0, 1))
    np.testing.assert_allclose(att[0], p.numpy(), rtol=1e-4, atol=1e-6)

    fig = viz.plot_attention_topomap(att, info, heads="all")
    maps = _topomap_axes(fig)
    assert len(maps) == 2 * 2 and len(fig.axes) == 5
    received = att.mean(axis=-2) * 14
    np.testing.assert_allclose(maps[0].images[0].get_clim(), (received.min(), received.max()))
    one = viz.plot_attention_topomap(clf, info, X=xa[:20])  # computed from the model
    assert len(_topomap_axes(one)) == 2


def test_attention_bad_input(supervised_eeg, info, latent_problem):
    clf, xa = supervised_eeg
    with pytest.raises(ValueError, match="no encoder for modality 'eye'"):
        viz.compute_sts_attention(clf, xa, modality="eye")
    with pytest.raises(ValueError, match="X is required"):
        viz.plot_attention_topomap(clf, info)
    with pytest.raises(ValueError, match="sum to 1"):
        viz.plot_attention_topomap(np.ones((14, 14)), info)
    with pytest.raises(TypeError, match="M2SClassifier"):
        viz.compute_sts_attention(object(), xa)
    _, xb, y, _ = latent_problem
    mha = M2SClassifier(**{**SMALL, "max_epochs": 1, "attention": "mha", "ffn_dim": 16})
    mha.fit({"eeg": xa}, y[::5])
    with pytest.raises(ValueError, match="no STS attention"):
        viz.compute_sts_attention(mha, xa)


# -------------------------------------------------------------- shared space
class _Linear:
    """A stand-in estimator whose transform is a fixed linear map per modality."""

    def __init__(self, weights):
        self.weights = weights

    def transform(self, X):
        (m, a), = X.items()
        return a @ self.weights[m]


def test_plot_shared_space_pca(latent_problem):
    from sklearn.decomposition import PCA

    _, _, y, _ = latent_problem
    rng = np.random.default_rng(3)
    feats = {"eye": rng.normal(size=(len(y), 8)), "eeg": rng.normal(size=(len(y), 8)) + 1}
    fig = viz.plot_shared_space(None, feats, y)
    ax, = fig.axes
    assert len(ax.collections) == 2 * 3  # modality x class
    xy = PCA(n_components=2, random_state=0).fit_transform(np.r_[feats["eye"], feats["eeg"]])
    np.testing.assert_allclose(ax.collections[0].get_offsets(), xy[: len(y)][y == 0])
    np.testing.assert_allclose(ax.collections[3].get_offsets(), xy[len(y):][y == 0])

    y = y[::20]  # 30 samples, 10 of each class
    raw = {"eye": rng.normal(size=(len(y), 4)), "eeg": rng.normal(size=(len(y), 6))}
    models = {"before": _Linear({"eye": np.eye(4, 3), "eeg": np.eye(6, 3)}),
              "after": _Linear({"eye": np.ones((4, 3)), "eeg": np.ones((6, 3))})}
    two = viz.plot_shared_space(models, raw, y, method="tsne")
    assert [ax.get_title() for ax in two.axes] == ["before", "after"]
    assert all(len(ax.collections) == 6 for ax in two.axes)


def test_plot_shared_space_bad_input(latent_problem):
    _, _, y, _ = latent_problem
    f = np.zeros((len(y), 4))
    with pytest.raises(ValueError, match="method"):
        viz.plot_shared_space(None, {"eye": f}, y, method="umap")
    with pytest.raises(ValueError, match="has 3 samples"):
        viz.plot_shared_space(None, {"eye": f[:3]}, y)
    with pytest.raises(ValueError, match="different feature sizes"):
        viz.plot_shared_space(None, {"eye": f, "eeg": np.zeros((len(y), 5))}, y)
    with pytest.raises(TypeError, match="dict"):
        viz.plot_shared_space(None, f, y)


# ------------------------------------------------------------------ results
@pytest.fixture
def ablation_df():
    rows = []
    for n_windows in (2, 3, 5):
        for cpc_steps in (1, 2):
            for subject in (1, 2):
                rows.append({"n_windows": n_windows, "cpc_steps": cpc_steps,
                             "subject": subject, "task": "eye->eeg",
                             "balanced_accuracy": 0.1 * n_windows + 0.01 * cpc_steps
                             + 0.001 * subject})
    return pd.DataFrame(rows)


def test_plot_heatmap(ablation_df):
    fig = viz.plot_heatmap(ablation_df, "n_windows", "cpc_steps")
    ax, cbar = fig.axes  # the map and its colour bar
    expected = ablation_df.pivot_table(index="n_windows", columns="cpc_steps",
                                       values="balanced_accuracy").to_numpy()
    np.testing.assert_allclose(ax.images[0].get_array(), expected)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["2", "3", "5"]
    assert len(ax.texts) == 6 and ax.texts[0].get_text() == f"{expected[0, 0]:.2f}"
    assert cbar.get_ylabel() == "balanced accuracy"
    with pytest.raises(ValueError, match="'n_win' is not a column"):
        viz.plot_heatmap(ablation_df, "n_win", "cpc_steps")
    with pytest.raises(ValueError, match="empty"):
        viz.plot_heatmap(ablation_df.iloc[:0], "n_windows", "cpc_steps")


def test_plot_ablation(ablation_df):
    df = ablation_df.assign(variant=ablation_df["n_windows"].map({2: "a", 3: "b", 5: "c"}))
    fig = viz.plot_ablation(df, hue="task", chance=1 / 3)
    ax, = fig.axes
    bars = [c for c in ax.containers if isinstance(c, BarContainer)]
    assert len(bars) == 1  # one hue
    heights = [bar.get_height() for bar in bars[0]]
    np.testing.assert_allclose(heights, df.groupby("variant")["balanced_accuracy"].mean())
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    with pytest.raises(ValueError, match="'score' is not a column|score='acc'"):
        viz.plot_ablation(df, score="acc")


def test_plot_pretrain_history():
    history = [{"train_loss": 3.0 - e, "contrastive": 2.0 - e, "cpc": 1.0, "dur": 0.1}
               for e in range(3)]
    fig = viz.plot_pretrain_history(history)
    ax, = fig.axes
    assert [line.get_label() for line in ax.lines] == ["train_loss", "contrastive", "cpc"]
    np.testing.assert_allclose(ax.lines[1].get_ydata(), [2.0, 1.0, 0.0])
    with pytest.raises(ValueError, match="no \\['club'\\]"):
        viz.plot_pretrain_history(history, terms=["club"])
    with pytest.raises(ValueError, match="not pre-trained"):
        viz.plot_pretrain_history(M2SClassifier())


def test_plot_results_is_the_evaluation_figure():
    from mne_m2s.evaluation import plot_results

    assert viz.plot_results is plot_results
    assert set(viz.__all__) <= set(dir(viz)) | {"plot_results"}
