"""Model files: safe to load (no code runs), atomic, clear errors, reloadable elsewhere."""

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.base import clone

from conftest import SMALL
from mne_m2s import M2SClassifier, PretrainedM2S, _persistence
from mne_m2s._persistence import FORMAT_VERSION, ModelFileError, model_card

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def fitted(pretrained_clf, latent_problem):
    xa, xb, y, trial = latent_problem
    train = trial < 18
    return clone(pretrained_clf).set_params(max_epochs=5).fit(xb[train], y[train])


@pytest.fixture(scope="module")
def test_eeg(latent_problem):
    xa, xb, y, trial = latent_problem
    return xa[trial >= 18]


@pytest.fixture(scope="module")
def model_file(fitted, tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "model.m2s"
    fitted.save(path)
    return path


def test_roundtrip_in_a_fresh_process_on_cpu(fitted, model_file, test_eeg, tmp_path):
    expected = fitted.predict_proba({"eeg": test_eeg})
    np.save(tmp_path / "x.npy", test_eeg)
    script = (
        "import sys, numpy as np\n"
        "from mne_m2s import M2SClassifier\n"
        f"clf = M2SClassifier.load({str(model_file)!r}, device='cpu')\n"
        f"x = np.load({str(tmp_path / 'x.npy')!r})\n"
        f"np.save({str(tmp_path / 'p.npy')!r}, clf.predict_proba({{'eeg': x}}))\n"
        "print(clf.device_, list(clf.classes_))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO), CUDA_VISIBLE_DEVICES="")
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[0] == "cpu"
    np.testing.assert_array_equal(np.load(tmp_path / "p.npy"), expected)


def test_loaded_estimator_is_complete(fitted, model_file, test_eeg):
    loaded = M2SClassifier.load(model_file, device="cpu")
    assert loaded.device_ == torch.device("cpu")
    assert loaded.get_params(deep=False).keys() == fitted.get_params(deep=False).keys()
    for k, v in fitted.get_params(deep=False).items():
        if k not in ("pretrained", "device"):
            assert loaded.get_params()[k] == v, k
    assert isinstance(loaded.pretrained, PretrainedM2S)
    assert list(loaded.classes_) == list(fitted.classes_)
    assert loaded.classes_.dtype == fitted.classes_.dtype
    np.testing.assert_array_equal(loaded.scalers_["eeg"].mean_, fitted.scalers_["eeg"].mean_)
    assert len(loaded.history_) == len(fitted.history_)
    assert len(loaded.pretrained.history) == len(fitted.pretrained.history)
    # the loaded pre-trained encoders fine-tune again; clone keeps them
    again = clone(loaded).set_params(max_epochs=2)
    assert isinstance(again.pretrained, PretrainedM2S)  # clone keeps (a copy of) them
    np.testing.assert_array_equal(loaded.transform({"eeg": test_eeg}),
                                  fitted.transform({"eeg": test_eeg}))


def test_model_card_and_versions(model_file):
    card = model_card(model_file)
    assert card["kind"] == "M2SClassifier" and card["format_version"] == FORMAT_VERSION
    assert card["torch_version"] == torch.__version__
    assert card["fine_tuned_modality"] == "eye"
    assert card["feature_specs"] == {"eeg": "14x5", "eye": "12"}
    pre = card["pretrained"]
    assert pre["modalities"] == ["eeg", "eye"]
    assert pre["training_data"]["n_samples"] == 360 and pre["training_data"]["n_windows"] == 5
    assert pre["settings"]["embedding_dim"] == SMALL["embedding_dim"]
    assert pre["history"]["epochs"] == SMALL["pretrain_max_epochs"]
    assert pre["history"]["contrastive"]["last"] < pre["history"]["contrastive"]["first"]


def test_pretrained_save_load_and_fine_tune(pretrained_clf, latent_problem, tmp_path):
    xa, xb, y, trial = latent_problem
    train, test = trial < 18, trial >= 18
    path = tmp_path / "encoders.m2s"
    pretrained_clf.pretrained.save(path)
    pre = PretrainedM2S.load(path)
    assert pre.modalities == ["eeg", "eye"]
    ref = pretrained_clf.pretrained.network.state_dict()
    for k, v in pre.network.state_dict().items():
        assert torch.equal(v, ref[k]), k
    settings = dict(SMALL, max_epochs=5)
    a = M2SClassifier(**settings, pretrained=pre).fit(xb[train], y[train])
    b = M2SClassifier(**settings, pretrained=pretrained_clf.pretrained).fit(xb[train], y[train])
    np.testing.assert_array_equal(a.predict_proba({"eeg": xa[test]}),
                                  b.predict_proba({"eeg": xa[test]}))
    with pytest.raises(ModelFileError, match="holds a PretrainedM2S.*PretrainedM2S.load"):
        M2SClassifier.load(path)


def test_unfitted_estimator_roundtrip(tmp_path):
    clf = M2SClassifier(task="eye->eeg", lr=0.5, modality_map={"eeg": ["eeg"]})
    clf.save(tmp_path / "u.m2s")
    loaded = M2SClassifier.load(tmp_path / "u.m2s", device="cpu")
    assert loaded.task == "eye->eeg" and loaded.lr == 0.5
    assert loaded.modality_map == {"eeg": ["eeg"]}
    assert not hasattr(loaded, "head_")


def test_load_refuses_a_pickle_before_running_it(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (Path.touch, (marker,))

    path = tmp_path / "evil.m2s"
    path.write_bytes(pickle.dumps(Evil()))
    with pytest.raises(ModelFileError, match="pickle.*refuses"):
        M2SClassifier.load(path)
    with pytest.raises(ModelFileError, match="pickle"):
        PretrainedM2S.load(path)
    with pytest.raises(ModelFileError, match="pickle"):
        model_card(path)
    assert not marker.exists()
    # the crafted file does run code when unpickled: the test above is meaningful
    pickle.loads(path.read_bytes())
    assert marker.exists()


@pytest.mark.parametrize(
    "damage, match",
    [
        (lambda b: b[: len(b) // 2], "truncated|corrupted"),
        (lambda b: b[:20], "truncated"),
        (lambda b: b[:5], "too short"),
        (lambda b: b"", "too short"),
        (lambda b: b[:8] + b"#" + b[9:], "header is corrupted|not an mne-m2s"),
        (lambda b: b"PK\x03\x04" + b[4:], "zip archive"),
        (lambda b: b"hello world, not a model at all", "not an mne-m2s model file"),
    ],
)
def test_damaged_files_get_clear_errors(model_file, tmp_path, damage, match):
    bad = tmp_path / "bad.m2s"
    bad.write_bytes(damage(model_file.read_bytes()))
    with pytest.raises(ModelFileError, match=match):
        M2SClassifier.load(bad)


def test_corrupted_tensor_bytes_and_description(model_file, tmp_path):
    from safetensors.torch import load, save

    blob = model_file.read_bytes()
    n = int.from_bytes(blob[:8], "little")
    meta = json.loads(blob[8 : 8 + n])["__metadata__"]
    tensors = load(blob)
    # a weight of the wrong shape
    key = next(k for k in tensors if k.startswith("head/"))
    tensors[key] = torch.zeros(tensors[key].numel() + 1)  # never the right shape
    bad = tmp_path / "shape.m2s"
    bad.write_bytes(save(tensors, metadata=meta))
    with pytest.raises(ModelFileError, match="do not fit the architecture"):
        M2SClassifier.load(bad)
    # a newer format
    doc = json.loads(meta[_persistence.META_KEY])
    doc["format_version"] = FORMAT_VERSION + 1
    newer = tmp_path / "newer.m2s"
    newer.write_bytes(save(load(blob), metadata={_persistence.META_KEY: json.dumps(doc)}))
    with pytest.raises(ModelFileError, match="newer than this mne-m2s.*Upgrade"):
        M2SClassifier.load(newer)
    # a safetensors file that mne-m2s did not write
    foreign = tmp_path / "foreign.safetensors"
    foreign.write_bytes(save({"w": torch.ones(2)}))
    with pytest.raises(ModelFileError, match="not written by mne-m2s"):
        M2SClassifier.load(foreign)
    with pytest.raises(FileNotFoundError, match="No model file"):
        M2SClassifier.load(tmp_path / "missing.m2s")


def test_failed_save_leaves_no_partial_file(fitted, tmp_path, monkeypatch):
    path = tmp_path / "model.m2s"

    def boom(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(_persistence, "_serialize", boom)
    with pytest.raises(RuntimeError, match="disk on fire"):
        fitted.save(path)
    assert list(tmp_path.iterdir()) == []
    # an existing file survives a failed overwrite
    monkeypatch.undo()
    fitted.save(path)
    before = path.read_bytes()

    def failing_fsync(fd):  # the bytes are written, the disk fails before the rename
        raise OSError("no space left on device")

    monkeypatch.setattr(os, "fsync", failing_fsync)  # the atomic writer's fsync
    with pytest.raises(OSError, match="no space"):
        fitted.save(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.m2s"]


def test_pickling_for_joblib_still_works(fitted, test_eeg):
    again = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(again.predict_proba({"eeg": test_eeg}),
                                  fitted.predict_proba({"eeg": test_eeg}))


def test_extractors_travel_as_settings(tmp_path):
    from mne_m2s.features import DifferentialEntropy

    clf = M2SClassifier(feature_extractors={"eeg": DifferentialEntropy(window=2.0)})
    clf.save(tmp_path / "x.m2s")
    loaded = M2SClassifier.load(tmp_path / "x.m2s")
    est = loaded.feature_extractors["eeg"]
    assert type(est) is DifferentialEntropy and est.window == 2.0

    from sklearn.preprocessing import FunctionTransformer

    foreign = M2SClassifier(feature_extractors={"eeg": FunctionTransformer()})
    with pytest.raises(TypeError, match="only this package's extractors"):
        foreign.save(tmp_path / "y.m2s")
    assert not (tmp_path / "y.m2s").exists()
