"""Pre-training one encoder set on a whole corpus (every selected subject-session).

:func:`pretrain_corpus` loads the unlabelled paired multimodal samples of every
selected subject and session of a dataset (through
:class:`~mne_m2s.paradigms.EmotionParadigm`), pre-trains an
:class:`~mne_m2s.M2SClassifier` on all of them together — data-parallel when it
runs inside a :mod:`torch.distributed` process group, e.g. under ``torchrun``
— and can save the pre-trained encoders to a model file that
``M2SClassifier(pretrained=PretrainedM2S.load(path))`` fine-tunes from.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .distributed import get_context
from .utils._logging import logger


def _collective(context, fn, *args, **kwargs):
    """Run ``fn`` on every rank; an error on any rank is raised on every rank."""
    if context is None:
        return fn(*args, **kwargs)
    result, error = None, None
    try:
        result = fn(*args, **kwargs)
    except Exception as err:  # noqa: BLE001 - re-raised on every rank
        error = err
    context.raise_if_any(error)
    return result


def check_output_file(out, context=None):
    """Check, before a long run, that the model file ``out`` can be written.

    A temporary file is created and removed in ``out``'s folder (on rank 0 in
    a process group; the outcome is shared, so every rank raises the same
    error). Nothing is left behind.

    Raises
    ------
    ValueError
        Naming the path and the reason, when it cannot be written.
    """
    from .checkpoint import check_writable_dir

    def _check():
        path = Path(out)
        if path.is_dir():
            raise ValueError(f"--out/out must be a file name, but {str(path)!r} is a folder.")
        if not path.parent.is_dir():
            raise ValueError(
                f"Cannot write the model file {str(path)!r}: its folder "
                f"{str(path.parent)!r} does not exist. Create it first."
            )
        check_writable_dir(path.parent, "The folder of the model file (--out)")

    if context is None:
        _check()
    else:
        context.run_on_main(_check)


def load_corpus(dataset, subjects=None, paradigm=None):
    """Paired multimodal samples of every selected subject-session of ``dataset``.

    Parameters
    ----------
    dataset : BaseEmotionDataset
    subjects : list of int | None
        Default: all of ``dataset.subject_list``.
    paradigm : EmotionParadigm | None
        Default: ``EmotionParadigm()`` (``T = 5`` windows, stride 1).

    Returns
    -------
    X : dict of str -> ndarray | mne.Epochs
        Feature-level datasets: ``{modality: (n_samples, n_windows, ...)}``;
        signal-level datasets: Epochs with every modality.
    meta : pandas.DataFrame
        One row per sample (``subject``, ``session``, ``run`` …). Labels are
        not used.
    """
    from .paradigms import EmotionParadigm

    paradigm = EmotionParadigm() if paradigm is None else paradigm
    X, _, meta = paradigm.get_data(dataset, subjects=subjects)
    return X, meta


def pretrain_corpus(dataset, subjects=None, *, paradigm=None, estimator=None, out=None):
    """Pre-train M2S encoders on every selected subject-session of a dataset.

    Inside an initialised :mod:`torch.distributed` process group (``torchrun``)
    the pre-training is data-parallel (see :mod:`mne_m2s.distributed`): every
    rank loads the same corpus and encodes its shard of each global batch;
    only rank 0 logs and writes ``out``; every rank returns the same
    estimator.

    Parameters
    ----------
    dataset : BaseEmotionDataset
        A dataset with at least two modalities (e.g. SEED-IV at its feature level).
    subjects : list of int | None
        Subjects to pre-train on (default: all). Every session of each is used.
    paradigm : EmotionParadigm | None
        How samples are cut (default: ``EmotionParadigm()``, the paper's T = 5).
    estimator : M2SClassifier | None
        The estimator to pre-train (its settings, device, checkpointing);
        default ``M2SClassifier()`` with the paper's settings. Not modified:
        a clone is pre-trained.
    out : path-like | None
        Model file to write the pre-trained encoders to
        (:meth:`PretrainedM2S.save <mne_m2s.PretrainedM2S.save>`). Checked
        before pre-training starts; written atomically.

    Returns
    -------
    clf : M2SClassifier
        The pre-trained clone; ``clf.pretrained`` holds the encoders.
    meta : pandas.DataFrame
        One row per pre-training sample.
    """
    from sklearn.base import clone

    from . import M2SClassifier

    context = get_context()
    if out is not None:
        check_output_file(out, context)
    clf = clone(M2SClassifier() if estimator is None else estimator)
    X, meta = _collective(context, load_corpus, dataset, subjects, paradigm)
    if isinstance(X, dict) and len(X) < 2:
        raise ValueError(
            f"{dataset.code} gave {len(X)} modality ({', '.join(X)}); corpus pre-training "
            "pairs at least two (e.g. EEG and eye movements)."
        )
    sessions = meta.groupby(["subject", "session"]).ngroups
    logger.info(
        "Corpus pre-training on %s: %d subject(s), %d subject-session(s), %d samples.",
        dataset.code, meta["subject"].nunique(), sessions, len(meta),
    )
    clf.pretrain(X)
    if out is not None:
        pretrained = clf.pretrained
        if context is None:
            pretrained.save(out)
        else:
            context.run_on_main(pretrained.save, out)
        logger.info("Pre-trained encoders written to %s.", out)
    return clf, meta


def corpus_summary(meta):
    """``{"subjects": n, "sessions": n, "samples": n}`` of a corpus' metadata."""
    return {
        "subjects": int(meta["subject"].nunique()),
        "sessions": int(meta.groupby(["subject", "session"]).ngroups),
        "samples": int(len(meta)),
        "trials": int(meta.groupby(["subject", "session", "run"]).ngroups),
        "samples_per_session": float(np.round(len(meta) / max(1, len(
            meta.groupby(["subject", "session"]))), 1)),
    }


__all__ = ["check_output_file", "corpus_summary", "load_corpus", "pretrain_corpus"]
