"""DREAMER adapter on fixture files with the published nesting."""

import numpy as np
import pytest
import scipy.io as sio
from scipy.signal import resample_poly

from dataset_fixtures import DREAMER_ELECTRODES, dreamer_samples, truncate, write_dreamer
from mne_m2s.datasets import DREAMER, DatasetLayoutError
from mne_m2s.datasets._io import trial_description


@pytest.fixture(scope="module")
def dreamer_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("DREAMER")
    return root, write_dreamer(root / "DREAMER.mat", n_subjects=2)


def test_fixture_nesting(dreamer_root):
    """The fixture reads back through the documented loadmat indexing path."""
    root, written = dreamer_root
    m = sio.loadmat(root / "DREAMER.mat")
    dr = m["DREAMER"][0, 0]
    assert m["DREAMER"].shape == (1, 1) and dr["Data"].shape == (1, 2)
    eeg = dr["Data"][0, 1]["EEG"][0, 0]["stimuli"][0, 0][2, 0]
    np.testing.assert_array_equal(eeg, written[1]["EEG"]["stimuli"][2])
    assert eeg.shape == (dreamer_samples(2), 14)
    assert dr["Data"][0, 1]["ScoreValence"][0, 0][3, 0] == written[1]["ScoreValence"][3]
    assert dr["Data"][0, 1]["ScoreValence"][0, 0].dtype == np.uint8
    assert dr["EEG_SamplingRate"][0, 0] == 128 and dr["EEG_SamplingRate"].dtype == np.uint8
    assert dr["ECG_SamplingRate"].dtype == np.uint16
    assert [str(e[0]) for e in dr["EEG_Electrodes"][0]] == list(DREAMER_ELECTRODES)


def test_metadata():
    ds = DREAMER()
    assert ds.code == "DREAMER" and ds.subject_list == list(range(1, 24))
    assert ds.modalities == {"eeg": 128.0, "pps": 128.0}
    assert DREAMER(sfreq=256).modalities == {"eeg": 256.0, "pps": 256.0}
    with pytest.raises(ValueError, match="target"):
        DREAMER(target="liking")
    with pytest.raises(ValueError, match="sfreq"):
        DREAMER(sfreq=0)


def test_round_trip(dreamer_root):
    root, written = dreamer_root
    data = DREAMER(root).get_data([1, 2])
    for subject in (1, 2):
        src = written[subject - 1]
        runs = data[subject]["1"]
        assert list(data[subject]) == ["1"] and list(runs) == [str(t) for t in range(1, 19)]
        for k, raw in runs.items():
            t = int(k) - 1
            assert raw.info["sfreq"] == 128.0
            assert raw.ch_names == [*DREAMER_ELECTRODES, "ECG1", "ECG2"]
            assert raw.get_channel_types() == ["eeg"] * 14 + ["ecg"] * 2
            eeg = src["EEG"]["stimuli"][t].T * 1e-6
            ecg = resample_poly(src["ECG"]["stimuli"][t].T * 1e-6, 1, 2, axis=-1)
            np.testing.assert_array_equal(raw.get_data(picks=range(14)), eeg)
            np.testing.assert_array_equal(raw.get_data(picks=[14, 15]), ecg)
            extras = trial_description(raw)
            assert extras["valence"] == src["ScoreValence"][t]
            assert extras["arousal"] == src["ScoreArousal"][t]
            assert extras["dominance"] == src["ScoreDominance"][t]
            assert extras["clip"] == t + 1 and extras["age"] == str(19 + subject)
            assert extras["gender"] == ("female" if subject == 1 else "male")
            label = "high" if src["ScoreValence"][t] > 3 else "low"
            assert raw.annotations[0]["description"] == label


def test_ties_and_targets(dreamer_root):
    root, written = dreamer_root
    # valence of clips 1-5 is 3 4 2 5 1 (3 = tie)
    for tie in ("low", "high"):
        runs = DREAMER(root, tie=tie).get_data([1])[1]["1"]
        labels = [runs[str(k)].annotations[0]["description"] for k in range(1, 6)]
        assert labels == [tie, "high", "low", "high", "low"]
    runs = DREAMER(root, target="dominance", threshold=2).get_data([2])[2]["1"]
    dom = written[1]["ScoreDominance"].astype(int)  # uint8 in the file: cast before comparing
    assert [r.annotations[0]["description"] for r in runs.values()] == [
        "high" if d > 2 else "low" for d in dom
    ]


def test_common_rate_256(dreamer_root):
    root, written = dreamer_root
    raw = DREAMER(root, sfreq=256).get_data([1])[1]["1"]["2"]
    src = written[0]
    assert raw.info["sfreq"] == 256.0 and raw.n_times == 2 * dreamer_samples(1)
    np.testing.assert_array_equal(raw.get_data(picks=[14, 15]), src["ECG"]["stimuli"][1].T * 1e-6)
    up = resample_poly(src["EEG"]["stimuli"][1].T * 1e-6, 2, 1, axis=-1)
    np.testing.assert_array_equal(raw.get_data(picks=range(14)), up)


def test_baseline_options(dreamer_root):
    root, written = dreamer_root
    src = written[0]
    keep = DREAMER(root, baseline="keep").get_data([1])[1]["1"]["3"]
    n_base, n_stim = src["EEG"]["baseline"][2].shape[0], dreamer_samples(2)
    assert keep.n_times == n_base + n_stim
    annot = keep.annotations[0]
    assert annot["onset"] == pytest.approx(n_base / 128) and len(keep.annotations) == 1
    assert annot["duration"] == pytest.approx(n_stim / 128)
    np.testing.assert_array_equal(
        keep.get_data(picks=[0])[0, :n_base], src["EEG"]["baseline"][2][:, 0] * 1e-6
    )
    sub = DREAMER(root, baseline="subtract").get_data([1])[1]["1"]["3"]
    eeg = src["EEG"]["stimuli"][2].T * 1e-6
    base = src["EEG"]["baseline"][2].T * 1e-6
    np.testing.assert_allclose(
        sub.get_data(picks=range(14)), eeg - base.mean(axis=1, keepdims=True), atol=1e-15
    )


def test_single_subject_file(tmp_path):
    written = write_dreamer(tmp_path / "DREAMER.mat", n_subjects=1)
    raw = DREAMER(tmp_path).get_data([1])[1]["1"]["18"]
    np.testing.assert_array_equal(
        raw.get_data(picks=range(14)), written[0]["EEG"]["stimuli"][17].T * 1e-6
    )
    with pytest.raises(DatasetLayoutError, match="holds 1 subject"):
        DREAMER(tmp_path).get_data([2])
    # path can name the file itself
    assert len(DREAMER(tmp_path / "DREAMER.mat").get_data([1])[1]["1"]) == 18


def _rewrite(fname, mutate):
    m = sio.loadmat(fname)
    mutate(m["DREAMER"][0, 0])
    sio.savemat(fname, {"DREAMER": m["DREAMER"]})


def test_errors(tmp_path):
    with pytest.raises(DatasetLayoutError, match="does not exist"):
        DREAMER(tmp_path / "nowhere").get_data([1])
    (tmp_path / "x.txt").write_text("")
    with pytest.raises(DatasetLayoutError, match="missing DREAMER file") as err:
        DREAMER(tmp_path).get_data([1])
    assert "x.txt" in str(err.value)
    fname = tmp_path / "DREAMER.mat"
    write_dreamer(fname, n_subjects=2)
    original = fname.read_bytes()

    def bad_electrodes(dr):
        dr["EEG_Electrodes"][0, 0] = np.array(["AF7"])

    def short_cell(dr):
        subj = dr["Data"][0, 1]
        subj["EEG"][0, 0]["stimuli"][0, 0] = subj["EEG"][0, 0]["stimuli"][0, 0][:17]

    def wrong_width(dr):
        subj = dr["Data"][0, 1]
        subj["ECG"][0, 0]["baseline"][0, 0][4, 0] = np.zeros((512, 3))

    for mutate, match in [
        (bad_electrodes, "EEG_Electrodes"),
        (short_cell, "17 trials"),
        (wrong_width, r"\(n, 2\)"),
    ]:
        fname.write_bytes(original)
        _rewrite(fname, mutate)
        with pytest.raises(DatasetLayoutError, match=match) as err:
            DREAMER(tmp_path).get_data([2])
        assert "DREAMER.mat" in str(err.value)
    # a subject struct without a score field; a file without the DREAMER variable
    other = tmp_path / "other" / "DREAMER.mat"
    write_dreamer(other, n_subjects=1, drop_fields=("ScoreArousal",))
    with pytest.raises(DatasetLayoutError, match="no field 'ScoreArousal'"):
        DREAMER(other).get_data([1])
    sio.savemat(other, {"dreamer": np.zeros(3)})
    with pytest.raises(DatasetLayoutError, match="no variable 'DREAMER'"):
        DREAMER(other).get_data([1])
    fname.write_bytes(original)
    truncate(fname)
    with pytest.raises(DatasetLayoutError, match="truncated"):
        DREAMER(tmp_path).get_data([1])


@pytest.mark.parametrize("n_subjects", [1, 2])
def test_squeezing_reader_shapes(tmp_path, monkeypatch, n_subjects):
    """The struct walkers also accept what squeezing readers return (bare one-element cells)."""
    import mne_m2s.datasets.dreamer as dreamer_mod

    write_dreamer(tmp_path / "DREAMER.mat", n_subjects=n_subjects)
    plain = DREAMER(tmp_path).get_data([1])[1]["1"]
    original = dreamer_mod.read_mat

    def squeezing(fname, **kwargs):
        return original(fname, squeeze_me=True, struct_as_record=False)

    monkeypatch.setattr(dreamer_mod, "read_mat", squeezing)
    m = squeezing(tmp_path / "DREAMER.mat")
    data_field = m["DREAMER"].Data
    assert isinstance(data_field, np.ndarray) == (n_subjects > 1)  # squeezed to a bare struct
    squeezed = DREAMER(tmp_path).get_data([1])[1]["1"]
    for k in plain:
        np.testing.assert_array_equal(plain[k].get_data(), squeezed[k].get_data())
        assert trial_description(plain[k]) == trial_description(squeezed[k])
