"""Parallel units: joblib n_jobs and a Dask LocalCluster give the serial results."""

import pandas as pd
import pytest
from dask import distributed

from mne_m2s.datasets import SyntheticEmotion
from mne_m2s.evaluation import CrossModalEvaluation, make_pipelines
from mne_m2s.evaluation.cross_modal import TIME_COLUMNS
from mne_m2s.paradigms import EmotionParadigm

TINY = dict(embedding_dim=8, n_layers=1, n_heads=1, head_dim=4, ffn_dim=16, proj_dim=8,
            pretrain_max_epochs=2, pretrain_batch_size=64, pretrain_lr=3e-3, max_epochs=3,
            batch_size=32, lr=3e-3, device="cpu")


def _evaluation(**kwargs):
    ds = SyntheticEmotion(n_subjects=2, level="features", modalities=("eeg", "eye"),
                          trial_duration=12.0, random_state=0)
    return CrossModalEvaluation(EmotionParadigm(n_windows=5, step=3), [ds], random_state=0,
                                **kwargs)


@pytest.fixture(scope="module")
def serial():
    return _evaluation().process(**make_pipelines(["M2S", "svm"], TINY))


def _scores(results):
    return results.drop(columns=list(TIME_COLUMNS))


def test_joblib_units_equal_serial(serial):
    parallel = _evaluation(n_jobs=2).process(**make_pipelines(["M2S", "svm"], TINY))
    pd.testing.assert_frame_equal(_scores(parallel), _scores(serial))


@pytest.mark.parametrize("processes", [False, True])
def test_dask_local_cluster_equals_serial(serial, processes, tmp_path):
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=processes,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        results = _evaluation(scheduler=client).process(
            **make_pipelines(["M2S", "svm"], TINY), out=tmp_path)
    pd.testing.assert_frame_equal(_scores(results), _scores(serial))
    assert len(list((tmp_path / "units").glob("*.json"))) == 2 * 2  # written as they finished


def test_bad_scheduler():
    with pytest.raises(TypeError, match="scheduler must be None, a Dask scheduler address"):
        _evaluation(scheduler=3).process(**make_pipelines(["svm"], TINY))
