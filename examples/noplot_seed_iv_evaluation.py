"""
===========================================================
SEED-IV: the paper's cross-modal evaluation (licensed data)
===========================================================

Runs the M2S paper's protocol on SEED-IV [Zheng2019]_ with the reference
settings: the published DE (``de_LDS``, 62 electrodes x 5 bands per 4-s window)
and 31 eye-movement features, samples of 5 windows, trials 1-16 of every
session for training and 17-24 for testing, pre-training on the training
trials' unlabelled EEG + eye data, and the four tasks ``eeg->eeg``,
``eye->eye``, ``eeg->eye``, ``eye->eeg``.

SEED-IV is licensed and never downloaded: request it from its authors and
point the adapter at your copy (``path=``, or the ``MNE_DATASETS_SEED_IV_PATH``
environment variable or MNE configuration key; see :doc:`/datasets`). This
example is therefore not run when the documentation is built. With the
paper's settings (200 pre-training epochs, embedding 128) it wants a GPU:
about a minute per subject-session there, much longer on a CPU.
"""

# %%
from mne_m2s import M2SClassifier
from mne_m2s.datasets import SEEDIV
from mne_m2s.evaluation import CrossModalEvaluation, summarize
from mne_m2s.paradigms import EmotionParadigm
from mne_m2s.viz import plot_results

dataset = SEEDIV(level="features")  # or SEEDIV(path="~/data/SEED_IV", level="features")
print(dataset)

# %%
# The paper's defaults, except the pre-training batch, which SEED-IV's paper
# runs at 256.
pipelines = {
    "M2S": M2SClassifier(pretrain_batch_size=256, device="auto", random_state=0),
    "supervised": M2SClassifier(device="auto", random_state=0),
}
evaluation = CrossModalEvaluation(
    paradigm=EmotionParadigm(n_windows=5, step=1), datasets=[dataset], random_state=0
)
results = evaluation.process(pipelines, pretrain={"supervised": False})
results.to_csv("seed_iv_results.csv", index=False)
print(summarize(results))

# %%
fig = plot_results(results, chance=0.25, title="SEED-IV, within session")
fig.savefig("seed_iv_results.png", dpi=150)
