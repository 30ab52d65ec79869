"""Shared dataset I/O: cache, safe unpickling, registry and status."""

import os
import pickle

import numpy as np
import pandas as pd
import pytest

import mne_m2s.datasets._cache as cache_mod
from dataset_fixtures import Evil, py3_pickle, truncate, write_deap, write_seed_v
from mne_m2s.datasets import (
    DEAP,
    DREAMER,
    SEED,
    SEEDIV,
    SEEDV,
    DatasetLayoutError,
    FeatureRun,
    get_dataset,
    list_datasets,
)
from mne_m2s.datasets._io import (
    binarize,
    cache_file,
    clean_nonfinite,
    loads_pickle,
    trial_description,
    write_atomic_npz,
)
from mne_m2s.datasets._status import dataset_status


def _files(folder):
    return sorted(p.name for p in folder.rglob("*") if p.is_file())


def _assert_same_features(a, b):
    assert list(a) == list(b)
    for session in a:
        assert list(a[session]) == list(b[session])
        for run in a[session]:
            x, y = a[session][run], b[session][run]
            assert x.label == y.label and x.window == y.window
            assert x.feature_names == y.feature_names and x.description == y.description
            for m in x.features:
                np.testing.assert_array_equal(x.features[m], y.features[m])


# ---------------------------------------------------------------------- cache
def test_cache_round_trip_and_reuse(tmp_path, monkeypatch):
    write_seed_v(tmp_path / "data", subjects=(1,))
    cache = tmp_path / "cache"
    ds = SEEDV(tmp_path / "data", cache=True, cache_dir=cache)
    first = ds.get_data([1])[1]
    assert len(_files(cache)) == 1 and _files(cache)[0].startswith("sub-01_features_")
    # the second load reads the cache: parsing is not called again
    monkeypatch.setattr(SEEDV, "_parse", lambda *a: pytest.fail("parsed again"))
    second = SEEDV(tmp_path / "data", cache=True, cache_dir=cache).get_data([1])[1]
    _assert_same_features(first, second)
    monkeypatch.undo()
    # another parameter value is another cache entry
    SEEDV(tmp_path / "data", cache=True, cache_dir=cache, eye_nan="zero").get_data([1])
    assert len(_files(cache)) == 2


def test_cache_keys_and_invalidation(tmp_path):
    write_seed_v(tmp_path / "data", subjects=(1,))
    ds = SEEDV(tmp_path / "data", cache=True, cache_dir=tmp_path / "cache")
    files = [
        tmp_path / "data" / "EEG_DE_features" / "1_123.npz",
        tmp_path / "data" / "Eye_movement_features" / "1_123.npz",
    ]
    key = cache_file(ds, 1, files)
    assert key == cache_file(SEEDV(tmp_path / "data", cache_dir=tmp_path / "cache"), 1, files)
    assert key != cache_file(SEEDV(tmp_path / "data", cache_dir=tmp_path / "cache",
                                   length_mismatch="raise"), 1, files)  # fmt: skip
    assert key != cache_file(ds, 2, files)
    stat = files[0].stat()
    os.utime(files[0], ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # source changed
    assert key != cache_file(ds, 1, files)


def test_force_update_and_corrupt_cache(tmp_path, monkeypatch):
    write_seed_v(tmp_path / "data", subjects=(1,))
    cache = tmp_path / "cache"
    SEEDV(tmp_path / "data", cache=True, cache_dir=cache).get_data([1])
    (entry,) = cache.rglob("*.npz")
    calls = []
    original = SEEDV._parse
    monkeypatch.setattr(SEEDV, "_parse", lambda self, *a: calls.append(1) or original(self, *a))
    SEEDV(tmp_path / "data", cache=True, cache_dir=cache, force_update=True).get_data([1])
    assert calls == [1]
    truncate(entry)
    data = SEEDV(tmp_path / "data", cache=True, cache_dir=cache).get_data([1])
    assert calls == [1, 1] and len(data[1]["3"]) == 15
    assert _files(cache) == [entry.name]


def test_no_partial_cache_when_loading_fails(tmp_path):
    write_seed_v(tmp_path / "data", subjects=(1,))
    truncate(tmp_path / "data" / "Eye_movement_features" / "1_123.npz")
    cache = tmp_path / "cache"
    cache.mkdir()
    with pytest.raises(DatasetLayoutError):
        SEEDV(tmp_path / "data", cache=True, cache_dir=cache).get_data([1])
    assert list(cache.rglob("*")) == []


def test_no_partial_cache_when_writing_fails(tmp_path, monkeypatch):
    write_seed_v(tmp_path / "data", subjects=(1,))
    cache = tmp_path / "cache"

    def broken_savez(fid, **arrays):
        fid.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(cache_mod.np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        SEEDV(tmp_path / "data", cache=True, cache_dir=cache).get_data([1])
    assert [p for p in cache.rglob("*") if p.is_file()] == []


def test_atomic_write_replaces(tmp_path):
    fname = tmp_path / "a" / "x.npz"
    write_atomic_npz(fname, {"a": np.arange(3)})
    write_atomic_npz(fname, {"a": np.arange(4)})
    with np.load(fname) as npz:
        np.testing.assert_array_equal(npz["a"], np.arange(4))
    assert _files(tmp_path) == ["x.npz"]


def test_raw_cache_round_trip(tmp_path):
    write_deap(tmp_path / "data", subjects=(1,), n_seconds=1)
    kwargs = {"cache": True, "cache_dir": tmp_path / "cache", "baseline": "keep"}
    first = DEAP(tmp_path / "data", **kwargs).get_data([1])[1]["1"]
    second = DEAP(tmp_path / "data", **kwargs).get_data([1])[1]["1"]
    for k in first:
        a, b = first[k], second[k]
        np.testing.assert_array_equal(a.get_data(), b.get_data())
        assert a.ch_names == b.ch_names and a.get_channel_types() == b.get_channel_types()
        assert a.annotations[0]["onset"] == b.annotations[0]["onset"] == 3.0
        assert a.annotations[0]["description"] == b.annotations[0]["description"]
        assert trial_description(a) == trial_description(b)
        np.testing.assert_array_equal(
            a.info["chs"][0]["loc"], b.info["chs"][0]["loc"]
        )  # montage re-applied


# ----------------------------------------------------------- safe unpickling
def test_safe_unpickler():
    arrays = {"a": np.arange(5.0), "b": [np.eye(2, dtype=np.float32)], 3: "text"}
    out = loads_pickle(py3_pickle(arrays), "x")
    np.testing.assert_array_equal(out["a"], arrays["a"])
    assert out["b"][0].dtype == np.float32 and out[3] == "text"
    out = loads_pickle(pickle.dumps(arrays, protocol=5), "x")  # NumPy 2 / protocol 5 names
    np.testing.assert_array_equal(out["b"][0], np.eye(2))
    with pytest.raises(DatasetLayoutError, match="refusing"):
        loads_pickle(pickle.dumps({"x": Evil()}), "evil.pkl")
    with pytest.raises(DatasetLayoutError, match="truncated.pkl"):
        loads_pickle(py3_pickle(arrays)[:20], "truncated.pkl")


# ------------------------------------------------------------------ helpers
def test_binarize_and_nonfinite():
    assert [binarize(v, 5.0, "low") for v in (4.9, 5.0, 5.1)] == ["low", "low", "high"]
    assert binarize(5, 5.0, "high") == "high"
    x = np.array([[np.nan, 1.0], [2.0, np.inf], [4.0, 3.0]])
    np.testing.assert_array_equal(
        clean_nonfinite(x, "interpolate", "w"), [[2.0, 1.0], [2.0, 2.0], [4.0, 3.0]]
    )
    np.testing.assert_array_equal(clean_nonfinite(x, "zero", "w"), [[0, 1], [2, 0], [4, 3]])
    all_nan = np.full((3, 1), np.nan)
    np.testing.assert_array_equal(clean_nonfinite(all_nan, "interpolate", "w"), np.zeros((3, 1)))


def test_trial_description_feature_run():
    run = FeatureRun({"eeg": np.zeros((2, 3))}, 1.0, "a", description={"valence": 2.0})
    assert trial_description(run) == {"valence": 2.0}


# ----------------------------------------------------------------- registry
def test_registry():
    codes = list_datasets()
    for code in ("SEED", "SEED-IV", "SEED-V", "DEAP", "DREAMER"):
        assert code in codes
    for code, cls in [("seed", SEED), ("seed_iv", SEEDIV), ("SEEDV", SEEDV), ("deap", DEAP),
                      ("Dreamer", DREAMER)]:  # fmt: skip
        ds = get_dataset(code, path="/nowhere")
        assert type(ds) is cls and ds.code in codes
    assert get_dataset("SEED-IV", level="raw").level == "raw"
    with pytest.raises(ValueError, match="Did you mean 'SEED-V'"):
        get_dataset("SEED-Z")


# ------------------------------------------------------------------- status
def test_dataset_status(tmp_path, monkeypatch):
    for code in ("SEED", "SEED_IV", "SEED_V", "DEAP", "DREAMER"):
        monkeypatch.setenv(f"MNE_DATASETS_{code}_PATH", str(tmp_path / "absent" / code))
    write_seed_v(tmp_path / "SEED-V", subjects=(1,))
    status = dataset_status("seed_v", path=tmp_path / "SEED-V")
    assert isinstance(status, pd.DataFrame)
    assert list(status.columns) == ["code", "level", "path", "found", "message"]
    assert status.to_dict("records") == [{
        "code": "SEED-V", "level": "features", "path": str(tmp_path / "SEED-V"),
        "found": True, "message": str(tmp_path / "SEED-V"),
    }]  # fmt: skip
    everything = dataset_status()
    assert set(everything["code"]) == set(list_datasets())
    files = everything[everything["code"] != "SyntheticEmotion"]
    assert not files["found"].any()
    assert set(files[files["code"] == "SEED"]["level"]) == {"raw", "features"}
    assert all("does not exist" in m for m in files["message"])
    monkeypatch.setenv("MNE_DATASETS_SEED_V_PATH", str(tmp_path / "SEED-V"))
    assert dataset_status("SEED-V")["found"].all()
    with pytest.raises(ValueError, match="path= needs code="):
        dataset_status(path=tmp_path)
    with pytest.raises(ValueError, match="Unknown dataset code"):
        dataset_status("nope")
