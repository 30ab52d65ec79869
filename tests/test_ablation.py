"""Tests of the ablations: every kind gives its tidy table and figure."""

import numpy as np
import pytest

from mne_m2s.datasets import SyntheticEmotion
from mne_m2s.evaluation.ablation import (
    ablation_variants,
    heatmap_cells,
    run_ablation,
    summarize_ablation,
)
from mne_m2s.paradigms import EmotionParadigm

TINY = dict(embedding_dim=8, n_layers=1, n_heads=1, head_dim=4, ffn_dim=16, proj_dim=8,
            pretrain_max_epochs=2, pretrain_batch_size=64, pretrain_lr=3e-3, max_epochs=3,
            batch_size=32, lr=3e-3, device="cpu")


@pytest.fixture(scope="module")
def ds():
    return SyntheticEmotion(n_subjects=2, level="features", modalities=("eeg", "eye"),
                            trial_duration=12.0, random_state=0)


def _run(kind, ds, **kwargs):
    return run_ablation(kind, ds, settings=TINY, paradigm=EmotionParadigm(n_windows=5, step=3),
                        **kwargs)


def test_variants():
    loss = dict(ablation_variants("loss"))
    assert loss["w/o contrastive"] == {"contrastive_weight": 0.0}
    assert list(loss) == ["M2S (full loss)", "w/o contrastive", "w/o M2M CPC",
                          "w/o reconstruction", "w/o CLUB"]
    assert [p["attention"] for _, p in ablation_variants("attention")] == ["sts", "mha", "none"]
    cpc = dict(ablation_variants("cpc"))
    assert cpc["clip"]["cpc_weight"] == 0.0 and cpc["clip + M2M CPC"]["cpc_weight"] == 1.0
    assert heatmap_cells((3, 5), (1, 2, 3)) == [(3, 1), (5, 1), (5, 2), (5, 3)]


@pytest.mark.parametrize("kind, variants, tasks", [
    ("loss", 5, 4), ("attention", 3, 1), ("cpc", 2, 4),
])
def test_bar_ablations(ds, kind, variants, tasks, tmp_path):
    table, fig = _run(kind, ds, out=tmp_path)
    assert table["variant"].nunique() == variants and table["task"].nunique() == tasks
    assert len(table) == variants * tasks * 2  # x 2 subjects: tidy, one row per observation
    assert (table["ablation"] == kind).all()
    assert len(fig.axes[0].patches) == variants * tasks
    assert (tmp_path / f"ablation_{kind}.png").read_bytes()[:4] == b"\x89PNG"
    assert f"# Ablation: {kind}" in (tmp_path / "report.md").read_text()


def test_attention_variants_differ(ds):
    table, _ = _run("attention", ds)
    summary = summarize_ablation(table).set_index("variant")
    assert list(summary.index) == ["STS", "MHA", "none"] and (summary["n_subjects"] == 2).all()
    # the encoders differ, so their EEG embeddings (hence scores) are not all identical
    assert table.groupby("variant")["kappa"].apply(tuple).nunique() > 1


def test_heatmap(ds, tmp_path):
    table, fig = _run("heatmap", ds, values={"n_windows": (3, 4), "cpc_steps": (1, 2)},
                      tasks=["eye->eeg"], out=tmp_path)
    cells = sorted(set(zip(table["n_windows"], table["cpc_steps"], strict=True)))
    assert cells == [(3, 1), (4, 1), (4, 2)]
    assert (table.groupby(["n_windows", "cpc_steps"]).size() == 2).all()
    image = fig.axes[0].images[0].get_array()
    assert image.shape == (2, 2) and np.ma.is_masked(image[1, 0]) or np.isnan(image[1, 0])
    assert "T=3" in (tmp_path / "report.md").read_text()


def test_ablation_errors(ds):
    with pytest.raises(ValueError, match="Unknown ablation kind 'los'.*Did you mean 'loss'"):
        run_ablation("los", ds)
    with pytest.raises(ValueError, match="No valid heat-map cell"):
        run_ablation("heatmap", ds, values={"n_windows": (2,), "cpc_steps": (1,)})
    with pytest.raises(ValueError, match="values is for the heat map only"):
        run_ablation("loss", ds, values={"n_windows": (3,)})
    with pytest.raises(ValueError, match="honest protocols only"):
        run_ablation("loss", ds, protocol="reference")
