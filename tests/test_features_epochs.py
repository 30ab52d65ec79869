"""Tests of epochs_to_feature_dict and labels_from_epochs."""

import mne
import numpy as np
import pytest

from mne_m2s.features import (
    DifferentialEntropy,
    EyeMovementFeatures,
    PeripheralFeatures,
)
from mne_m2s.inputs import epochs_to_feature_dict, labels_from_epochs

SFREQ = 200.0


def _multimodal_epochs(rng, n_epochs=4, n_times=1600, with_eye=True):
    """8-s epochs with 3 EEG, eye (gaze x/y + pupil) and ECG + GSR channels."""
    names = ["Fz", "Cz", "Pz"]
    types = ["eeg"] * 3
    data = [rng.standard_normal((n_epochs, 3, n_times)) * 1e-5]
    if with_eye:
        names += ["xpos_left", "ypos_left", "pupil_left"]
        types += ["eyegaze", "eyegaze", "pupil"]
        data.append(np.concatenate([
            500 + rng.standard_normal((n_epochs, 2, n_times)),
            3 + 0.01 * rng.standard_normal((n_epochs, 1, n_times)),
        ], axis=1))
    names += ["ECG", "GSR"]
    types += ["ecg", "gsr"]
    t = np.arange(n_times) / SFREQ
    ecg = sum(1e-3 * np.exp(-0.5 * ((t - b) / 0.012) ** 2) for b in np.arange(0.3, 8, 0.8))
    data.append(np.stack([np.tile(ecg, (n_epochs, 1)), np.full((n_epochs, n_times), 5e-6)],
                         axis=1))
    info = mne.create_info(names, SFREQ, types)
    events = np.column_stack([np.arange(n_epochs) * n_times, np.zeros(n_epochs, int),
                              np.array([1, 2, 1, 2] * n_epochs)[:n_epochs]])
    return mne.EpochsArray(np.concatenate(data, axis=1), info, events=events,
                           event_id={"negative": 1, "positive": 2}, verbose=False)


@pytest.fixture(scope="module")
def epochs():
    return _multimodal_epochs(np.random.default_rng(0))


def test_default_extractors_and_shapes(epochs):
    feats, fitted = epochs_to_feature_dict(epochs, window=4.0)
    assert set(feats) == {"eeg", "eye", "pps"}
    assert feats["eeg"].shape == (4, 2, 3, 5)  # electrode modality: channels x bands
    assert feats["eye"].shape == (4, 2, 33)
    assert feats["pps"].shape == (4, 2, 3 + 3)  # ECG: hr, sdnn, rmssd; GSR: 3
    assert isinstance(fitted["eeg"], DifferentialEntropy)
    assert isinstance(fitted["eye"], EyeMovementFeatures)
    assert isinstance(fitted["pps"], PeripheralFeatures)
    assert fitted["eeg"].ch_names_ == ["Fz", "Cz", "Pz"]
    assert fitted["pps"].ch_names_ == ["ECG", "GSR"]
    np.testing.assert_allclose(feats["pps"][..., 0], 75.0, atol=2.0)
    # the 4-D EEG array is the reshaped channel-major 3-D one
    flat, _ = epochs_to_feature_dict(epochs, window=4.0, reshape_electrodes=False)
    np.testing.assert_array_equal(flat["eeg"], feats["eeg"].reshape(4, 2, 15))
    # without window, each extractor keeps its own default
    own, _ = epochs_to_feature_dict(epochs)
    assert own["eeg"].shape[1] == 8 and own["eye"].shape[1] == 2 and own["pps"].shape[1] == 8


def test_fitted_extractors_transform_only(epochs):
    feats, fitted = epochs_to_feature_dict(epochs, window=2.0)
    test = _multimodal_epochs(np.random.default_rng(1), n_epochs=2)
    again, same = epochs_to_feature_dict(test, extractors=fitted, fit=False)
    assert all(same[m] is fitted[m] for m in fitted)
    np.testing.assert_allclose(again["eeg"], fitted["eeg"].transform(test).reshape(2, 4, 3, 5))
    assert again["eye"].shape == (2, 4, 33)
    # user extractors are cloned when fitting, never modified
    user = DifferentialEntropy(bands={"alpha": (8.0, 14.0)})
    out, fit2 = epochs_to_feature_dict(epochs, extractors={"eeg": user}, window=2.0)
    assert out["eeg"].shape == (4, 4, 3, 1)
    assert fit2["eeg"] is not user and not hasattr(user, "n_windows_")
    with pytest.raises(ValueError, match="not fitted"):
        epochs_to_feature_dict(epochs, extractors={"eeg": user, "eye": fitted["eye"],
                                                   "pps": fitted["pps"]}, fit=False)
    with pytest.raises(ValueError, match="has none for 'eye'"):
        epochs_to_feature_dict(epochs, extractors={"eeg": fitted["eeg"]}, fit=False)
    with pytest.raises(ValueError, match="window can only be set when fitting"):
        epochs_to_feature_dict(epochs, extractors=fitted, fit=False, window=1.0)


def test_absent_modality_and_custom_map():
    ep = _multimodal_epochs(np.random.default_rng(2), with_eye=False)
    feats, _ = epochs_to_feature_dict(ep, window=4.0)
    assert set(feats) == {"eeg", "pps"}
    feats, fitted = epochs_to_feature_dict(ep, modality_map={"eeg": "eeg", "heart": ["ecg"]},
                                           window=4.0)
    assert set(feats) == {"eeg", "heart"}
    assert fitted["heart"].ch_names_ == ["ECG"] and feats["heart"].shape == (4, 2, 3)


def test_errors(epochs):
    misc = mne.EpochsArray(np.zeros((2, 2, 400)),
                           mne.create_info(["a", "b"], SFREQ, ["misc", "stim"]), verbose=False)
    with pytest.raises(ValueError, match=r"No modality recognised.*misc \(1\), stim \(1\).*"
                                         r"eeg: eeg; eye: eyegaze, pupil, eye_feature; pps: ecg"):
        epochs_to_feature_dict(misc)
    with pytest.raises(TypeError, match="epochs must be an instance of mne.BaseEpochs"):
        epochs_to_feature_dict({"eeg": np.zeros((2, 2, 2))})
    with pytest.raises(ValueError, match="not in the modality map"):
        epochs_to_feature_dict(epochs, extractors={"fnirs": DifferentialEntropy()})
    with pytest.raises(TypeError, match="modality_map"):
        epochs_to_feature_dict(epochs, modality_map=["eeg"])


def test_labels_from_epochs(epochs):
    labels = labels_from_epochs(epochs)
    np.testing.assert_array_equal(labels, ["negative", "positive", "negative", "positive"])
    with pytest.raises(TypeError, match="mne.BaseEpochs"):
        labels_from_epochs(np.zeros(3))
