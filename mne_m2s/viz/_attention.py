"""What STS attention looks at: attention probabilities of a fitted encoder, as scalp maps."""

import math

import numpy as np

from ..utils._checks import check_int, check_option, check_type
from ..utils._logging import logger
from ._topomaps import plot_topomaps


def sts_attention_probabilities(attention, h):
    """Attention probabilities of one STS attention module (SPEC.md §3.2).

    For each window ``t`` the electrodes are tokens of dimension ``B``:
    ``Q_t = x_t W_q``, ``K~_t = x~_t W_k`` with the temporal-sparse mean
    ``x~_t = (x_t + x_0 + x_{t-1}) / 3`` (``x_{-1} := x_0``; ``x~_t = x_t`` when the
    module has ``temporal_sparse=False``), and per head
    ``P_t = softmax(Q_t K~_t^T / sqrt(d))`` over the key electrodes. Computed
    from the module's ``q_proj`` and ``k_proj`` weights, in evaluation mode
    (attention probabilities carry no dropout).

    Parameters
    ----------
    attention : mne_m2s.nn.attention.STSAttention
        The module.
    h : Tensor, shape (batch, T, C * B) or (batch, T, C, B)
        Its input (the input of the transformer block it belongs to).

    Returns
    -------
    probabilities : Tensor, shape (batch, T, n_heads, C, C)
        ``probabilities[n, t, h, i, j]``: weight of key electrode ``j`` in the
        output of query electrode ``i``; rows sum to one.
    """
    import torch

    from ..nn.attention import STSAttention, temporal_sparse_mean

    check_type("attention", attention, STSAttention)
    b, n_heads, d = attention.n_bands, attention.n_heads, attention.head_dim
    h = torch.as_tensor(h)
    bad = h.ndim not in (3, 4) or (h.shape[-1] % b if h.ndim == 3 else h.shape[-1] != b)
    if bad:
        raise ValueError(
            f"h must have shape (batch, T, C * {b}) or (batch, T, C, {b}), got {tuple(h.shape)}."
        )
    n, t = h.shape[:2]
    x = h.reshape(n, t, -1, b).to(attention.q_proj.weight.dtype)
    c = x.shape[2]
    xs = temporal_sparse_mean(x) if attention.temporal_sparse else x
    with torch.no_grad():
        q = attention.q_proj(x).view(n, t, c, n_heads, d).transpose(2, 3)
        k = attention.k_proj(xs).view(n, t, c, n_heads, d).transpose(2, 3)
        scores = q @ k.transpose(-1, -2) / math.sqrt(d)
        return torch.softmax(scores, dim=-1)


def _encoder_and_scaler(model, modality):
    """The ER encoder (a torch module) and the input scaler of ``modality``."""
    from torch import nn

    if isinstance(model, nn.Module):
        return model, None
    pretrained = None
    if hasattr(model, "encoders_"):  # fitted M2SClassifier
        encoders = model.encoders_
        if modality not in encoders:
            raise ValueError(
                f"The model has no encoder for modality {modality!r}; it has "
                f"{sorted(encoders)}."
            )
        scalers = getattr(model, "scalers_", {}) or {}
        enc = encoders[modality]
        return getattr(enc, "encoder", enc), scalers.get(modality)
    if hasattr(model, "pretrained") and model.pretrained is not None:
        pretrained = model.pretrained  # pre-trained but not fine-tuned M2SClassifier
    elif hasattr(model, "network") and hasattr(model, "specs"):
        pretrained = model  # PretrainedM2S
    if pretrained is None:
        raise TypeError(
            "model must be a fitted or pre-trained M2SClassifier, a PretrainedM2S or a torch "
            f"module holding STS attention, got {type(model).__name__}."
        )
    encoders = pretrained.network.encoders
    if modality not in encoders:
        raise ValueError(
            f"The model has no encoder for modality {modality!r}; it has {sorted(encoders)}."
        )
    return encoders[modality], (pretrained.scalers or {}).get(modality)


def compute_sts_attention(model, X, *, modality="eeg", batch_size=256):
    """Mean STS attention probabilities of every layer of an encoder on some data.

    Runs the encoder of ``modality`` on ``X`` (standardised with the model's
    scaler, as :meth:`~mne_m2s.M2SClassifier.predict` does), captures the input
    of each STS attention module and averages
    :func:`sts_attention_probabilities` over samples and windows.

    Parameters
    ----------
    model : M2SClassifier | PretrainedM2S | torch.nn.Module
        A fitted or pre-trained estimator (its encoder of ``modality``), or an
        encoder module (then ``X`` must already be standardised).
    X : array-like | dict of str -> array-like
        Features of the electrode modality, shape ``(n_samples, n_windows,
        n_chans, n_bands)`` (or ``n_chans * n_bands`` channel-major), or a dict
        holding them under ``modality``.
    modality : str
        Which encoder.
    batch_size : int
        Samples per forward pass.

    Returns
    -------
    attention : ndarray, shape (n_layers, n_heads, n_chans, n_chans)
        ``attention[l, h, i, j]``: mean weight of key electrode ``j`` for query
        electrode ``i`` in head ``h`` of layer ``l``.
    """
    import torch

    from ..nn.attention import STSAttention

    check_int("batch_size", batch_size, min_value=1)
    if isinstance(X, dict):
        if modality not in X:
            raise ValueError(f"X has no {modality!r} entry; it has {sorted(X)}.")
        X = X[modality]
    x = np.asarray(X, dtype=np.float32)
    if x.ndim not in (3, 4) or len(x) == 0:
        raise ValueError(
            "X must have shape (n_samples, n_windows, n_chans, n_bands) or "
            f"(n_samples, n_windows, n_chans * n_bands), got {np.shape(X)}."
        )
    encoder, scaler = _encoder_and_scaler(model, modality)
    modules = [m for m in encoder.modules() if isinstance(m, STSAttention)]
    if not modules:
        raise ValueError(
            f"The {modality!r} encoder has no STS attention (e.g. attention='mha' or 'none', or "
            "a vector modality): there are no electrode attention weights to compute."
        )
    if scaler is not None:
        shape = x.shape
        x = scaler.transform(x.reshape(-1, int(np.prod(shape[2:])))).reshape(shape)
        x = x.astype(np.float32)
    param = next(encoder.parameters())
    sums = [None] * len(modules)
    captured = {}

    def hook(module, args):
        captured[module] = args[0]

    handles = [m.register_forward_pre_hook(hook) for m in modules]
    was_training = encoder.training
    encoder.eval()
    count = 0
    try:
        with torch.no_grad():
            for start in range(0, len(x), batch_size):
                batch = torch.as_tensor(x[start:start + batch_size], device=param.device)
                encoder(batch)
                for i, m in enumerate(modules):
                    p = sts_attention_probabilities(m, captured[m]).sum(dim=(0, 1))
                    sums[i] = p if sums[i] is None else sums[i] + p
                count += batch.shape[0] * batch.shape[1]
    finally:
        for handle in handles:
            handle.remove()
        encoder.train(was_training)
    out = torch.stack(sums).double().cpu().numpy() / count
    logger.info("STS attention of %d layers over %d sample windows", len(modules), count)
    return out


def plot_attention_topomap(attention, info, X=None, *, modality="eeg", kind="received",
                           heads="mean", **kwargs):
    """Scalp maps of what STS attention looks at, one per layer (and head).

    ``kind="received"``: for each electrode ``j``, the attention it receives,
    averaged over the query electrodes, ``mean_i P[i, j]``, in units of the
    uniform weight ``1 / n_chans`` (1 = no preference; above 1 = the electrode
    is looked at more than average). ``kind="self"``: the weight of each
    electrode on itself, ``P[j, j]``, in the same units.

    Parameters
    ----------
    attention : ndarray | M2SClassifier | PretrainedM2S | torch.nn.Module
        Mean attention probabilities from :func:`compute_sts_attention`, of
        shape ``(n_layers, n_heads, n_chans, n_chans)``, ``(n_heads, n_chans,
        n_chans)`` or ``(n_chans, n_chans)``; or a model, then computed on ``X``.
    info : mne.Info
        Positions of the ``n_chans`` electrodes.
    X : array-like | dict | None
        Data to compute the attention on when ``attention`` is a model.
    modality : str
        Encoder to use when ``attention`` is a model.
    kind : "received" | "self"
        What to map (see above).
    heads : "mean" | "all"
        Average the heads (one map per layer) or one column per head.
    **kwargs
        Passed to :func:`plot_topomaps`.

    Returns
    -------
    fig : matplotlib.figure.Figure
        One row per layer.
    """
    check_option("kind", kind, ("received", "self"))
    check_option("heads", heads, ("mean", "all"))
    if not isinstance(attention, np.ndarray):
        if X is None:
            raise ValueError("X is required when attention is a model: the attention is "
                             "computed on it.")
        attention = compute_sts_attention(attention, X, modality=modality)
    a = np.asarray(attention, dtype=float)
    while a.ndim < 4:
        a = a[np.newaxis]
    if a.ndim != 4 or a.shape[-1] != a.shape[-2]:
        raise ValueError(
            "attention must have shape (n_layers, n_heads, n_chans, n_chans), (n_heads, "
            f"n_chans, n_chans) or (n_chans, n_chans), got {np.shape(attention)}."
        )
    if not np.allclose(a.sum(axis=-1), 1.0, atol=1e-3):
        raise ValueError("attention rows must sum to 1 (probabilities over key electrodes).")
    n_layers, n_heads, n_chans, _ = a.shape
    if kind == "received":
        maps = a.mean(axis=-2) * n_chans  # (L, H, C)
    else:
        maps = np.diagonal(a, axis1=-2, axis2=-1) * n_chans
    if heads == "mean":
        maps = maps.mean(axis=1, keepdims=True)
        titles = ["heads averaged"]
    else:
        titles = [f"head {k + 1}" for k in range(n_heads)]
    kwargs.setdefault("cbar_label", f"attention {kind} (x uniform)")
    kwargs.setdefault("vlim", "joint")
    kwargs.setdefault("cmap", "magma")
    rows = [f"layer {k + 1}" for k in range(n_layers)]
    return plot_topomaps(maps, info, titles=titles, row_names=rows, **kwargs)
