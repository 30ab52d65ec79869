"""The comparison systems are registered methods built from the shared settings."""

import pytest
from sklearn.base import clone

from mne_m2s.evaluation.methods import get_method, list_methods, make_pipelines

SYSTEMS = {
    "BDAE-regressor": ("BDAERegressor", "cross-modal"),
    "BDAE-cGAN": ("BDAECGAN", "cross-modal"),
    "ECO-FET": ("ECOFET", "cross-modal"),
    "Unicode": ("UniCode", "cross-modal"),
    "BDAE": ("BDAEClassifier", "multimodal"),
    "ETF": ("ETFClassifier", "multimodal"),
    "VigilanceNet": ("VigilanceNetClassifier", "multimodal"),
    "MAET": ("MAETClassifier", "multimodal"),
}


def test_registered_with_kind_and_description():
    assert set(SYSTEMS) <= set(list_methods(level="features"))
    for name, (cls_name, kind) in SYSTEMS.items():
        spec = get_method(name)
        assert spec.kind == kind and spec.description
        est = spec.build({})
        assert type(est).__name__ == cls_name
        assert clone(est).get_params() == est.get_params()


def test_shared_settings_reach_the_systems():
    settings = dict(embedding_dim=16, n_layers=1, pretrain_max_epochs=3, max_epochs=4,
                    batch_size=32, lr=2e-3, device="cpu", random_state=7, verbose=0,
                    early_stopping=False)  # an M2S-only setting is ignored
    spec = make_pipelines(list(SYSTEMS), settings, params={"MAET": {"depth": 2}},
                          level="features")
    for name, est in spec["pipelines"].items():
        params = est.get_params()
        assert params["random_state"] == 7 and params["max_epochs"] == 4
        if SYSTEMS[name][1] == "cross-modal":
            assert params["embedding_dim"] == 16 and params["pretrain_max_epochs"] == 3
            assert spec["pretrain"][name]
        else:
            assert not spec["pretrain"][name]
    assert spec["pipelines"]["MAET"].depth == 2
    with pytest.raises(TypeError):
        make_pipelines(["ETF"], {}, params={"ETF": {"no_such_parameter": 1}})


def test_multimodal_table_layout():
    import pandas as pd

    from mne_m2s.evaluation.report import multimodal_table

    rows = [("M2S", "eeg->eeg", 1, 0.8), ("M2S", "eye->eeg", 1, 0.6), ("M2S", "eeg->eeg", 2, 0.6),
            ("M2S", "eye->eeg", 2, 0.4), ("MAET", "eeg+eye->eeg+eye", 1, 0.9),
            ("MAET", "eeg+eye->eeg+eye", 2, 0.7), ("clip", "eye->eeg", 1, 0.5)]
    results = pd.DataFrame(rows, columns=["method", "task", "subject", "balanced_accuracy"])
    table = multimodal_table(results.assign(dataset="D"))
    assert table.values.tolist() == [
        ["MAET", "eeg+eye->eeg+eye", "0.800 ± 0.141"],
        ["M2S", "eeg->eeg", "0.700 ± 0.141"],
        ["M2S", "eye->eeg", "0.500 ± 0.141"],
    ]
    assert multimodal_table(results[results["method"] != "MAET"].assign(dataset="D")).empty
