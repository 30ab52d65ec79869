"""Device selection: ``"auto"`` picks CUDA, then MPS, then CPU."""

import torch

from ._checks import check_type


def _mps_available():
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def resolve_device(device="auto"):
    """Return the :class:`torch.device` that ``device`` asks for.

    Parameters
    ----------
    device : str | torch.device
        ``"auto"`` (CUDA if available, else MPS, else CPU), ``"cpu"``,
        ``"cuda"``, ``"cuda:N"``, ``"mps"`` or a :class:`torch.device`.

    Returns
    -------
    device : torch.device
    """
    if isinstance(device, torch.device):
        device = str(device)
    check_type("device", device, str)
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", torch.cuda.current_device())
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except RuntimeError as err:
        raise ValueError(
            f"device must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps', got {device!r}."
        ) from err
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} was requested but CUDA is not available on this machine "
                "(torch.cuda.is_available() is False). Use device='cpu' or device='auto'."
            )
        n = torch.cuda.device_count()
        index = 0 if dev.index is None else dev.index
        if index >= n:
            raise ValueError(
                f"device={device!r} was requested but only {n} CUDA device(s) exist "
                f"(valid: {', '.join(f'cuda:{i}' for i in range(n))})."
            )
        return torch.device("cuda", index)
    if dev.type == "mps" and not _mps_available():
        raise ValueError(
            f"device={device!r} was requested but MPS is not available. Use 'cpu' or 'auto'."
        )
    if dev.type not in ("cpu", "cuda", "mps"):
        raise ValueError(
            f"device must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps', got {device!r}."
        )
    return dev
