"""DEAP adapter on fixture files with the published layout (Python-2 pickles)."""

import pickle

import numpy as np
import pytest

from dataset_fixtures import Evil, py2_pickle, truncate, write_deap
from mne_m2s.datasets import DEAP, DatasetLayoutError
from mne_m2s.datasets._io import trial_description

N_SECONDS = 2


@pytest.fixture(scope="module")
def deap_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("DEAP")
    return root, write_deap(root, subjects=(1, 2), n_seconds=N_SECONDS)


def test_metadata():
    ds = DEAP()
    assert ds.code == "DEAP" and ds.level == "raw" and ds.n_sessions == 1
    assert ds.subject_list == list(range(1, 33))
    assert ds.event_id == {"low": 0, "high": 1}
    assert ds.modalities == {"eeg": 128.0, "pps": 128.0}
    for kwargs in ({"target": "valance"}, {"baseline": "remove"}, {"tie": "up"}):
        with pytest.raises(ValueError):
            DEAP(**kwargs)
    with pytest.raises(TypeError, match="threshold"):
        DEAP(threshold="5")


def test_fixture_is_a_python2_pickle(deap_root):
    root, _ = deap_root
    raw = (root / "data_preprocessed_python" / "s01.dat").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        pickle.loads(raw)
    assert set(pickle.loads(raw, encoding="bytes")) == {b"data", b"labels"}


def test_round_trip(deap_root):
    root, written = deap_root
    data = DEAP(root).get_data([1, 2])
    for subject in (1, 2):
        assert list(data[subject]) == ["1"]
        runs = data[subject]["1"]
        assert list(runs) == [str(k) for k in range(1, 41)]
        src = written[subject]
        for k, raw in runs.items():
            i = int(k) - 1
            x = src["data"][i, :, 384:]
            assert raw.info["sfreq"] == 128.0 and raw.n_times == 128 * N_SECONDS
            np.testing.assert_array_equal(raw.get_data(picks=range(36)), x[:36] * 1e-6)
            np.testing.assert_array_equal(raw.get_data(picks=range(36, 40)), x[36:])
            extras = trial_description(raw)
            for j, name in enumerate(("valence", "arousal", "dominance", "liking")):
                assert extras[name] == src["labels"][i, j]
            assert extras["target"] == "valence" and extras["video"] == int(k)
            expected = "high" if src["labels"][i, 0] > 5 else "low"
            assert raw.annotations[0]["description"] == expected
            assert len(raw.annotations) == 1


def test_channels(deap_root):
    root, _ = deap_root
    raw = DEAP(root).get_data([1])[1]["1"]["1"]
    types = raw.get_channel_types()
    assert types[:32] == ["eeg"] * 32
    assert types[32:] == ["eog", "eog", "emg", "emg", "gsr", "resp", "bio", "temperature"]
    assert raw.ch_names[:3] == ["Fp1", "AF3", "F3"] and raw.ch_names[32:34] == ["hEOG", "vEOG"]
    pos = np.array([ch["loc"][:3] for ch in raw.info["chs"][:32]])
    assert np.isfinite(pos).all()


@pytest.mark.parametrize("tie, expected", [("low", "low"), ("high", "high")])
def test_threshold_and_tie(deap_root, tie, expected):
    root, _ = deap_root
    runs = DEAP(root, tie=tie).get_data([1])[1]["1"]
    # fixture: valence 5.0 (tie), 5.01, 4.99 for videos 1-3
    assert [runs[k].annotations[0]["description"] for k in ("1", "2", "3")] == [
        expected, "high", "low"
    ]  # fmt: skip
    runs = DEAP(root, threshold=5.005).get_data([1])[1]["1"]
    assert runs["1"].annotations[0]["description"] == "low"


def test_other_target(deap_root):
    root, written = deap_root
    runs = DEAP(root, target="liking").get_data([2])[2]["1"]
    liking = written[2]["labels"][:, 3]
    assert [r.annotations[0]["description"] for r in runs.values()] == [
        "high" if v > 5 else "low" for v in liking
    ]
    assert trial_description(runs["1"])["target"] == "liking"


def test_baseline_options(deap_root):
    root, written = deap_root
    x = written[1]["data"][4]
    keep = DEAP(root, baseline="keep").get_data([1])[1]["1"]["5"]
    assert keep.n_times == 384 + 128 * N_SECONDS
    np.testing.assert_array_equal(keep.get_data(picks=[0]), x[[0]] * 1e-6)
    annot = keep.annotations[0]
    assert annot["onset"] == 3.0 and annot["duration"] == pytest.approx(N_SECONDS)
    sub = DEAP(root, baseline="subtract").get_data([1])[1]["1"]["5"]
    expected = x[36:, 384:] - x[36:, :384].mean(axis=1, keepdims=True)
    np.testing.assert_allclose(sub.get_data(picks=range(36, 40)), expected, rtol=0, atol=1e-12)


def test_errors(tmp_path):
    with pytest.raises(DatasetLayoutError, match="does not exist") as err:
        DEAP(tmp_path / "nowhere").get_data([1])
    assert "data_preprocessed_python" in str(err.value)
    (tmp_path / "other").mkdir()
    with pytest.raises(DatasetLayoutError, match="no 'data_preprocessed_python'"):
        DEAP(tmp_path).get_data([1])
    written = write_deap(tmp_path, subjects=(3,), n_seconds=1)
    folder = tmp_path / "data_preprocessed_python"
    # the folder itself works as path
    assert len(DEAP(folder).get_data([3])[3]["1"]) == 40
    with pytest.raises(DatasetLayoutError, match="s04.dat"):
        DEAP(tmp_path).get_data([4])
    fname = folder / "s03.dat"
    src = written[3]
    cases = [
        (py2_pickle({b"data": src["data"][:, :39]}), "missing keys"),
        (py2_pickle({b"data": src["data"][:, :39], b"labels": src["labels"]}), r"\(40, 40, n\)"),
        (py2_pickle({b"data": src["data"], b"labels": src["labels"][:, :3]}), r"\(40, 4\)"),
        (py2_pickle({b"data": src["data"][:, :, :384], b"labels": src["labels"]}), "baseline"),
        (py2_pickle([src["data"]]), "expected a dict"),
        (pickle.dumps({"data": Evil(), "labels": src["labels"]}, protocol=2), "refusing"),
    ]
    for payload, match in cases:
        fname.write_bytes(payload)
        with pytest.raises(DatasetLayoutError, match=match) as err:
            DEAP(tmp_path).get_data([3])
        assert "s03.dat" in str(err.value)
    fname.write_bytes(py2_pickle({b"data": src["data"], b"labels": src["labels"]}))
    truncate(fname, 0.7)
    with pytest.raises(DatasetLayoutError, match="truncated, corrupt"):
        DEAP(tmp_path).get_data([3])
