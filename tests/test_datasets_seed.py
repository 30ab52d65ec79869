"""SEED adapter on fixture files with the published layouts."""

import pickle

import mne
import numpy as np
import pytest
import scipy.io as sio

from dataset_fixtures import (
    SEED_LABEL,
    SEED_SUBJECTS,
    Evil,
    add_mat_variables,
    drop_mat_variables,
    py3_pickle,
    seed_window_counts,
    truncate,
    write_seed_multimodal,
    write_seed_raw,
)
from mne_m2s.datasets import SEED, DatasetLayoutError, FeatureRun, SyntheticEmotion
from mne_m2s.datasets._io import SEED_CHANNELS

NAMES = {-1: "negative", 0: "neutral", 1: "positive"}


@pytest.fixture(scope="module")
def seed_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("SEED")
    written = write_seed_raw(root, subjects=(1, 7, 10))
    features = write_seed_multimodal(root, subjects=(1,), windows=(4, 1))
    return root, written, features


@pytest.fixture(scope="module")
def seed_raw(seed_root):
    root, _, _ = seed_root
    return SEED(root).get_data([1, 7, 10])


def test_metadata():
    ds = SEED()
    assert ds.code == "SEED"
    assert ds.event_id == {"negative": -1, "neutral": 0, "positive": 1}
    assert ds.subject_list == list(range(1, 16))
    assert ds.modalities == {"eeg": 200.0}
    assert ds.level == "raw" and ds.window is None
    feat = SEED(level="features")
    assert feat.subject_list == [1, 2, 3, 4, 5, 8, 9, 10, 11, 12, 13, 14]
    assert feat.modalities == {"eeg": 0.25, "eye": 0.25} and feat.window == 4.0
    one = SEED(level="features", feature_window=1)
    assert one.modalities == {"eeg": 1.0} and one.window == 1.0
    assert "doi" in vars(ds) and ds.doi.startswith("10.")
    assert ds.env_var == "MNE_DATASETS_SEED_PATH"


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"level": "feature"}, "Did you mean 'features'"),
        ({"feature_window": 2}, "feature_window"),
        ({"eye_nan": "drop"}, "eye_nan"),
        ({"clip_windows": [1, 2]}, "15 window counts"),
    ],
)
def test_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SEED(**kwargs)


def test_raw_structure_and_values(seed_root, seed_raw):
    _, written, _ = seed_root
    assert list(seed_raw) == [1, 7, 10]
    labels = SEED_LABEL.ravel()
    for subject in (1, 7, 10):
        sessions = seed_raw[subject]
        assert list(sessions) == ["1", "2", "3"]
        for session in ("1", "2", "3"):
            runs = sessions[session]
            assert list(runs) == [str(k) for k in range(1, 16)]
            date = SEED_SUBJECTS[subject][1][int(session) - 1]
            for k, raw in runs.items():
                src = written[subject][int(session)][int(k) - 1]
                # microvolts in the files, volts in MNE; values otherwise untouched
                np.testing.assert_array_equal(raw.get_data(), src * 1e-6)
                assert raw.info["sfreq"] == 200.0
                assert raw.ch_names == SEED_CHANNELS
                assert set(raw.get_channel_types()) == {"eeg"}
                assert len(raw.annotations) == 1
                annot = raw.annotations[0]
                assert annot["onset"] == 0.0
                assert annot["duration"] == pytest.approx(raw.n_times / 200.0)
                assert annot["description"] == NAMES[int(labels[int(k) - 1])]
                assert raw.annotations.extras[0]["file"] == f"{subject}_{date}.mat"


def test_raw_montage(seed_raw):
    """Real SEED raw data and SyntheticEmotion share names, order and positions."""
    raw = seed_raw[1]["1"]["1"]
    pos = np.array([ch["loc"][:3] for ch in raw.info["chs"]])
    assert np.isfinite(pos).all() and np.all(np.linalg.norm(pos, axis=1) > 0.01)
    assert len(np.unique(pos.round(6), axis=0)) == 62
    ref = mne.create_info(["I1", "I2"], 200.0, "eeg")  # the nearest 10-05 sites
    ref.set_montage(mne.channels.make_standard_montage("colin27_1005"))
    for cb, site in (("CB1", 0), ("CB2", 1)):
        np.testing.assert_allclose(
            pos[raw.ch_names.index(cb)], ref["chs"][site]["loc"][:3], atol=1e-7
        )
    synth = SyntheticEmotion(n_subjects=1, n_trials=1, trial_duration=2.0, modalities="eeg")
    sraw = synth.get_data([1])[1]["1"]["1"]
    assert sraw.ch_names == raw.ch_names
    spos = np.array([ch["loc"][:3] for ch in sraw.info["chs"]])
    np.testing.assert_allclose(spos, pos, atol=1e-9)


def test_de_fitted_on_synthetic_transforms_real_seed(seed_raw):
    """A DE extractor fitted on SyntheticEmotion raw EEG transforms real SEED raw EEG."""
    from mne_m2s.features import DifferentialEntropy

    synth = SyntheticEmotion(n_subjects=1, n_trials=1, trial_duration=4.0, modalities="eeg")
    sraw = synth.get_data([1])[1]["1"]["1"]
    make = lambda r: mne.make_fixed_length_epochs(r, duration=2.0, preload=True, verbose=False)  # noqa: E731
    de = DifferentialEntropy(window=1.0).fit(make(sraw))
    real = seed_raw[1]["1"]["2"]  # 3 s of real-layout SEED raw data
    out = de.transform(make(real))
    assert out.shape == (1, 2, 62 * 5) and np.isfinite(out).all()
    assert list(de.get_feature_names_out()[:2]) == ["Fp1_delta", "Fp1_theta"]


def test_raw_flat_layout(tmp_path):
    written = write_seed_raw(tmp_path, subjects=(10,), layout="flat", readme=False)
    data = SEED(tmp_path).get_data(10)
    np.testing.assert_array_equal(data[10]["3"]["15"].get_data(), written[10][3][14] * 1e-6)
    # path pointing at Preprocessed_EEG itself works too
    data = SEED(tmp_path / "Preprocessed_EEG").get_data([10])
    np.testing.assert_array_equal(data[10]["1"]["1"].get_data(), written[10][1][0] * 1e-6)


def test_features_4s(seed_root):
    root, _, features = seed_root
    ds = SEED(root, level="features")
    assert ds.check_files() == (True, str(root))
    data = ds.get_data([1])
    counts = seed_window_counts(4)
    bounds = np.concatenate([[0], np.cumsum(counts)])
    for session in ("1", "2", "3"):
        src = features[4, 1, int(session)]
        runs = data[1][session]
        assert list(runs) == [str(k) for k in range(1, 16)]
        for k, run in runs.items():
            i = int(k) - 1
            sl = slice(bounds[i], bounds[i + 1])
            assert isinstance(run, FeatureRun)
            assert run.window == 4.0 and run.n_windows == counts[i]
            assert run.label == NAMES[int(SEED_LABEL.ravel()[i])]
            np.testing.assert_array_equal(run.features["eeg"], src["eeg"][sl])
            assert run.features["eeg"].shape == (counts[i], 62, 5)
            assert run.feature_names["eeg"][:6] == [
                "Fp1_delta", "Fp1_theta", "Fp1_alpha", "Fp1_beta", "Fp1_gamma", "Fpz_delta"
            ]  # fmt: skip
            eye = src["eye"][sl]
            if np.isfinite(eye).all():
                np.testing.assert_array_equal(run.features["eye"], eye)
    # the NaN at row 5, column 3 of clip 1 is interpolated from its neighbours
    eye = data[1]["1"]["1"].features["eye"]
    src = features[4, 1, 1]["eye"]
    assert np.isfinite(eye).all()
    assert eye[5, 3] == pytest.approx((src[4, 3] + src[6, 3]) / 2)
    np.testing.assert_array_equal(np.delete(eye, 5, axis=0), np.delete(src[:58], 5, axis=0))


def test_features_1s(seed_root):
    root, _, features = seed_root
    data = SEED(root, level="features", feature_window=1).get_data([1])
    runs = data[1]["2"]
    assert [r.n_windows for r in runs.values()] == seed_window_counts(1)
    assert list(runs["1"].features) == ["eeg"]
    np.testing.assert_array_equal(
        np.concatenate([r.features["eeg"] for r in runs.values()]), features[1, 1, 2]["eeg"]
    )


@pytest.mark.parametrize("policy", ["zero", "raise"])
def test_features_eye_nan(seed_root, policy):
    root, _, _ = seed_root
    ds = SEED(root, level="features", eye_nan=policy)
    if policy == "raise":
        with pytest.raises(ValueError, match="non-finite"):
            ds.get_data([1])
    else:
        assert ds.get_data([1])[1]["1"]["1"].features["eye"][5, 3] == 0.0


# ------------------------------------------------------------------- errors
def _raw_copy(tmp_path):
    write_seed_raw(tmp_path, subjects=(1,), seconds=[1] * 15)
    return tmp_path / "SEED_EEG" / "Preprocessed_EEG"


def test_missing_root(tmp_path):
    ds = SEED(tmp_path / "nowhere")
    with pytest.raises(DatasetLayoutError, match="does not exist") as err:
        ds.get_data([1])
    msg = str(err.value)
    assert "Preprocessed_EEG" in msg and "MNE_DATASETS_SEED_PATH" in msg and "path=" in msg
    found, message = ds.check_files()
    assert not found and "nowhere" in message


def test_root_without_release(tmp_path):
    (tmp_path / "something_else").mkdir()
    with pytest.raises(DatasetLayoutError, match="something_else") as err:
        SEED(tmp_path).get_data([1])
    assert "Preprocessed_EEG" in str(err.value)
    with pytest.raises(DatasetLayoutError, match="02-EEG-DE-feature"):
        SEED(tmp_path, level="features").get_data([1])


def test_missing_session_file(tmp_path):
    folder = _raw_copy(tmp_path)
    (folder / "1_20131030.mat").unlink()
    with pytest.raises(DatasetLayoutError, match="3 session files") as err:
        SEED(tmp_path).get_data([1])
    assert "1_20131027.mat" in str(err.value)
    with pytest.raises(DatasetLayoutError, match="found none"):
        SEED(tmp_path).get_data([2])


def test_missing_label_file(tmp_path):
    folder = _raw_copy(tmp_path)
    (folder / "label.mat").rename(folder / "labels.mat")
    with pytest.raises(DatasetLayoutError, match="label.mat"):
        SEED(tmp_path).get_data([1])


@pytest.mark.parametrize(
    "damage, match",
    [
        (lambda f: add_mat_variables(f, labels=np.zeros((1, 15))), "unexpected variable 'labels'"),
        (lambda f: add_mat_variables(f, abc_eeg3=np.zeros((62, 5))), "one key prefix"),
        (lambda f: drop_mat_variables(f, "djc_eeg7"), r"missing trials \['djc_eeg7'\]"),
        (lambda f: add_mat_variables(f, djc_eeg16=np.zeros((62, 5))), "unexpected trials"),
        (lambda f: add_mat_variables(f, djc_eeg2=np.zeros((61, 201))), r"shape \(61, 201\)"),
        (lambda f: add_mat_variables(f, djc_eeg2=np.array(["abc"])), "shape"),
        (truncate, "is truncated"),
        (lambda f: f.write_bytes(b"not a mat file" * 20), "could not be read"),
    ],
)
def test_damaged_session_file(tmp_path, damage, match):
    folder = _raw_copy(tmp_path)
    fname = folder / "1_20131030.mat"
    damage(fname)
    with pytest.raises(DatasetLayoutError, match=match) as err:
        SEED(tmp_path).get_data([1])
    assert "1_20131030.mat" in str(err.value)


@pytest.mark.parametrize(
    "label, match",
    [
        (np.zeros((1, 14), dtype=np.int8), r"shape \(1, 14\)"),
        (np.full((1, 15), 2, dtype=np.int8), "values"),
    ],
)
def test_bad_labels(tmp_path, label, match):
    folder = _raw_copy(tmp_path)
    sio.savemat(folder / "label.mat", {"label": label})
    with pytest.raises(DatasetLayoutError, match=match):
        SEED(tmp_path).get_data([1])


def test_label_int8_is_cast(tmp_path):
    folder = _raw_copy(tmp_path)
    assert sio.loadmat(folder / "label.mat")["label"].dtype == np.int8
    runs = SEED(tmp_path).get_data([1])[1]["1"]
    assert [r.annotations[0]["description"] for r in runs.values()][:4] == [
        "positive", "neutral", "negative", "negative"
    ]  # fmt: skip


def _feature_copy(tmp_path):
    write_seed_multimodal(tmp_path, subjects=(2,), windows=(4,), nan=False)
    base = tmp_path / "SEED_Multimodal" / "Chinese"
    return base / "02-EEG-DE-feature" / "eeg_used_4s", base / "04-Eye-tracking-feature"


def _rewrite_npz(fname, **changes):
    with np.load(fname) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays.update(changes)
    np.savez(fname, **arrays)


def test_feature_errors(tmp_path):
    eeg_dir, eye_dir = _feature_copy(tmp_path)
    ds = SEED(tmp_path, level="features")
    ds.get_data([2])  # intact
    with pytest.raises(DatasetLayoutError, match="eeg_used_1s"):
        SEED(tmp_path, level="features", feature_window=1).get_data([2])
    with pytest.raises(DatasetLayoutError, match="3_1.npz"):
        ds.get_data([3])
    fname = eeg_dir / "2_2.npz"
    with np.load(fname) as npz:
        train_label = npz["train_label"]
        test_data = pickle.loads(npz["test_data"].item())
    # wrong row counts (a clip of another length) -> suggests clip_windows
    short = {b: v[:-1] for b, v in test_data.items()}
    _rewrite_npz(fname, test_data=py3_pickle(short), test_label=np.zeros(342))
    with pytest.raises(DatasetLayoutError, match="clip_windows"):
        ds.get_data([2])
    # a missing band
    del short["gamma"]
    _rewrite_npz(fname, test_data=py3_pickle(short))
    with pytest.raises(DatasetLayoutError, match="missing bands"):
        ds.get_data([2])
    # labels that do not follow the clips
    full = dict(test_data)
    _rewrite_npz(fname, test_data=py3_pickle(full), test_label=np.zeros(343))
    with pytest.raises(DatasetLayoutError, match="clip 10"):
        ds.get_data([2])
    # not a pickle / not a 0-d byte string / a pickle that would run code
    _rewrite_npz(fname, test_label=np.repeat([2, 1, 0, 1, 2, 0], [59, 58, 58, 58, 59, 51]))
    ds.get_data([2])
    _rewrite_npz(fname, test_data=np.array(b"garbage bytes."))
    with pytest.raises(DatasetLayoutError, match="pickle"):
        ds.get_data([2])
    _rewrite_npz(fname, test_data=np.zeros(3))
    with pytest.raises(DatasetLayoutError, match="0-d byte string"):
        ds.get_data([2])
    _rewrite_npz(fname, test_data=np.array(pickle.dumps({"delta": Evil()})))
    with pytest.raises(DatasetLayoutError, match="refusing"):
        ds.get_data([2])
    _rewrite_npz(fname, test_data=py3_pickle(full), train_label=train_label)
    ds.get_data([2])
    # corrupt archive and missing eye file
    truncate(fname)
    with pytest.raises(DatasetLayoutError, match="npz"):
        ds.get_data([2])
    (eye_dir / "eye_tracking_feature" / "2_3").unlink()
    with pytest.raises(DatasetLayoutError, match="2_3"):
        SEED(tmp_path, level="features").get_data([2])


def test_eye_file_errors(tmp_path):
    _, eye_dir = _feature_copy(tmp_path)
    ds = SEED(tmp_path, level="features")
    fname = eye_dir / "eye_tracking_feature" / "2_1"
    obj = pickle.loads(fname.read_bytes())
    fname.write_bytes(py3_pickle({"train_data_eye": obj["train_data_eye"]}))
    with pytest.raises(DatasetLayoutError, match="test_data_eye"):
        ds.get_data([2])
    fname.write_bytes(py3_pickle({**obj, "test_data_eye": obj["test_data_eye"][:-2]}))
    with pytest.raises(DatasetLayoutError, match="row-aligned"):
        ds.get_data([2])
    fname.write_bytes(py3_pickle([1, 2]))
    with pytest.raises(DatasetLayoutError, match="expected a dict"):
        ds.get_data([2])
    fname.write_bytes(b"\x80\x03}q\x00")
    with pytest.raises(DatasetLayoutError, match="2_1"):
        ds.get_data([2])


def test_clip_windows_override(seed_root):
    root, _, features = seed_root
    counts = seed_window_counts(4)
    counts[2] -= 3  # clips 3 and 4 are both negative: moving the boundary keeps labels valid
    counts[3] += 3
    runs = SEED(root, level="features", clip_windows=counts).get_data([1])[1]["1"]
    assert [r.n_windows for r in runs.values()] == counts
    np.testing.assert_array_equal(
        np.concatenate([r.features["eeg"] for r in runs.values()]), features[4, 1, 1]["eeg"]
    )


def test_subject_not_in_dataset(seed_root):
    root, _, _ = seed_root
    with pytest.raises(ValueError, match="not part of SEED"):
        SEED(root, level="features").get_data([6])
