"""Checkpoints of pre-training: atomic files, resumed to the same result.

A checkpoint holds everything a pre-training run needs to continue as if it
had never stopped: the network (CLUB estimators included), both optimisers,
both learning-rate schedulers, the random generators (torch's default CPU
generator of every rank, the CUDA generator, the generator of the losses'
draws, the shuffling generator of data-parallel runs), the epoch, the history
and a description of the run (settings, data digest, world size) that a
resume must match.

Files are written with :func:`torch.save` to a temporary file in the same
folder, flushed to disk and moved over the previous checkpoint with
:func:`os.replace`, so a run killed at any moment leaves either the previous
or the new checkpoint, never a partial one. Everything in them is a tensor,
number, string, list or dict, so they load with
``torch.load(..., weights_only=True)``: loading executes no code from the file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from skorch.callbacks import Callback
from skorch.history import History

from .utils._io import atomic_write
from .utils._logging import logger

#: File name of the checkpoint inside ``checkpoint_dir``.
CHECKPOINT_NAME = "pretrain-checkpoint.pt"
#: Version of the checkpoint layout.
CHECKPOINT_FORMAT = 1


class CheckpointError(ValueError):
    """A checkpoint cannot be used (unreadable, other format, other run)."""


def atomic_torch_save(obj, path):
    """:func:`torch.save` ``obj`` to ``path`` atomically (temporary file, fsync, replace).

    Parameters
    ----------
    obj : object
        What to save.
    path : path-like
        Destination; its folder must exist.
    """
    atomic_write(path, lambda fid: torch.save(obj, fid))


def check_writable_dir(directory, what):
    """Create ``directory`` if needed and check that a file can be written in it.

    Raises
    ------
    ValueError
        Naming ``what`` (the option), the folder and the operating system's reason.
    """
    directory = Path(directory)
    probe = directory / f".mne-m2s-write-test-{os.getpid()}"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
    except OSError as err:
        raise ValueError(
            f"{what} must be a folder where files can be written, but {str(directory)!r} is "
            f"not writable ({err.strerror or err}). Choose another folder or fix its "
            "permissions."
        ) from err
    finally:
        try:
            probe.unlink(missing_ok=True)
        except OSError:
            pass
    return directory


def load_checkpoint(path, expected_meta=None):
    """Read a checkpoint written by :class:`PretrainCheckpoint`.

    Parameters
    ----------
    path : path-like
    expected_meta : dict | None
        Description of the run about to resume; every key must match the
        checkpoint's.

    Returns
    -------
    state : dict

    Raises
    ------
    CheckpointError
        If the file cannot be read, is not a checkpoint of this format, or was
        written by a run with other settings, data or world size.
    """
    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any failure to parse is a bad file
        raise CheckpointError(
            f"Cannot read the pre-training checkpoint {str(path)!r}: {err}. It may be "
            "truncated or not a checkpoint; delete it to start afresh."
        ) from err
    if not isinstance(state, dict) or state.get("kind") != "mne_m2s.pretrain_checkpoint":
        raise CheckpointError(f"{str(path)!r} is not an mne_m2s pre-training checkpoint.")
    if state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{str(path)!r} has checkpoint format {state.get('format')}, this version of "
            f"mne_m2s reads format {CHECKPOINT_FORMAT}."
        )
    if expected_meta is not None:
        meta = json.loads(state["meta"])
        expected = json.loads(json.dumps(expected_meta, sort_keys=True, default=str))
        diff = sorted(k for k in set(meta) | set(expected) if meta.get(k) != expected.get(k))
        if diff:
            detail = "; ".join(
                f"{k}: checkpoint {meta.get(k)!r}, now {expected.get(k)!r}" for k in diff
            )
            raise CheckpointError(
                f"The checkpoint {str(path)!r} was written by a different pre-training run "
                f"({detail}). Resume with the same data, settings and number of processes, "
                "or delete the checkpoint to start afresh."
            )
    return state


# ------------------------------------------------------------ random state
def rng_state(device):
    """Generator states of this process as tensors: torch's CPU default and ``device``'s."""
    state = {"cpu": torch.get_rng_state()}
    device = torch.device(device)
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state, device):
    """Restore what :func:`rng_state` returned."""
    torch.set_rng_state(state["cpu"])
    device = torch.device(device)
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


# --------------------------------------------------------------- callback
def _cosine_callback(net):
    for name, cb in getattr(net, "callbacks_", []):
        if name == "cosine":
            return cb
    return None


def _generators(net):
    """The net's own generators: the losses' draws and, when batches are cut here, shuffling."""
    gens = {}
    if getattr(net, "loss_generator_", None) is not None:
        gens["loss_rng"] = net.loss_generator_
    batches = getattr(net, "batches", None)
    if batches is not None:
        gens["shuffle_rng"] = batches.generator
    return gens


class PretrainCheckpoint(Callback):
    """Write a pre-training checkpoint every ``every`` epochs; restore one on resume.

    Placed last among the callbacks of :class:`~mne_m2s.training.M2SPretrainer`,
    so that it sees the epoch's complete history row and restores its state
    after the learning-rate scheduler has been created.

    Parameters
    ----------
    path : path-like
        Checkpoint file.
    every : int
        Epochs between checkpoints (the last epoch is always written).
    meta : dict
        Description of the run (JSON-serialisable), checked on resume.
    context : DistContext | None
        Process group: rank 0 writes; generator states of all ranks are kept.
    resume_state : dict | None
        A loaded checkpoint to continue from (restored in ``on_train_begin``).
    total_epochs : int
        Epochs of the whole run (to write the last one).
    """

    def __init__(self, path, every, meta, context=None, resume_state=None, total_epochs=None):
        self.path = path
        self.every = every
        self.meta = meta
        self.context = context
        self.resume_state = resume_state
        self.total_epochs = total_epochs

    # ---- state
    def collect(self, net):
        """The checkpoint dictionary of ``net`` now (every rank takes part in DP runs)."""
        rng = rng_state(net.device)
        ranks = [rng] if self.context is None else self.context.gather_objects(rng)
        cosine = _cosine_callback(net)
        state = {
            "kind": "mne_m2s.pretrain_checkpoint",
            "format": CHECKPOINT_FORMAT,
            "epoch": len(net.history),
            "meta": json.dumps(self.meta, sort_keys=True, default=str),
            "history": json.dumps(list(net.history)),
            "module": {k: v.detach().cpu() for k, v in net.module_.state_dict().items()},
            "optimizer": net.optimizer_.state_dict(),
            "mi_optimizer": net.mi_optimizer_.state_dict(),
            "rng": [{k: v.cpu() for k, v in r.items()} for r in ranks],
        }
        if net.mi_scheduler_ is not None:
            state["mi_scheduler"] = net.mi_scheduler_.state_dict()
        if cosine is not None and getattr(cosine, "lr_scheduler_", None) is not None:
            state["scheduler"] = cosine.lr_scheduler_.state_dict()
        for key, gen in _generators(net).items():
            state[key] = gen.get_state()
        if getattr(net, "grad_scaler_", None) is not None:
            state["grad_scaler"] = net.grad_scaler_.state_dict()
        return state

    def restore(self, net, state):
        """Load ``state`` (from :func:`load_checkpoint`) into an initialised ``net``."""
        net.module_.load_state_dict(state["module"])
        net.optimizer_.load_state_dict(state["optimizer"])
        net.mi_optimizer_.load_state_dict(state["mi_optimizer"])
        if net.mi_scheduler_ is not None and "mi_scheduler" in state:
            net.mi_scheduler_.load_state_dict(state["mi_scheduler"])
        cosine = _cosine_callback(net)
        if cosine is not None and getattr(cosine, "lr_scheduler_", None) is not None:
            cosine.lr_scheduler_.load_state_dict(state["scheduler"])
            cosine.batch_idx_ = cosine.lr_scheduler_.last_epoch
        for key, gen in _generators(net).items():
            if key in state:
                gen.set_state(state[key])
        if getattr(net, "grad_scaler_", None) is not None and "grad_scaler" in state:
            net.grad_scaler_.load_state_dict(state["grad_scaler"])
        rank = 0 if self.context is None else self.context.rank
        set_rng_state(state["rng"][rank], net.device)
        net.history = History(json.loads(state["history"]))
        logger.info("Resumed pre-training from %s after epoch %d.", self.path, state["epoch"])

    # ---- skorch hooks
    def on_train_begin(self, net, X=None, y=None, **kwargs):
        if self.resume_state is not None:
            self.restore(net, self.resume_state)
            self.resume_state = None

    def on_epoch_end(self, net, **kwargs):
        epoch = len(net.history)
        if epoch % self.every and epoch != self.total_epochs:
            return
        state = self.collect(net)
        if self.context is None:
            atomic_torch_save(state, self.path)
        else:
            self.context.run_on_main(atomic_torch_save, state, self.path)
        logger.info("Checkpoint after epoch %d written to %s.", epoch, self.path)




def checkpoint_setup(directory, every, resume, meta, total_epochs, context=None):
    """The checkpoint callback of a pre-training run, and the epochs already done.

    Parameters
    ----------
    directory : path-like | None
        Checkpoint folder (None: no checkpoints).
    every : int
        Epochs between checkpoints.
    resume : bool
        Continue from the checkpoint in ``directory`` if there is one.
    meta : dict
        Description of the run (settings, data digest, world size).
    total_epochs : int
    context : DistContext | None

    Returns
    -------
    callback : PretrainCheckpoint | None
    done : int
        Epochs the checkpoint already holds (0 when starting afresh).

    Raises
    ------
    ValueError, CheckpointError
        On every rank: unwritable folder, unreadable checkpoint or one from
        another run.
    """
    if directory is None:
        return None, 0
    path = Path(directory) / CHECKPOINT_NAME

    def _prepare():
        check_writable_dir(directory, "checkpoint_dir")
        if resume and path.exists():
            return load_checkpoint(path, meta)
        return None

    if context is None:
        state = _prepare()
    else:
        state, error = None, None
        try:
            state = _prepare()
        except Exception as err:  # noqa: BLE001 - raised on every rank below
            error = err
        context.raise_if_any(error)
        context.check_same("checkpoint epoch", None if state is None else state["epoch"],
                           "Every rank must see the same checkpoint_dir (a shared file system).")
    if resume and state is None:
        logger.info("No checkpoint in %s: pre-training starts afresh.", directory)
    done = 0 if state is None else int(state["epoch"])
    callback = PretrainCheckpoint(path, every, meta, context=context, resume_state=state,
                                  total_epochs=total_epochs)
    return callback, done


__all__ = [
    "CHECKPOINT_NAME",
    "CheckpointError",
    "PretrainCheckpoint",
    "load_checkpoint",
]
