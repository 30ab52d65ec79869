"""
=================================================
Evaluation and ablations: tasks, losses, heat map
=================================================

:class:`~mne_m2s.evaluation.CrossModalEvaluation` runs the paper's protocol:
for every subject and session, split by clip, pre-train on the training
clips' unlabelled multimodal data, fine-tune on one modality, test on every
modality. Nothing is selected on the test clips (see :doc:`/evaluation`).

Then two ablations of the paper, in miniature: removing one loss term at a
time, and the heat map of window length :math:`T` (``n_windows``) against the
number of M2M CPC prediction steps :math:`N` (``cpc_steps``), drawn with
:func:`mne_m2s.viz.plot_ablation` and :func:`mne_m2s.viz.plot_heatmap`.

Simulated data and tiny models: the scores show the machinery, not how the
variants rank on SEED (one subject, one seed, a few epochs).
"""

# %%
# The evaluation
# --------------
import pandas as pd

from mne_m2s import M2SClassifier
from mne_m2s.datasets import SyntheticEmotion
from mne_m2s.evaluation import CrossModalEvaluation, summarize
from mne_m2s.paradigms import EmotionParadigm
from mne_m2s.viz import plot_ablation, plot_heatmap, plot_results

dataset = SyntheticEmotion(
    n_subjects=2, modalities=("eeg", "eye"), level="features", trial_duration=40.0,
    difficulty="easy", random_state=0,
)
small = dict(
    embedding_dim=16, n_layers=1, n_heads=2, head_dim=8, ffn_dim=32, proj_dim=16,
    pretrain_max_epochs=15, pretrain_batch_size=64, pretrain_lr=2e-3,
    max_epochs=40, batch_size=64, lr=1e-3, device="cpu", random_state=0,
)
evaluation = CrossModalEvaluation(
    paradigm=EmotionParadigm(n_windows=5, step=3), datasets=[dataset], random_state=0
)
results = evaluation.process(
    {"M2S": M2SClassifier(**small), "supervised": M2SClassifier(**small)},
    pretrain={"supervised": False},  # end-to-end on one modality: the unimodal baseline
)
print(results[["subject", "pipeline", "task", "balanced_accuracy", "kappa"]])

# %%
# Mean and standard deviation over subjects. The supervised baseline has no
# encoder for the other modality, so it only has single-modal tasks.
print(summarize(results)[["balanced_accuracy_mean", "balanced_accuracy_std"]].round(2))
fig_results = plot_results(results, chance=1 / 3, title="SyntheticEmotion, 2 subjects")

# %%
# Data for the ablations
# ----------------------
# One subject, SEED protocol (clips 1-9 train, 10-15 test), the cross-modal
# task eye -> EEG.
paradigm_data = {}


def get_split(n_windows):
    """Training and test samples of ``n_windows`` consecutive windows."""
    if n_windows not in paradigm_data:
        X, y, meta = EmotionParadigm(n_windows=n_windows, step=4).get_data(
            dataset, subjects=[1]
        )
        train = (meta["run"].astype(int) <= 9).to_numpy()
        paradigm_data[n_windows] = (X, y, train)
    return paradigm_data[n_windows]


def eye_to_eeg(n_windows=5, **params):
    """Pre-train on EEG + eye, fine-tune on eye, balanced accuracy on EEG."""
    from sklearn.metrics import balanced_accuracy_score

    X, y, train = get_split(n_windows)
    clf = M2SClassifier(**{**small, **params})
    clf.pretrain({m: a[train] for m, a in X.items()})
    clf.fit({"eye": X["eye"][train]}, y[train])
    return balanced_accuracy_score(y[~train], clf.predict({"eeg": X["eeg"][~train]}))


# %%
# Loss ablation
# -------------
# Drop one term of :math:`\mathcal{L} = \mathcal{L}_{contra} + \mathcal{L}_{CPC}
# + 0.1 \sum_m \mathcal{L}_{recon,m} + 0.3 \sum_m \mathcal{L}_{CLUB,m}` at a
# time. In the paper, dropping the contrastive term hurts cross-modal tasks
# most: without it nothing aligns the two modalities' spaces.
variants = {
    "full": {},
    "no contrastive": {"contrastive_weight": 0.0},
    "no CPC": {"cpc_weight": 0.0},
    "no recon": {"recon_weight": 0.0},
    "no CLUB": {"club_weight": 0.0},
}
loss_rows = [
    {"variant": name, "task": "eye->eeg", "balanced_accuracy": eye_to_eeg(**params)}
    for name, params in variants.items()
]
loss_ablation = pd.DataFrame(loss_rows)
print(loss_ablation)
fig_loss = plot_ablation(loss_ablation, chance=1 / 3, title="Loss ablation (eye -> EEG)")

# %%
# Heat map: window length x prediction steps
# ------------------------------------------
# M2M CPC predicts windows :math:`t + 1 .. t + N` from the context up to a
# cut :math:`t \in [1, T - N - 1]`, so a sample of :math:`T` windows allows at
# most :math:`N = T - 2` steps; the other cells stay empty. (The ablation
# runner of ``mne-m2s ablate --kind heatmap`` does the same over subjects,
# seeds and the paper's settings.)
heat_rows = []
for n_windows in (3, 4, 5):
    for cpc_steps in (1, 2, 3):
        if cpc_steps <= n_windows - 2:
            score = eye_to_eeg(n_windows=n_windows, cpc_steps=cpc_steps)
            heat_rows.append(
                {"n_windows": n_windows, "cpc_steps": cpc_steps, "balanced_accuracy": score}
            )
heatmap = pd.DataFrame(heat_rows)
fig_heatmap = plot_heatmap(
    heatmap, index="n_windows", columns="cpc_steps",
    title="eye -> EEG balanced accuracy (1 subject)",
)
