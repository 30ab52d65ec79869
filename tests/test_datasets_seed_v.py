"""SEED-V adapter on fixture files with the published layouts."""

import pickle

import numpy as np
import pytest

from dataset_fixtures import SEED_V_LABELS, py3_pickle, seed_v_windows, truncate, write_seed_v
from mne_m2s.datasets import SEEDV, DatasetLayoutError

NAMES = {0: "disgust", 1: "fear", 2: "sad", 3: "neutral", 4: "happy"}


@pytest.fixture(scope="module")
def seed_v_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("SEED-V")
    return root, write_seed_v(root, subjects=(1, 16))


def test_metadata():
    ds = SEEDV()
    assert ds.code == "SEED-V" and ds.levels == ("features",) and ds.window == 4.0
    assert ds.event_id == {"disgust": 0, "fear": 1, "sad": 2, "neutral": 3, "happy": 4}
    assert ds.subject_list == list(range(1, 17))
    with pytest.raises(ValueError, match="level"):
        SEEDV(level="raw")


def test_fixture_is_real_layout(seed_v_root):
    root, _ = seed_v_root
    with np.load(root / "EEG_DE_features" / "1_123.npz") as npz:  # no allow_pickle needed
        assert npz["data"].ndim == 0 and npz["data"].dtype.kind == "S"
        raw = npz["data"].item()
    assert b"numpy.core.multiarray" in raw  # written as NumPy 1.x did


def test_round_trip(seed_v_root):
    root, written = seed_v_root
    data = SEEDV(root).get_data([1, 16])
    for subject in (1, 16):
        assert list(data[subject]) == ["1", "2", "3"]
        for t in range(45):
            session, trial = t // 15 + 1, t % 15 + 1
            run = data[subject][str(session)][str(trial)]
            assert list(data[subject][str(session)])[trial - 1] == str(trial)
            assert run.label == NAMES[SEED_V_LABELS[session][trial - 1]]
            assert run.n_windows == seed_v_windows(t)
            np.testing.assert_array_equal(
                run.features["eeg"], written[subject]["eeg"][t].reshape(-1, 62, 5)
            )
            # channel-major: flat index c * 5 + b
            assert run.features["eeg"][0, 1, 2] == written[subject]["eeg"][t][0, 1 * 5 + 2]
            eye = written[subject]["eye"][t]
            if np.isfinite(eye).all():
                np.testing.assert_array_equal(run.features["eye"], eye)
            else:
                assert np.isfinite(run.features["eye"]).all()


@pytest.mark.parametrize("policy", ["interpolate", "zero", "raise"])
def test_eye_nan_policies(seed_v_root, policy):
    root, written = seed_v_root
    ds = SEEDV(root, eye_nan=policy)
    if policy == "raise":
        with pytest.raises(ValueError, match="non-finite"):
            ds.get_data([1])
        return
    runs = ds.get_data([1])[1]["1"]
    nan_trial = runs["2"].features["eye"]  # key 1: NaN at window 0, feature 2
    inf_trial = runs["4"].features["eye"]  # key 3: inf at the last window, feature 0
    src1, src3 = written[1]["eye"][1], written[1]["eye"][3]
    if policy == "zero":
        assert nan_trial[0, 2] == 0.0 and inf_trial[-1, 0] == 0.0
    else:
        assert nan_trial[0, 2] == src1[1, 2] and inf_trial[-1, 0] == src3[-2, 0]
    np.testing.assert_array_equal(nan_trial[1:], src1[1:])


def _copy(tmp_path):
    write_seed_v(tmp_path, subjects=(2,), nan=False)
    return (
        tmp_path / "EEG_DE_features" / "2_123.npz",
        tmp_path / "Eye_movement_features" / "2_123.npz",
    )


def _load(fname):
    with np.load(fname) as npz:
        return pickle.loads(npz["data"].item()), pickle.loads(npz["label"].item())


def test_length_mismatch(tmp_path):
    eeg_file, eye_file = _copy(tmp_path)
    data, label = _load(eye_file)
    data[7] = np.vstack([data[7], np.ones((3, 33))])
    np.savez(eye_file, data=py3_pickle(data), label=py3_pickle(label))
    run = SEEDV(tmp_path).get_data([2])[2]["1"]["8"]
    assert run.n_windows == seed_v_windows(7)
    with pytest.raises(DatasetLayoutError, match="different window counts"):
        SEEDV(tmp_path, length_mismatch="raise").get_data([2])


def test_errors(tmp_path):
    with pytest.raises(DatasetLayoutError, match="does not exist"):
        SEEDV(tmp_path / "none").get_data([1])
    eeg_file, eye_file = _copy(tmp_path)
    ds = SEEDV(tmp_path)
    with pytest.raises(DatasetLayoutError, match="3_123.npz"):
        ds.get_data([3])
    data, label = _load(eeg_file)
    # missing trial key
    short = {t: v for t, v in data.items() if t != 44}
    np.savez(eeg_file, data=py3_pickle(short), label=py3_pickle(label))
    with pytest.raises(DatasetLayoutError, match=r"missing \[44\]"):
        ds.get_data([2])
    # wrong labels
    bad = dict(label)
    bad[0] = np.zeros_like(label[0])
    np.savez(eeg_file, data=py3_pickle(data), label=py3_pickle(bad))
    with pytest.raises(DatasetLayoutError, match="session 1, trial 1"):
        ds.get_data([2])
    # wrong width
    wide = dict(data)
    wide[5] = np.zeros((2, 300))
    np.savez(eeg_file, data=py3_pickle(wide), label=py3_pickle(label))
    with pytest.raises(DatasetLayoutError, match=r"\(n, 310\)"):
        ds.get_data([2])
    # not a dict; not a byte string; a missing npz key
    np.savez(eeg_file, data=py3_pickle([1, 2]), label=py3_pickle(label))
    with pytest.raises(DatasetLayoutError, match="expected a dict"):
        ds.get_data([2])
    np.savez(eeg_file, data=np.arange(3.0), label=py3_pickle(label))
    with pytest.raises(DatasetLayoutError, match="0-d byte string"):
        ds.get_data([2])
    np.savez(eeg_file, data=py3_pickle(data))
    with pytest.raises(DatasetLayoutError, match="missing npz keys"):
        ds.get_data([2])
    np.savez(eeg_file, data=py3_pickle(data), label=py3_pickle(label))
    ds.get_data([2])
    truncate(eye_file)
    with pytest.raises(DatasetLayoutError, match="Eye_movement_features") as err:
        ds.get_data([2])
    assert "npz" in str(err.value)
    eye_file.unlink()
    with pytest.raises(DatasetLayoutError, match="missing eye-movement feature file"):
        ds.get_data([2])
    (tmp_path / "Eye_movement_features").rmdir()
    with pytest.raises(DatasetLayoutError, match="missing folder"):
        ds.get_data([2])
    assert not ds.check_files()[0]
