"""The signal-level adapters satisfy MOABB's dataset contract and its own checks."""

import logging

import mne
import pytest
from moabb.datasets.base import (
    BaseDataset,
    check_run_names,
    check_session_names,
    check_subject_names,
    is_abbrev,
    is_camel_kebab_case,
)
from moabb.datasets.bids_interface import StepType
from moabb.datasets.preprocessing import FixedPipeline
from sklearn.preprocessing import FunctionTransformer

from dataset_fixtures import write_deap, write_dreamer, write_seed_iv, write_seed_raw
from mne_m2s.datasets import (
    DEAP,
    DREAMER,
    SEED,
    SEEDIV,
    SEEDV,
    DatasetLayoutError,
    SyntheticEmotion,
)

CODES = ["SEED", "SEED-IV", "SEED-IV+eye", "DEAP", "DREAMER", "SyntheticEmotion"]


@pytest.fixture(scope="module")
def roots(tmp_path_factory):
    base = tmp_path_factory.mktemp("moabb_roots")
    write_seed_raw(base / "SEED", subjects=(1, 10))
    write_seed_iv(base / "SEED_IV", subjects=(1,), levels=("raw",))
    write_seed_iv(base / "SEED_IV_eye", subjects=(1,), levels=("raw",), raw_eye=True)
    write_deap(base / "DEAP", subjects=(1,))
    (base / "DREAMER").mkdir()
    write_dreamer(base / "DREAMER" / "DREAMER.mat", n_subjects=2)
    return base


def _make(code, roots):
    if code == "SEED":
        return SEED(roots / "SEED", level="raw"), 10
    if code == "SEED-IV":
        return SEEDIV(roots / "SEED_IV", level="raw"), 1
    if code == "SEED-IV+eye":  # the published eye features added as channels
        return SEEDIV(roots / "SEED_IV_eye", level="raw", eye="features"), 1
    if code == "DEAP":
        return DEAP(roots / "DEAP"), 1
    if code == "DREAMER":
        return DREAMER(roots / "DREAMER"), 2
    return SyntheticEmotion(n_subjects=2, n_sessions=2, n_trials=3, trial_duration=2.0), 2


@pytest.mark.parametrize("code", CODES)
def test_moabb_dataset_contract(code, roots, caplog):
    caplog.set_level(logging.WARNING, logger="moabb.datasets.base")
    ds, subject = _make(code, roots)
    assert not caplog.records  # MOABB warns when the class name does not abbreviate the code
    assert isinstance(ds, BaseDataset)
    assert is_camel_kebab_case(ds.code)
    assert is_abbrev(type(ds).__name__.replace("_", "-"), ds.code)
    assert ds.paradigm == "emotion" and ds.code == code.split("+")[0]
    data = ds.get_data([subject])  # MOABB's get_data: structure checks included
    check_subject_names(data)
    check_session_names(data)
    check_run_names(data)
    assert list(data) == [subject]
    assert len(data[subject]) == ds.n_sessions
    for runs in data[subject].values():
        for raw in runs.values():
            assert isinstance(raw, mne.io.BaseRaw)
            trial = [d for d in raw.annotations.description if d in ds.event_id]
            assert len(trial) == 1  # one annotation names the trial's event
            if code == "SEED-IV+eye":
                assert raw.get_channel_types().count("misc") == 31
    # MOABB's own processing path (a fixed Raw pipeline, as its paradigms pass)
    seen = []
    step = FunctionTransformer(lambda raw: seen.append(raw) or raw)
    processed = ds.get_data([subject], process_pipeline=FixedPipeline([(StepType.RAW, step)]))
    assert len(seen) == sum(len(r) for r in processed[subject].values())
    with pytest.raises(ValueError, match="not part of"):
        ds.get_data([999])
    files = ds.data_path(subject)
    assert isinstance(files, list) and all(f.is_file() for f in files)
    assert (code == "SyntheticEmotion") == (files == [])


def test_annotations_survive_moabb_get_data():
    """MOABB's default re-annotation (from a stim channel) is not applied."""
    ds = SyntheticEmotion(n_subjects=1, n_trials=2, trial_duration=3.0)
    raw = ds.get_data([1])[1]["1"]["1"]
    assert {"fixation", "saccade", "BAD_blink"} <= set(raw.annotations.description)


def test_never_downloads_prompts_or_writes_config(roots, tmp_path, monkeypatch):
    fake_home = tmp_path / "home"
    fake_home.mkdir()
    monkeypatch.setenv("_MNE_FAKE_HOME_DIR", str(fake_home))
    monkeypatch.setenv("MNE_DATASETS_SEED_IV_PATH", str(roots / "SEED_IV"))
    ds = SEEDIV(level="raw")  # found through the environment variable
    assert ds.data_path() == roots / "SEED_IV"
    ds.download(subject_list=[1])  # only checks that the files are there
    with pytest.raises(ValueError, match="would write your MNE config"):
        ds.data_path(1, update_path=True)
    with pytest.raises(ValueError, match="never downloads"):
        ds.data_path(1, force_update=True)
    missing = SEEDIV(tmp_path / "nowhere", level="raw")
    with pytest.raises(DatasetLayoutError, match="never downloaded"):
        missing.download(subject_list=[1])
    with pytest.raises(DatasetLayoutError, match="never downloaded"):
        missing.data_path(1)
    # a path given to data_path wins for that call only
    assert SEEDIV(tmp_path / "nowhere", level="raw").data_path(1, path=roots / "SEED_IV")
    assert not any(fake_home.rglob("*"))  # no MNE config written


def test_feature_level_is_not_for_moabb_pipelines(tmp_path):
    ds = SEEDV(tmp_path)
    with pytest.raises(TypeError, match="level='raw'"):
        ds.get_data([1], process_pipeline=FixedPipeline([]))
