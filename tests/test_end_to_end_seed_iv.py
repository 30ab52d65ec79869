"""EmotionParadigm + M2SClassifier end to end on SEED-IV feature fixtures (paper protocol)."""

import numpy as np

from conftest import SMALL
from dataset_fixtures import write_seed_iv
from mne_m2s import M2SClassifier
from mne_m2s.datasets import SEEDIV
from mne_m2s.evaluation.splitters import get_protocol
from mne_m2s.paradigms import EmotionParadigm


def test_pretrain_fit_on_eye_test_on_eeg(tmp_path):
    write_seed_iv(tmp_path, subjects=(1,), levels=("features",))
    ds = SEEDIV(path=tmp_path, level="features")
    # the fixture trials are only 1-4 windows long: one window per sample
    X, y, meta = EmotionParadigm(n_windows=1, step=1).get_data(ds, subjects=[1])
    assert set(X) == {"eeg", "eye"}
    assert X["eeg"].shape[1:] == (1, 62, 5) and X["eye"].shape[1:] == (1, 31)
    session = (meta["session"] == "1").to_numpy()
    X = {m: a[session] for m, a in X.items()}
    y, meta = y[session], meta[session].reset_index(drop=True)

    (train, test), = get_protocol("SEED-IV").split(X["eye"], meta=meta)
    trial = meta["run"].astype(int).to_numpy()
    assert set(trial[train]) == set(range(1, 17)) and set(trial[test]) == set(range(17, 25))

    clf = M2SClassifier(**dict(SMALL, pretrain_max_epochs=3, max_epochs=5))
    clf.pretrain({m: a[train] for m, a in X.items()})  # unlabelled, trials 1-16 only
    clf.fit({"eye": X["eye"][train]}, y[train], groups=trial[train])
    pred = clf.predict({"eeg": X["eeg"][test]})  # cross-modal, trials 17-24
    assert pred.shape == (len(test),)
    assert set(pred) <= set(clf.classes_) == {"neutral", "sad", "fear", "happy"}
    # the scalers saw only the pre-training (training-trial) windows
    eeg_train = X["eeg"][train].reshape(-1, 310)
    np.testing.assert_allclose(clf.pretrained.scalers["eeg"].mean_, eeg_train.mean(0), rtol=1e-4,
                               atol=1e-5)
    assert 0.0 <= clf.score({"eeg": X["eeg"][test]}, y[test]) <= 1.0
