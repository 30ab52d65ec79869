"""Model files that execute nothing when loaded, and :class:`PretrainedM2S`.

A model file is one `safetensors <https://huggingface.co/docs/safetensors>`_
file: every tensor (network weights, scaler statistics) is a named tensor, and
everything else — the configuration, classes, modality specs, fitted feature
extractor settings, package and torch versions, the format version and a short
model card — is JSON in the file's metadata (key ``"mne_m2s"``). Reading it
parses JSON and copies tensors; no code from the file runs (no pickle, no
class named by the file is imported: extractors are rebuilt only from a fixed
list of this package's classes).

Files are written atomically: to a temporary file in the target directory,
flushed, then renamed over the target, so a failure leaves no partial file
and an existing file intact.
"""

import json
from pathlib import Path

import numpy as np
import torch

from ._version import __version__
from .modalities import ModalitySpec
from .utils._io import atomic_write
from .utils._logging import logger

#: Version of the file layout written by this package; files with a larger
#: version need a newer mne-m2s.
FORMAT_VERSION = 1
#: Metadata key of the JSON document.
META_KEY = "mne_m2s"
_FORMAT_NAME = "mne-m2s model file"


class ModelFileError(ValueError):
    """A model file that is not a readable mne-m2s model file of the expected kind."""


class ModelKindError(ModelFileError, TypeError):
    """A readable mne-m2s model file holding another kind of object."""


class PretrainedM2S:
    """What :meth:`M2SClassifier.pretrain` learned (kept by :func:`sklearn.base.clone`).

    Stored in the ``pretrained`` parameter of :class:`~mne_m2s.M2SClassifier`.
    Always on the CPU; estimators copy what they need to their device. Share
    it on its own with :meth:`save` / :meth:`load`::

        clf.pretrained.save("encoders.m2s")
        M2SClassifier(pretrained=PretrainedM2S.load("encoders.m2s")).fit(eye_epochs)

    Parameters
    ----------
    network : M2SNetwork
        The pre-trained multimodal network (evaluation mode).
    specs : dict of str -> ModalitySpec
        Input layout of each modality.
    scalers : dict of str -> StandardScaler | None
        Per-modality standardisation fitted on the pre-training windows.
    config : dict
        Architecture settings the network was built with (keyword arguments
        of :class:`~mne_m2s.nn.m2s.M2SNetwork`, ``cpc_steps`` included).
    history : skorch.History
        Per-epoch pre-training losses (``train_loss``, ``contrastive``, ``cpc``,
        ``recon``, ``club``, ``mi_loglik``, ``dur``).
    extractors : dict | None
        Fitted feature extractors when pre-training consumed MNE Epochs.
    training : dict | None
        Description of the pre-training run (samples, windows, window length,
        loss weights, schedule), for the model card.

    Attributes
    ----------
    modalities : list of str
    """

    def __init__(self, network, specs, scalers, config, history, extractors=None,
                 training=None):
        self.network = network
        self.specs = specs
        self.scalers = scalers
        self.config = config
        self.history = history
        self.extractors = extractors
        self.training = training or {}

    @property
    def modalities(self):
        """Names of the pre-trained modalities."""
        return list(self.specs)

    @property
    def window(self):
        """Window length in seconds of the pre-training data (None if unknown)."""
        return self.training.get("window")

    def __repr__(self):
        mods = ", ".join(f"{m}: {s.describe()}" for m, s in self.specs.items())
        return f"<PretrainedM2S | {mods} | {len(self.history)} epochs>"

    def model_card(self):
        """Short description: modalities, feature specs, training data, settings, history.

        Returns
        -------
        card : dict
            JSON-serialisable.
        """
        return {
            "kind": "PretrainedM2S",
            "modalities": self.modalities,
            "feature_specs": {m: s.describe() for m, s in self.specs.items()},
            "training_data": _jsonable(self.training),
            "settings": _jsonable(self.config),
            "feature_extractors": (
                {m: type(e).__name__ for m, e in self.extractors.items()}
                if self.extractors else None
            ),
            "history": history_summary(self.history),
        }

    def save(self, path):
        """Write the pre-trained encoders to ``path`` (safe format, written atomically).

        Parameters
        ----------
        path : path-like
            File to write, e.g. ``"encoders.m2s"``.
        """
        tensors = {}
        state = pretrained_state(self, tensors, "pretrained")
        write_model_file(path, "PretrainedM2S", state, tensors, self.model_card())

    @classmethod
    def load(cls, path):
        """Read pre-trained encoders written by :meth:`save` (nothing in the file runs).

        Parameters
        ----------
        path : path-like

        Returns
        -------
        pretrained : PretrainedM2S
            On the CPU, in evaluation mode.
        """
        state, tensors = read_model_file(path, "PretrainedM2S")
        return pretrained_from_state(state, tensors, "pretrained", path)


# --------------------------------------------------------------------- JSON
def _jsonable(obj, where="value"):
    """Plain JSON types from numpy/tuples; ndarrays as tagged lists; else a TypeError."""
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if not isinstance(k, str):
                raise TypeError(f"{where} has a non-str key {k!r}; it cannot be stored.")
            out[k] = _jsonable(v, f"{where}[{k!r}]")
        return out
    if isinstance(obj, tuple):
        return {"__tuple__": [_jsonable(v, where) for v in obj]}
    if isinstance(obj, list):
        return [_jsonable(v, where) for v in obj]
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind not in "biufUO":
            raise TypeError(f"{where} is an array of dtype {obj.dtype}; it cannot be stored.")
        kind = "object" if obj.dtype.kind == "O" else obj.dtype.str
        return {"__ndarray__": [_jsonable(v, where) for v in obj.tolist()], "dtype": kind,
                "shape": list(obj.shape)}
    raise TypeError(f"{where} is a {type(obj).__name__}, which a model file cannot store.")


def _from_json(obj):
    """Inverse of :func:`_jsonable` (builds only lists, tuples, dicts and ndarrays)."""
    if isinstance(obj, list):
        return [_from_json(v) for v in obj]
    if isinstance(obj, dict):
        if "__tuple__" in obj and len(obj) == 1:
            return tuple(_from_json(v) for v in obj["__tuple__"])
        if "__ndarray__" in obj:
            dtype = object if obj["dtype"] == "object" else np.dtype(obj["dtype"])
            values = obj["__ndarray__"]
            arr = np.empty(len(values), dtype=object) if dtype is object else None
            if arr is not None:
                arr[:] = [_from_json(v) for v in values] if values else []
                return arr.reshape(obj["shape"])
            return np.asarray(values, dtype=dtype).reshape(obj["shape"])
        return {k: _from_json(v) for k, v in obj.items()}
    return obj


def history_summary(history):
    """Epochs and first / last value of each recorded loss of a skorch History."""
    if history is None or not len(history):
        return {"epochs": 0}
    keys = [k for k in ("train_loss", "valid_loss", "contrastive", "cpc", "recon", "club",
                        "mi_loglik") if k in history[-1]]
    out = {"epochs": len(history)}
    for k in keys:
        first = history[0].get(k)
        out[k] = {"first": None if first is None else float(first),
                  "last": float(history[-1][k])}
    return out


def history_to_json(history):
    """A skorch History as JSON-able epochs (the per-batch records included)."""
    return _jsonable([dict(epoch) for epoch in (history or [])], "history")


def history_from_json(obj):
    from skorch.history import History

    return History(_from_json(obj))


# ---------------------------------------------------------------- tensors
def module_tensors(module, tensors, prefix):
    """Put ``module``'s state dict into ``tensors`` under ``prefix/`` (CPU copies)."""
    for k, v in module.state_dict().items():
        tensors[f"{prefix}/{k}"] = v.detach().to("cpu").contiguous().clone()


def load_module(module, tensors, prefix, path):
    """Load the tensors under ``prefix/`` into ``module`` (strict: names and shapes)."""
    sub = {k[len(prefix) + 1:]: v for k, v in tensors.items() if k.startswith(prefix + "/")}
    try:
        module.load_state_dict(sub, strict=True)
    except RuntimeError as err:
        raise ModelFileError(
            f"{path}: the weights under {prefix!r} do not fit the architecture the file "
            f"describes ({str(err).splitlines()[0]}). The file is corrupted or was edited."
        ) from None
    return module


def scaler_state(scaler, tensors, prefix):
    if scaler is None:
        return None
    for name in ("mean_", "scale_", "var_"):
        value = getattr(scaler, name, None)
        if value is not None:
            tensors[f"{prefix}/{name}"] = torch.from_numpy(np.array(value, copy=True))
    return {"params": _jsonable(scaler.get_params()),
            "n_samples_seen_": _jsonable(scaler.n_samples_seen_),
            "n_features_in_": int(scaler.n_features_in_)}


def scaler_from_state(state, tensors, prefix, path):
    from sklearn.preprocessing import StandardScaler

    if state is None:
        return None
    scaler = StandardScaler(**_from_json(state["params"]))
    for name in ("mean_", "scale_", "var_"):
        key = f"{prefix}/{name}"
        setattr(scaler, name, tensors[key].numpy().copy() if key in tensors else None)
    scaler.n_samples_seen_ = _from_json(state["n_samples_seen_"])
    scaler.n_features_in_ = int(state["n_features_in_"])
    if scaler.mean_ is not None and len(scaler.mean_) != scaler.n_features_in_:
        raise ModelFileError(f"{path}: scaler statistics under {prefix!r} are inconsistent.")
    return scaler


# ------------------------------------------------------------- extractors
def _extractor_classes():
    from .features import DifferentialEntropy, EyeMovementFeatures, PeripheralFeatures

    return {c.__name__: c for c in (DifferentialEntropy, EyeMovementFeatures,
                                    PeripheralFeatures)}


def extractors_state(extractors):
    """Settings (``get_params``) and fitted attributes of this package's extractors."""
    if extractors is None:
        return None
    known = _extractor_classes()
    out = {}
    for m, est in extractors.items():
        name = type(est).__name__
        if known.get(name) is not type(est):
            raise TypeError(
                f"The feature extractor of modality {m!r} is a {name}; a model file can "
                f"store only this package's extractors ({', '.join(known)}), as settings "
                "rather than code. Save the estimator with pickle/joblib instead, or use "
                "feature arrays as input."
            )
        fitted = {k: v for k, v in vars(est).items() if k.endswith("_") and not k.startswith("_")}
        out[m] = {"class": name,
                  "params": _jsonable(est.get_params(deep=False), f"{name} parameters"),
                  "fitted": _jsonable(fitted, f"fitted {name}")}
    return out


def extractors_from_state(state, path):
    if state is None:
        return None
    known = _extractor_classes()
    out = {}
    for m, entry in state.items():
        cls = known.get(entry.get("class"))
        if cls is None:
            raise ModelFileError(
                f"{path}: modality {m!r} names the feature extractor {entry.get('class')!r}, "
                f"which is not one of {sorted(known)}."
            )
        est = cls(**_from_json(entry["params"]))
        for k, v in _from_json(entry["fitted"]).items():
            setattr(est, k, v)
        out[m] = est
    return out


# --------------------------------------------------------- PretrainedM2S
def _spec_state(spec):
    return {"name": spec.name, "n_features": spec.n_features, "n_windows": spec.n_windows,
            "n_chans": spec.n_chans, "n_bands": spec.n_bands}


def specs_from_state(state):
    return {m: ModalitySpec(**s) for m, s in state.items()}


def pretrained_state(pre, tensors, prefix):
    module_tensors(pre.network, tensors, f"{prefix}/network")
    return {
        "config": _jsonable(pre.config),
        "specs": {m: _spec_state(s) for m, s in pre.specs.items()},
        "scalers": {m: scaler_state(s, tensors, f"{prefix}/scalers/{m}")
                    for m, s in pre.scalers.items()},
        "extractors": extractors_state(pre.extractors),
        "history": history_to_json(pre.history),
        "training": _jsonable(pre.training),
    }


def pretrained_from_state(state, tensors, prefix, path):
    from .nn.m2s import M2SNetwork

    try:
        specs = specs_from_state(state["specs"])
        config = _from_json(state["config"])
        network = M2SNetwork({m: (s.n_features, s.n_bands) for m, s in specs.items()}, **config)
    except (KeyError, TypeError, ValueError) as err:
        raise ModelFileError(f"{path}: malformed pre-trained model description ({err}).") \
            from None
    load_module(network, tensors, f"{prefix}/network", path)
    scalers = {m: scaler_from_state(s, tensors, f"{prefix}/scalers/{m}", path)
               for m, s in state["scalers"].items()}
    return PretrainedM2S(
        network.eval(), specs, scalers, config, history_from_json(state["history"]),
        extractors=extractors_from_state(state["extractors"], path),
        training=_from_json(state.get("training") or {}),
    )


# ------------------------------------------------------------ M2SClassifier
#: Constructor parameters not stored among the settings (``pretrained`` is
#: stored as tensors of its own; callbacks are objects).
_UNSAVED_PARAMS = ("pretrained", "callbacks", "pretrain_callbacks")


def _params_state(clf):
    params = {}
    for name, value in clf.get_params(deep=False).items():
        if name in _UNSAVED_PARAMS:
            if value and name != "pretrained":  # pretrained is stored on its own
                logger.warning("%s is not saved in the model file (objects are not stored); "
                               "the loaded estimator has %s=None.", name, name)
            continue
        if name == "feature_extractors":
            params[name] = {"__extractors__": extractors_state(value)}
            continue
        try:
            params[name] = _jsonable(value, name)
        except TypeError:
            logger.warning("%s=%r cannot be stored in a model file; the loaded estimator has "
                           "%s=None.", name, value, name)
            params[name] = None
    return params


def _params_from_state(state, path):
    params = {}
    for name, value in state.items():
        if isinstance(value, dict) and "__extractors__" in value:
            params[name] = extractors_from_state(value["__extractors__"], path)
        else:
            params[name] = _from_json(value)
    return params


def classifier_model_card(clf, pre):
    card = {
        "kind": "M2SClassifier",
        "task": clf.task,
        "fitted": hasattr(clf, "head_"),
        "pretrained": pre.model_card() if pre is not None else None,
    }
    if hasattr(clf, "head_"):
        card.update({
            "fine_tuned_modality": clf.modality_,
            "modalities": list(clf.modalities_),
            "classes": _jsonable(np.asarray(clf.classes_).tolist(), "classes_"),
            "feature_specs": {m: s.describe() for m, s in clf.specs_.items()},
            "window": clf.window_,
            "settings": _jsonable(clf.config_),
            "history": history_summary(clf.history_),
        })
    return card


def save_classifier(clf, path):
    """Write an :class:`~mne_m2s.M2SClassifier` (fitted or not) to a model file."""
    tensors = {}
    fitted = getattr(clf, "pretrained_", None)
    state = {
        "params": _params_state(clf),
        "pretrained": (pretrained_state(clf.pretrained, tensors, "pretrained")
                       if clf.pretrained is not None else None),
        "pretrained_fitted": (
            "param" if fitted is not None and fitted is clf.pretrained
            else pretrained_state(fitted, tensors, "pretrained_fitted")
            if fitted is not None else None
        ),
        "fitted": None,
    }
    if hasattr(clf, "head_"):
        for m, emb in clf.encoders_.items():
            module_tensors(emb, tensors, f"encoders/{m}")
        module_tensors(clf.head_, tensors, "head")
        state["fitted"] = {
            "classes_": _jsonable(np.asarray(clf.classes_), "classes_"),
            "modality_": clf.modality_,
            "modalities_": list(clf.modalities_),
            "specs_": {m: _spec_state(s) for m, s in clf.specs_.items()},
            "scalers_": {m: scaler_state(s, tensors, f"scalers/{m}")
                         for m, s in clf.scalers_.items()},
            "history_": history_to_json(clf.history_),
            "n_features_in_": int(clf.n_features_in_),
            "config_": _jsonable(clf.config_),
            "window_": clf.window_,
            "task_": list(clf.task_) if clf.task_ is not None else None,
            "extractors_": extractors_state(getattr(clf, "extractors_", None)),
            "n_classes": len(clf.classes_),
        }
    write_model_file(path, "M2SClassifier", state, tensors,
                     classifier_model_card(clf, fitted or clf.pretrained))


def load_classifier(cls, path, device="auto"):
    """Read an :class:`~mne_m2s.M2SClassifier` written by :func:`save_classifier`."""
    from .nn.encoders import ClassifierHead
    from .nn.m2s import make_embedder
    from .utils.device import resolve_device

    state, tensors = read_model_file(path, "M2SClassifier")
    params = _params_from_state(state["params"], path)
    pre = (pretrained_from_state(state["pretrained"], tensors, "pretrained", path)
           if state.get("pretrained") else None)
    try:
        clf = cls(**params, pretrained=pre)
    except TypeError as err:
        raise ModelFileError(f"{path}: the stored parameters do not fit {cls.__name__} "
                             f"({err}).") from None
    clf.device = device
    fitted_pre = state.get("pretrained_fitted")
    fitted = state.get("fitted")
    if fitted is None:
        return clf
    dev = resolve_device(device)
    specs = specs_from_state(fitted["specs_"])
    config = _from_json(fitted["config_"])
    encoders = {}
    for m, s in specs.items():
        emb = make_embedder(s.n_features, s.n_bands, config)
        encoders[m] = load_module(emb, tensors, f"encoders/{m}", path).eval().to(dev)
    head = ClassifierHead(config["proj_dim"], int(fitted["n_classes"]))
    clf.head_ = load_module(head, tensors, "head", path).eval().to(dev)
    clf.encoders_ = encoders
    clf.classes_ = _from_json(fitted["classes_"])
    clf.modality_ = fitted["modality_"]
    clf.modalities_ = list(fitted["modalities_"])
    clf.specs_ = specs
    clf.scalers_ = {m: scaler_from_state(s, tensors, f"scalers/{m}", path)
                    for m, s in fitted["scalers_"].items()}
    clf.history_ = history_from_json(fitted["history_"])
    clf.n_features_in_ = int(fitted["n_features_in_"])
    clf.config_ = config
    clf.window_ = fitted.get("window_")
    clf.task_ = tuple(fitted["task_"]) if fitted.get("task_") else None
    extractors = extractors_from_state(fitted.get("extractors_"), path)
    if extractors is not None:
        clf.extractors_ = extractors
    if fitted_pre == "param":
        clf.pretrained_ = pre
    elif fitted_pre:
        clf.pretrained_ = pretrained_from_state(fitted_pre, tensors, "pretrained_fitted", path)
    else:
        clf.pretrained_ = None
    clf.device_ = dev
    return clf


# ------------------------------------------------------------------ files
def _serialize(tensors, metadata):
    from safetensors.torch import save

    return save(tensors, metadata=metadata)


def write_model_file(path, kind, state, tensors, card):
    """Write ``tensors`` and the JSON document to ``path`` atomically."""
    path = Path(path)
    doc = {
        "format": _FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "mne_m2s_version": __version__,
        "torch_version": torch.__version__,
        "model_card": card,
        "state": state,
    }
    blob = _serialize(tensors, {META_KEY: json.dumps(doc, allow_nan=True)})
    atomic_write(path, lambda fid: fid.write(blob))
    logger.info("Saved %s to %s (%d tensors).", kind, path, len(tensors))


def _sniff(path, head):
    """Raise a ModelFileError for what is recognisably not a safetensors file."""
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        raise ModelFileError(
            f"{path} is a Python pickle, not an {_FORMAT_NAME}. Pickles can run arbitrary "
            "code when loaded, so load() refuses them (nothing in the file was read). If you "
            "trust it, unpickle it yourself (pickle/joblib) and save it again with "
            "clf.save(path)."
        )
    if head[:4] == b"PK\x03\x04":
        raise ModelFileError(
            f"{path} is a zip archive (e.g. a torch.save file), not an {_FORMAT_NAME}."
        )


def read_model_file(path, kind):
    """Read and check a model file: returns ``(state, tensors)``; nothing in it runs."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No model file at {path}.")
    blob = path.read_bytes()
    _sniff(path, blob[:16])
    if len(blob) < 8:
        raise ModelFileError(
            f"{path} is {len(blob)} bytes long: too short for an {_FORMAT_NAME} (truncated?)."
        )
    header_len = int.from_bytes(blob[:8], "little")
    if header_len > len(blob) - 8:
        if len(blob) > 8 and blob[8:9] == b"{":
            raise ModelFileError(
                f"{path} is truncated: its header announces {header_len} bytes but the file "
                f"has {len(blob) - 8} after the length field. Copy or download it again."
            )
        raise ModelFileError(f"{path} is not an {_FORMAT_NAME} (unrecognised content).")
    try:
        header = json.loads(blob[8 : 8 + header_len])
    except ValueError:
        raise ModelFileError(
            f"{path} is not an {_FORMAT_NAME}, or its header is corrupted (not JSON)."
        ) from None
    meta = header.get("__metadata__", {}) if isinstance(header, dict) else {}
    if META_KEY not in meta:
        raise ModelFileError(
            f"{path} is a safetensors file but not an {_FORMAT_NAME} (no {META_KEY!r} "
            "metadata): it was not written by mne-m2s."
        )
    try:
        doc = json.loads(meta[META_KEY])
    except ValueError:
        raise ModelFileError(f"{path}: the mne-m2s metadata is corrupted (not JSON).") \
            from None
    if not isinstance(doc, dict) or doc.get("format") != _FORMAT_NAME:
        raise ModelFileError(f"{path}: unrecognised mne-m2s metadata.")
    version = doc.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path} has format version {version}, newer than this mne-m2s "
            f"({__version__}) reads (up to {FORMAT_VERSION}). Upgrade mne-m2s to load it."
        )
    if doc.get("kind") != kind:
        other = {"M2SClassifier": "M2SClassifier.load", "PretrainedM2S": "PretrainedM2S.load"}
        hint = other.get(doc.get("kind"))
        raise ModelKindError(
            f"{path} holds a {doc.get('kind')}, not a {kind}."
            + (f" Read it with {hint}(path)." if hint else "")
        )
    try:
        tensors = load(blob)
    except (SafetensorError, ValueError, RuntimeError) as err:
        raise ModelFileError(
            f"{path}: the tensor data are corrupted or truncated ({err}). Copy or download "
            "the file again."
        ) from None
    return doc["state"], tensors


def model_card(path):
    """The model card of a model file (without loading any weights).

    Parameters
    ----------
    path : path-like

    Returns
    -------
    card : dict
        With ``kind``, ``format_version``, ``mne_m2s_version`` and ``torch_version`` added.
    """
    path = Path(path)
    with open(path, "rb") as fid:
        head = fid.read(16)
        _sniff(path, head)
        fid.seek(0)
        n = int.from_bytes(fid.read(8), "little")
        try:
            doc = json.loads(json.loads(fid.read(n))["__metadata__"][META_KEY])
        except (ValueError, KeyError, TypeError):
            raise ModelFileError(f"{path} is not a readable {_FORMAT_NAME}.") from None
    card = dict(doc.get("model_card") or {})
    for key in ("kind", "format_version", "mne_m2s_version", "torch_version"):
        card[key] = doc.get(key)
    return card


__all__ = [
    "FORMAT_VERSION",
    "ModelFileError",
    "ModelKindError",
    "PretrainedM2S",
    "load_classifier",
    "model_card",
    "save_classifier",
]
