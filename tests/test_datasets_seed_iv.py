"""SEED-IV adapter on fixture files with the published layouts."""

import numpy as np
import pytest

from dataset_fixtures import (
    SEED_IV_LABELS,
    SEED_IV_SUBJECTS,
    add_mat_variables,
    drop_mat_variables,
    seed_iv_windows,
    truncate,
    write_seed_iv,
)
from mne_m2s.datasets import SEEDIV, DatasetLayoutError, get_dataset
from mne_m2s.datasets._io import SEED_CHANNELS

NAMES = {0: "neutral", 1: "sad", 2: "fear", 3: "happy"}


@pytest.fixture(scope="module")
def seed_iv_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("SEED_IV")
    return root, write_seed_iv(root, subjects=(1, 10))


def test_metadata():
    ds = SEEDIV()
    assert ds.code == "SEED-IV" and ds.level == "features" and ds.window == 4.0
    assert ds.event_id == {"neutral": 0, "sad": 1, "fear": 2, "happy": 3}
    assert ds.subject_list == list(range(1, 16)) and ds.n_sessions == 3
    assert ds.modalities == {"eeg": 0.25, "eye": 0.25}
    assert SEEDIV(level="raw").modalities == {"eeg": 200.0}
    assert isinstance(get_dataset("seed_iv"), SEEDIV)
    with pytest.raises(ValueError, match="eeg_feature"):
        SEEDIV(eeg_feature="de")


@pytest.mark.parametrize("family", ["de_LDS", "de_movingAve"])
def test_features_round_trip(seed_iv_root, family):
    root, written = seed_iv_root
    data = SEEDIV(root, eeg_feature=family).get_data([1, 10])
    assert list(data) == [1, 10]
    for subject in (1, 10):
        assert list(data[subject]) == ["1", "2", "3"]
        for session in (1, 2, 3):
            runs = data[subject][str(session)]
            assert list(runs) == [str(k) for k in range(1, 25)]
            src = written[subject, session]
            date = SEED_IV_SUBJECTS[subject][1][session - 1]
            for k, run in runs.items():
                i = int(k) - 1
                assert run.label == NAMES[SEED_IV_LABELS[session][i]]
                assert run.window == 4.0
                assert run.n_windows == seed_iv_windows(session, int(k))
                np.testing.assert_array_equal(
                    run.features["eeg"], src[family][i].transpose(1, 0, 2)
                )
                eye = src["eye"][i].T
                if np.isfinite(eye).all():
                    np.testing.assert_array_equal(run.features["eye"], eye)
                assert run.features["eye"].shape[1] == 31
                assert run.description == {"file": f"{subject}_{date}.mat"}
                assert len(run.feature_names["eeg"]) == 310


def test_eye_nan_interpolated(seed_iv_root):
    root, written = seed_iv_root
    run = SEEDIV(root).get_data([1])[1]["1"]["2"]
    src = written[1, 1]["eye"][1].T  # (n, 31); NaN at window 0, feature 4
    assert np.isnan(src[0, 4]) and np.isfinite(run.features["eye"]).all()
    assert run.features["eye"][0, 4] == src[1, 4]  # nearest finite value at the edge
    with pytest.raises(ValueError, match="eye_nan"):
        SEEDIV(root, eye_nan="raise").get_data([1])


def test_raw_round_trip(seed_iv_root):
    root, written = seed_iv_root
    data = SEEDIV(root, level="raw").get_data([10])
    for session in (1, 2, 3):
        runs = data[10][str(session)]
        assert list(runs) == [str(k) for k in range(1, 25)]
        for k, raw in runs.items():
            np.testing.assert_array_equal(
                raw.get_data(), written[10, session]["raw"][int(k) - 1] * 1e-6
            )
            assert raw.ch_names == SEED_CHANNELS and raw.info["sfreq"] == 200.0
            assert len(raw.annotations) == 1
            assert raw.annotations[0]["description"] == NAMES[SEED_IV_LABELS[session][int(k) - 1]]


def _copy(tmp_path, levels=("features",)):
    write_seed_iv(tmp_path, subjects=(1,), levels=levels, nan=False)
    return tmp_path


def test_length_mismatch(tmp_path):
    root = _copy(tmp_path)
    fname = root / "eye_feature_smooth" / "2" / "1_20161125.mat"
    n = seed_iv_windows(2, 5)
    add_mat_variables(fname, eye_5=np.ones((31, n + 2)))
    run = SEEDIV(root).get_data([1])[1]["2"]["5"]
    assert run.n_windows == n
    np.testing.assert_array_equal(run.features["eye"], np.ones((n, 31)))
    with pytest.raises(DatasetLayoutError, match="different window counts"):
        SEEDIV(root, length_mismatch="raise").get_data([1])


def test_missing_root_and_trees(tmp_path):
    with pytest.raises(DatasetLayoutError, match="does not exist") as err:
        SEEDIV(tmp_path / "none").get_data([1])
    assert "eeg_feature_smooth" in str(err.value)
    root = _copy(tmp_path)
    with pytest.raises(DatasetLayoutError, match="eeg_raw_data"):
        SEEDIV(root, level="raw").get_data([1])
    assert not SEEDIV(root, level="raw").check_files()[0]


def test_nested_release_folder(tmp_path):
    write_seed_iv(tmp_path / "SEED_IV", subjects=(1,), levels=("features",), nan=False)
    assert SEEDIV(tmp_path).check_files() == (True, str(tmp_path))
    assert len(SEEDIV(tmp_path).get_data([1])[1]["3"]) == 24


def test_missing_session_folder_and_files(tmp_path):
    root = _copy(tmp_path)
    (root / "eye_feature_smooth" / "3" / "1_20161126.mat").unlink()
    with pytest.raises(DatasetLayoutError, match="missing eye_feature_smooth file"):
        SEEDIV(root).get_data([1])
    with pytest.raises(DatasetLayoutError, match="found none"):
        SEEDIV(root).get_data([2])
    (root / "eye_feature_smooth" / "3").rmdir()
    with pytest.raises(DatasetLayoutError, match="missing session folder"):
        SEEDIV(root).get_data([1])


def test_two_files_for_one_subject(tmp_path):
    root = _copy(tmp_path)
    src = root / "eeg_feature_smooth" / "1" / "1_20160518.mat"
    (src.parent / "1_20160519.mat").write_bytes(src.read_bytes())
    with pytest.raises(DatasetLayoutError, match="exactly one file"):
        SEEDIV(root).get_data([1])


@pytest.mark.parametrize(
    "tree, damage, match",
    [
        ("eeg", lambda f: drop_mat_variables(f, "psd_LDS7"), r"missing variables \['psd_LDS7'\]"),
        ("eeg", lambda f: add_mat_variables(f, dasm_LDS1=np.zeros((27, 2, 5))), "unexpected"),
        ("eeg", lambda f: add_mat_variables(f, de_LDS3=np.zeros((62, 2, 4))), r"\(62, n, 5\)"),
        ("eye", lambda f: add_mat_variables(f, eye_3=np.zeros((30, 2))), r"\(31, n\)"),
        ("eye", lambda f: drop_mat_variables(f, "eye_24"), "eye_24"),
        ("eye", truncate, "truncated"),
        (
            "eeg",
            lambda f: f.write_bytes(b"MATLAB 7.3 MAT-file" + b"\0" * 200),
            "could not be read",
        ),
    ],
)
def test_damaged_files(tmp_path, tree, damage, match):
    root = _copy(tmp_path)
    folder = "eeg_feature_smooth" if tree == "eeg" else "eye_feature_smooth"
    fname = root / folder / "2" / "1_20161125.mat"
    damage(fname)
    with pytest.raises(DatasetLayoutError, match=match) as err:
        SEEDIV(root).get_data([1])
    assert str(fname) in str(err.value)


def test_raw_damaged(tmp_path):
    root = _copy(tmp_path, levels=("raw",))
    fname = root / "eeg_raw_data" / "1" / "1_20160518.mat"
    drop_mat_variables(fname, "cz_eeg24")
    with pytest.raises(DatasetLayoutError, match="cz_eeg24"):
        SEEDIV(root, level="raw").get_data([1])


# ------------------------------------------------------- raw level + eye features
@pytest.fixture(scope="module")
def raw_eye_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("SEED_IV_raw_eye")
    return root, write_seed_iv(root, subjects=(1,), levels=("raw",), raw_eye=True)


def test_raw_eye_features_are_step_channels(raw_eye_root):
    from mne_m2s.features import EyeFeatureChannels
    from mne_m2s.modalities import channel_kinds, channel_modalities

    root, written = raw_eye_root
    ds = SEEDIV(root, level="raw", eye="features")
    assert ds.modalities == {"eeg": 200.0, "eye": 200.0}
    runs = ds.get_data([1])[1]
    n_samp = 800
    for session in (1, 2, 3):
        src = written[1, session]
        for k in (1, 2, 3):
            raw = runs[str(session)][str(k)]
            eye = src["eye"][k - 1]  # (31, n_k)
            n_win = eye.shape[1]
            assert raw.ch_names[62:] == [f"eye_feat_{i}" for i in range(31)]
            assert raw.get_channel_types()[62:] == ["misc"] * 31
            assert raw.n_times == n_win * n_samp  # cropped to the windows' span
            # EEG unchanged (volts), only the tail past the last whole window is dropped
            np.testing.assert_allclose(
                raw.get_data(picks="eeg"), src["raw"][k - 1][:, : n_win * n_samp] * 1e-6
            )
            steps = raw.get_data(picks=list(range(62, 93)))
            clean = eye.copy()
            if k == 2:  # the fixture's NaN (eye[4, 0]) is interpolated (eye_nan default)
                clean[4, 0] = eye[4, 1]
            np.testing.assert_array_equal(steps, np.repeat(clean, n_samp, axis=1))
            annot = raw.annotations
            assert annot.duration[0] == pytest.approx(n_win * 4.0)
    assert set(channel_kinds(raw)[62:]) == {"eye_feature"}
    assert {m: len(p) for m, p in channel_modalities(raw.info).items()} == {"eeg": 62, "eye": 31}
    # a 4-s window reproduces exactly the stored vectors (as do 1-s windows)
    import mne

    raw = runs["1"]["1"]
    stored = written[1, 1]["eye"][0].T  # (2, 31)
    epochs = mne.make_fixed_length_epochs(raw, duration=raw.times[-1] + 1 / 200, preload=True,
                                          verbose=False)
    feats = EyeFeatureChannels(window=4.0).fit_transform(epochs)
    assert feats.shape == (1, 2, 31)
    np.testing.assert_array_equal(feats[0], stored)
    feats1 = EyeFeatureChannels(window=1.0).fit_transform(epochs)
    np.testing.assert_array_equal(feats1[0], np.repeat(stored, 4, axis=0))


def test_raw_eye_windows_must_tile_the_trial(tmp_path):
    from dataset_fixtures import add_mat_variables

    write_seed_iv(tmp_path, subjects=(1,), levels=("raw",), raw_eye=True)
    fname = tmp_path / "eye_feature_smooth" / "2" / "1_20161125.mat"
    add_mat_variables(fname, eye_3=np.zeros((31, 2)))  # trial 3 is 1 window (807 samples)
    with pytest.raises(DatasetLayoutError, match=r"1_20161125\.mat.*'eye_3' has 2 windows"):
        SEEDIV(tmp_path, level="raw", eye="features").get_data([1])
    add_mat_variables(fname, eye_3=np.zeros((30, 1)))
    with pytest.raises(DatasetLayoutError, match="eye_3"):
        SEEDIV(tmp_path, level="raw", eye="features").get_data([1])
    # without the option the EEG alone loads as before
    raw = SEEDIV(tmp_path, level="raw").get_data([1])[1]["2"]["3"]
    assert raw.ch_names == list(SEED_CHANNELS) and raw.n_times == 800 + 21


def test_raw_eye_option_errors(tmp_path):
    with pytest.raises(ValueError, match="level='raw'"):
        SEEDIV(tmp_path, eye="features")
    with pytest.raises(ValueError, match="eye"):
        SEEDIV(tmp_path, level="raw", eye="signals")
    write_seed_iv(tmp_path, subjects=(1,), levels=("raw",))  # no eye_feature_smooth tree
    with pytest.raises(DatasetLayoutError, match="eye_feature_smooth"):
        SEEDIV(tmp_path, level="raw", eye="features").get_data([1])


def test_raw_eye_hint_and_cache(raw_eye_root, tmp_path):
    from mne_m2s.paradigms import EmotionWindowsParadigm

    root, _ = raw_eye_root
    with pytest.raises(ValueError, match=r"no modality 'eye'.*eye='features'"):
        EmotionWindowsParadigm(modalities="eye").get_data(SEEDIV(root, level="raw"), [1])
    kwargs = dict(level="raw", eye="features", cache=True, cache_dir=tmp_path / "cache")
    first = SEEDIV(root, **kwargs).get_data([1])[1]["2"]["2"]
    again = SEEDIV(root, **kwargs).get_data([1])[1]["2"]["2"]  # from the cache
    assert again.ch_names == first.ch_names and again.get_channel_types() == \
        first.get_channel_types()
    np.testing.assert_array_equal(again.get_data(), first.get_data())
    plain = SEEDIV(root, level="raw", cache=True, cache_dir=tmp_path / "cache")
    assert plain.get_data([1])[1]["2"]["2"].ch_names == list(SEED_CHANNELS)  # own cache key
    assert len(list((tmp_path / "cache").rglob("*.npz"))) == 2
