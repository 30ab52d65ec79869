"""The registry of methods that experiments compare.

A *method* is a named recipe that builds a scikit-learn estimator from a
dict of shared settings, plus what the evaluation needs to know to run it:

``kind``
    * ``"cross-modal"`` — pre-trained without labels on the paired
      multimodal training data (``pretrain(X_multimodal)``), fine-tuned on one
      modality (``fit(X_one_modality, y, groups=...)``) and tested on every
      modality it has an encoder for (``predict(X_any_modality)``; the
      estimator lists them in ``modalities_``). M2S and its contrastive-only
      ablation "clip".
    * ``"single-modal"`` — trained with labels on one modality and tested on
      that modality (tasks ``"eeg->eeg"``, ``"eye->eye"``): the supervised
      encoder, the linear SVM, braindecode raw-EEG models.
    * ``"multimodal"`` — trained with labels on all modalities at once and
      tested with all modalities: ``fit(X_multimodal, y)``,
      ``predict(X_multimodal)``. Its task is named by joining the modalities
      with ``"+"``, e.g. ``"eeg+eye->eeg+eye"`` (the "multimodal performance"
      a single modality is compared against).
``levels``
    Dataset levels the method can read: ``("features",)`` for methods on
    per-window features (SVM), ``("raw",)`` for models of the signals
    (braindecode), both for methods that accept either (M2S, which extracts
    features from Epochs itself).
``modalities``
    Modalities the method can be trained on (``None``: any); e.g.
    ``("eeg",)`` for a raw-EEG network.
``reference``
    Whether the ``"reference"`` protocol (the reference implementation's
    selection on test data, for comparison only) can run it: it needs an
    estimator trained by epochs with ``lr`` and ``weight_decay`` (the
    :class:`~mne_m2s.M2SClassifier` methods).

The *settings* handed to a method's factory are the
:class:`~mne_m2s.M2SClassifier` hyper-parameters shared by every method of
an experiment (architecture, schedules, ``device``, ``random_state``,
``verbose``); a factory takes what it needs and ignores the rest, so one
settings dict configures M2S and its baselines alike. Per-method overrides go
in ``params`` (e.g. ``{"svm": {"C": 0.1}}``).

Register your own method with :func:`register_method`::

    from sklearn.pipeline import make_pipeline
    register_method(
        "lda", lambda settings, **params: make_pipeline(Flatten(), LDA(**params)),
        description="LDA on flattened feature windows",
        kind="single-modal", levels=("features",),
    )
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field

from ..utils._checks import _suggest, check_type

#: Kinds of methods (see the module docstring).
KINDS = ("cross-modal", "single-modal", "multimodal")
#: Dataset levels.
LEVELS = ("features", "raw")

#: Loss weights of the contrastive-only ablation (SPEC.md §5, "CLIP").
CLIP_WEIGHTS = dict(cpc_weight=0.0, recon_weight=0.0, club_weight=0.0)

@dataclass(frozen=True)
class MethodSpec:
    """A registered method.

    Parameters
    ----------
    name : str
        Name used in results, reports and ``--methods``.
    factory : callable
        ``factory(settings, **params) -> estimator``: a new, unfitted
        scikit-learn estimator from the shared settings (a dict) and the
        method's own parameters.
    description : str
        One line printed in reports.
    kind : {"cross-modal", "single-modal", "multimodal"}
        How the evaluation trains and tests it (module docstring).
    levels : tuple of str
        Dataset levels it reads (``"features"``, ``"raw"``).
    modalities : tuple of str | None
        Modalities it can be trained on; ``None``: any.
    reference : bool
        Whether the ``"reference"`` protocol can run it.
    """

    name: str
    factory: object = field(repr=False)
    description: str
    kind: str
    levels: tuple = LEVELS
    modalities: tuple | None = None
    reference: bool = False

    def build(self, settings=None, **params):
        """A new estimator of this method.

        Parameters
        ----------
        settings : dict | None
            Shared settings (see the module docstring).
        **params
            The method's own parameters.

        Returns
        -------
        estimator : scikit-learn estimator
        """
        est = self.factory(dict(settings or {}), **params)
        for attr in ("fit", "predict", "get_params"):
            if not callable(getattr(est, attr, None)):
                raise TypeError(
                    f"The factory of method {self.name!r} returned a {type(est).__name__}, which "
                    f"is not a scikit-learn estimator (no {attr})."
                )
        if self.kind == "cross-modal" and not callable(getattr(est, "pretrain", None)):
            raise TypeError(
                f"Method {self.name!r} is cross-modal but its {type(est).__name__} has no "
                "pretrain method."
            )
        return est

    def check_level(self, level, where=""):
        """Raise a ValueError unless this method can read data of ``level``."""
        if level not in self.levels:
            raise ValueError(
                f"Method {self.name!r} reads {' or '.join(self.levels)}-level data only, but "
                f"{where or 'the dataset'} is at the {level!r} level. Drop {self.name!r} from "
                f"the methods, or use a dataset level among {list(self.levels)}."
            )


_REGISTRY: dict[str, MethodSpec] = {}


def register_method(name, factory, *, description, kind, levels=LEVELS, modalities=None,
                    reference=False, overwrite=False):
    """Add a method to the registry.

    Parameters
    ----------
    name : str
        Unique name (results, reports, ``mne-m2s evaluate --methods``).
    factory : callable
        ``factory(settings, **params) -> estimator`` (see :class:`MethodSpec`).
    description : str
        One line describing the method (printed in reports).
    kind : {"cross-modal", "single-modal", "multimodal"}
        How it is trained and tested.
    levels : tuple of str
        Dataset levels it reads: ``("features",)``, ``("raw",)`` (e.g.
        braindecode models of the signals) or both.
    modalities : tuple of str | None
        Modalities it can be trained on (``("eeg",)`` for a raw-EEG network);
        ``None``: any.
    reference : bool
        The ``"reference"`` protocol can run it (estimators trained by epochs
        with ``lr`` / ``weight_decay`` parameters, like M2SClassifier).
    overwrite : bool
        Replace a method of the same name instead of raising.

    Returns
    -------
    spec : MethodSpec
    """
    check_type("name", name, str)
    if not name or name.strip() != name or "/" in name:
        raise ValueError(f"A method name must be a non-empty string without '/' or surrounding "
                         f"spaces, got {name!r}.")
    if not callable(factory):
        raise TypeError(f"factory must be callable, got {type(factory).__name__}.")
    check_type("description", description, str)
    if not description.strip() or "\n" in description.strip():
        raise ValueError(f"description must be one non-empty line, got {description!r}.")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}.{_suggest(kind, KINDS)}")
    levels = (levels,) if isinstance(levels, str) else tuple(levels)
    bad = [lv for lv in levels if lv not in LEVELS]
    if not levels or bad:
        raise ValueError(f"levels must be a non-empty subset of {LEVELS}, got {levels!r}.")
    if modalities is not None:
        modalities = (modalities,) if isinstance(modalities, str) else tuple(modalities)
    if name in _REGISTRY and not overwrite:
        raise ValueError(f"A method named {name!r} is already registered; pass overwrite=True "
                         "to replace it, or choose another name.")
    spec = MethodSpec(name=name, factory=factory, description=description.strip(), kind=kind,
                      levels=levels, modalities=modalities, reference=bool(reference))
    _REGISTRY[name] = spec
    return spec


def unregister_method(name):
    """Remove a method from the registry (returns its :class:`MethodSpec`)."""
    spec = get_method(name)
    del _REGISTRY[spec.name]
    return spec


def get_method(name):
    """The :class:`MethodSpec` registered as ``name``.

    Parameters
    ----------
    name : str

    Returns
    -------
    spec : MethodSpec
    """
    check_type("method", name, str)
    if name not in _REGISTRY:
        raise ValueError(
            f"Unknown method {name!r}; registered methods are {list(_REGISTRY)}."
            f"{_suggest(name, list(_REGISTRY))} Register new ones with "
            "mne_m2s.evaluation.register_method."
        )
    return _REGISTRY[name]


def list_methods(level=None, kind=None):
    """Names of the registered methods, in registration order.

    Parameters
    ----------
    level : str | None
        Keep the methods that read this dataset level.
    kind : str | None
        Keep the methods of this kind.

    Returns
    -------
    names : list of str
    """
    return [n for n, s in _REGISTRY.items()
            if (level is None or level in s.levels) and (kind is None or s.kind == kind)]


def describe_methods(names=None):
    """One line per method: ``name (kind): description``.

    Parameters
    ----------
    names : list of str | None
        Methods to describe (default: all registered).

    Returns
    -------
    lines : list of str
    """
    names = list_methods() if names is None else names
    return [f"{s.name} ({s.kind}): {s.description}" for s in map(get_method, names)]


def make_pipelines(methods, settings=None, params=None, level=None):
    """Build the estimators of registered methods for an evaluation.

    Parameters
    ----------
    methods : list of str
        Registered method names.
    settings : dict | None
        Shared settings (``M2SClassifier`` hyper-parameters, ``device``,
        ``random_state``, ``verbose``).
    params : dict of str -> dict | None
        Per-method parameters, e.g. ``{"svm": {"C": 0.1}}``.
    level : str | None
        The dataset level: methods that cannot read it raise a ValueError.

    Returns
    -------
    spec : dict
        ``{"pipelines": {name: estimator}, "pretrain": {name: bool},
        "kinds": {name: kind}, "train_modalities": {name: modalities}}``, the
        keyword arguments of
        :meth:`~mne_m2s.evaluation.CrossModalEvaluation.process`.
    """
    if isinstance(methods, str):
        methods = [methods]
    methods = list(methods)
    if not methods:
        raise ValueError(f"methods is empty; choose among {list_methods()}.")
    if len(set(methods)) != len(methods):
        raise ValueError(f"methods has duplicates: {methods}.")
    params = dict(params or {})
    unknown = [k for k in params if k not in methods]
    if unknown:
        raise ValueError(f"params names method(s) {unknown} that are not evaluated "
                         f"({methods}).{_suggest(unknown[0], methods)}")
    specs = [get_method(m) for m in methods]
    if level is not None:
        for spec in specs:
            spec.check_level(level)
    pipelines = {s.name: s.build(settings, **params.get(s.name, {})) for s in specs}
    return {
        "pipelines": pipelines,
        "pretrain": {s.name: s.kind == "cross-modal" for s in specs},
        "kinds": {s.name: s.kind for s in specs},
        "train_modalities": {s.name: s.modalities for s in specs if s.modalities is not None},
    }


# ------------------------------------------------------------ built-in methods
def _m2s_settings(settings):
    from ..classifier import M2SClassifier

    allowed = inspect.signature(M2SClassifier).parameters
    bad = [k for k in settings if k not in allowed]
    if bad:
        raise ValueError(
            f"settings has key(s) {bad} that M2SClassifier does not take."
            f"{_suggest(bad[0], list(allowed))}"
        )
    return M2SClassifier, settings


def _m2s(settings, **params):
    cls, settings = _m2s_settings(settings)
    return cls(**{**settings, **params})


def _clip(settings, **params):
    cls, settings = _m2s_settings(settings)
    return cls(**{**settings, **CLIP_WEIGHTS, **params})


def _supervised(settings, **params):
    cls, settings = _m2s_settings(settings)
    return cls(**{**settings, **params})


def _fusion(settings, **params):
    from ..baselines.fusion import FusionClassifier

    allowed = inspect.signature(FusionClassifier).parameters
    kwargs = {k: v for k, v in settings.items() if k in allowed}
    return FusionClassifier(**{**kwargs, **params})


def _svm(settings, **params):
    from ..baselines.svm import make_svm

    return make_svm(**{"random_state": settings.get("random_state"), **params})


register_method(
    "M2S", _m2s, kind="cross-modal", reference=True,
    description="Multi-to-Single: contrastive + M2M CPC + reconstruction + CLUB pre-training, "
                "frozen encoders, classifier fine-tuned on one modality",
)
register_method(
    "clip", _clip, kind="cross-modal", reference=True,
    description="contrastive-only (CLIP-style InfoNCE) pre-training with the same encoders and "
                "fine-tuning (CPC, reconstruction and CLUB weights 0)",
)
register_method(
    "supervised", _supervised, kind="single-modal", reference=True,
    description="the M2S encoder and classifier of one modality trained end to end with labels "
                "(no pre-training)",
)
register_method(
    "fusion", _fusion, kind="multimodal",
    description="supervised multimodal reference: every modality's encoder trained end to end "
                "with labels, projections concatenated, tested with all modalities",
)
register_method(
    "svm", _svm, kind="single-modal", levels=("features",),
    description="linear SVM on per-window features (mean over the sample's windows), "
                "standardised with statistics of the training trials",
)


def _braindecode(model):
    """Factory of the braindecode baseline ``model`` (raw EEG, labels, no pre-training)."""

    def factory(settings, **params):
        from ..baselines.braindecode import BraindecodeClassifier

        shared = {k: settings[k] for k in ("device", "random_state") if k in settings}
        return BraindecodeClassifier(model, **{**shared, **params})

    return factory


def _register_braindecode():
    from ..baselines.braindecode import BRAINDECODE_MODELS  # no braindecode import

    for model, description in BRAINDECODE_MODELS.items():
        register_method(
            model, _braindecode(model), kind="single-modal", levels=("raw",),
            modalities=("eeg",), description=f"braindecode, raw EEG: {description}",
        )


_register_braindecode()


def _baseline(class_name):
    """Factory of a comparison system of :mod:`mne_m2s.baselines` (takes the settings it has)."""

    def factory(settings, **params):
        from .. import baselines

        cls = getattr(baselines, class_name)
        allowed = inspect.signature(cls).parameters
        return cls(**{**{k: v for k, v in settings.items() if k in allowed}, **params})

    factory.__name__ = f"_{class_name}"
    return factory


# The paper's comparison systems (SPEC.md §5; fidelity notes in their docstrings).
for _name, _cls, _kind, _description in (
    ("BDAE-regressor", "BDAERegressor", "cross-modal",
     "BDAE multimodal features (EEG + eye) regressed from each single modality, M2S encoders "
     "and head (Liu et al. 2016; Yan et al. 2021, stage II without adversary)"),
    ("BDAE-cGAN", "BDAECGAN", "cross-modal",
     "conditional GAN mapping each single modality onto BDAE multimodal features, M2S encoders "
     "and head (Yan, Zhao, Lu, ACM MM 2021)"),
    ("ECO-FET", "ECOFET", "cross-modal",
     "EEG-eye contrastive pre-training with a functional-connectivity EEG transformer, "
     "prototype classification from the labelled modality (Jiang et al., ICASSP 2024)"),
    ("Unicode", "UniCode", "cross-modal",
     "unified discrete codebook shared by the modalities (DCID + MM-EMA), M2S head on the "
     "quantised features (Xia et al., NeurIPS 2023)"),
    ("BDAE", "BDAEClassifier", "multimodal",
     "bimodal deep autoencoder shared features of EEG + eye, linear SVM (Liu, Zheng, Lu, "
     "ICONIP 2016)"),
    ("ETF", "ETFClassifier", "multimodal",
     "emotion transformer fusion: per-modality temporal transformers, fusion transformer "
     "(Wang, Jiang, Lu, BIBM 2021)"),
    ("VigilanceNet", "VigilanceNetClassifier", "multimodal",
     "outer-product eye embedding, intra-modality transformers, cross-modal transformer "
     "(Cheng et al., SMC 2022)"),
    ("MAET", "MAETClassifier", "multimodal",
     "multimodal adaptive emotion transformer, matched to the public reference (Jiang et al., "
     "ACM MM 2023)"),
):
    register_method(_name, _baseline(_cls), kind=_kind, levels=("features",),
                    description=_description)
del _name, _cls, _kind, _description


__all__ = [
    "CLIP_WEIGHTS",
    "KINDS",
    "MethodSpec",
    "describe_methods",
    "get_method",
    "list_methods",
    "make_pipelines",
    "register_method",
    "unregister_method",
]
