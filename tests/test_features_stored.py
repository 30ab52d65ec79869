"""EyeFeatureChannels: stored eye features carried by channels, read back per window."""

import mne
import numpy as np
import pytest

from mne_m2s.features import EyeFeatureChannels
from mne_m2s.inputs import default_extractor, epochs_to_feature_dict
from mne_m2s.modalities import DEFAULT_MODALITY_MAP, channel_kinds, channel_modalities

SFREQ = 128.0


def _epochs(values, n_eeg=2, extra_misc=True, seed=0):
    """Epochs of step channels: values (n_epochs, n_feature_windows, n_features), 4-s steps."""
    rng = np.random.default_rng(seed)
    n_ep, n_win, n_feat = values.shape
    steps = np.repeat(values.transpose(0, 2, 1), int(4 * SFREQ), axis=2)
    eeg = rng.standard_normal((n_ep, n_eeg, steps.shape[2])) * 1e-5
    parts = [eeg, steps]
    names = [f"E{i}" for i in range(n_eeg)] + [f"eye_feat_{i}" for i in range(n_feat)]
    types = ["eeg"] * n_eeg + ["misc"] * n_feat
    if extra_misc:
        parts.append(rng.standard_normal((n_ep, 1, steps.shape[2])))
        names.append("photodiode")
        types.append("misc")
    info = mne.create_info(names, SFREQ, types)
    return mne.EpochsArray(np.concatenate(parts, axis=1), info, verbose=False)


def test_kinds_and_modalities():
    epochs = _epochs(np.zeros((1, 2, 3)))
    kinds = channel_kinds(epochs)
    assert kinds == ["eeg", "eeg", "eye_feature", "eye_feature", "eye_feature", "misc"]
    picks = channel_modalities(epochs.info)
    assert picks == {"eeg": [0, 1], "eye": [2, 3, 4]}  # a plain misc channel is no modality
    assert DEFAULT_MODALITY_MAP["eye"] == ("eyegaze", "pupil", "eye_feature")
    assert isinstance(default_extractor(["eye_feature"]), EyeFeatureChannels)
    with pytest.raises(ValueError, match="mixes stored eye features"):
        default_extractor(["eye_feature", "pupil"])


def test_window_values_are_the_stored_vectors():
    values = np.random.default_rng(1).standard_normal((3, 2, 4))
    epochs = _epochs(values)
    for window, repeat in ((4.0, 1), (2.0, 2), (1.0, 4)):
        est = EyeFeatureChannels(window=window)
        out = est.fit_transform(epochs)
        np.testing.assert_array_equal(out, np.repeat(values, repeat, axis=1))
        assert list(est.get_feature_names_out()) == ["0", "1", "2", "3"]
        np.testing.assert_array_equal(est.transform(epochs), out)
    feats, fitted = epochs_to_feature_dict(epochs, window=2.0)
    assert isinstance(fitted["eye"], EyeFeatureChannels)
    np.testing.assert_array_equal(feats["eye"], np.repeat(values, 2, axis=1))


def test_straddling_windows():
    values = np.array([[[0.0, 1.0], [4.0, 5.0]]])  # one epoch, 2 feature windows, 2 features
    epochs = _epochs(values)
    with pytest.raises(ValueError, match="not constant over window 1 .* straddle='mean'"):
        EyeFeatureChannels(window=3.0).fit_transform(epochs)
    out = EyeFeatureChannels(window=8.0, straddle="mean").fit_transform(epochs)
    np.testing.assert_allclose(out, [[[2.0, 3.0]]])
    with pytest.raises(ValueError, match="straddle"):
        EyeFeatureChannels(straddle="first").fit(epochs)


def test_non_finite_and_missing_channels():
    values = np.zeros((1, 1, 2))
    epochs = _epochs(values)
    epochs._data[0, 2, 5] = np.nan
    with pytest.raises(ValueError, match="eye_feat_0"):
        EyeFeatureChannels().fit_transform(epochs)
    plain = _epochs(values).drop_channels(["eye_feat_0", "eye_feat_1"])
    with pytest.raises(ValueError, match="found no channels"):
        EyeFeatureChannels().fit(plain)
