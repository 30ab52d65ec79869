"""Data-parallel pre-training on :mod:`torch.distributed` (``torchrun``, gloo or nccl).

Inside an initialised process group, :meth:`M2SClassifier.pretrain
<mne_m2s.M2SClassifier.pretrain>` runs data-parallel. Every rank holds the
same data (checked); each step, the global batch of ``pretrain_batch_size``
samples — drawn from a generator seeded identically on every rank — is split
into ``world_size`` contiguous shards and rank ``r`` encodes shard ``r``.

Why the result is the single-process loss of the global batch
---------------------------------------------------------------
The ER and EI embeddings ``z, u`` of the shards are gathered in rank order
*with autograd* (:func:`gather_cat`), together with the inputs (the
reconstruction targets, no gradient). Every rank then computes every loss
part on the whole global batch with the same CLUB permutation and CPC cut, so
every rank holds the same loss ``L``, the single-process loss of that batch.
The backward of the gather sums the gradients arriving at the gathered
embedding over the ranks and returns the rows of the local shard: a local
encoder parameter of rank ``r`` thus receives ``W`` times its local
contribution ``dL/dtheta|_r`` (``W`` = world size), while every parameter
used after the gather (decoders, projections, CPC, temperature) receives the
full gradient on every rank. Averaging the gradients over the ranks
(:meth:`DistContext.all_reduce_mean_`) gives ``sum_r dL/dtheta|_r`` for the
encoders and the full gradient for the rest: exactly the single-process
gradient. The CLUB estimators are trained on the gathered, detached
embeddings, and their gradients are averaged too, so every rank keeps
identical weights.

Only rank 0 logs, shows progress and writes files; a failure on one rank
that the others must know about (an unwritable output, inconsistent data) is
raised on every rank, so no rank is left waiting in a collective.
"""

from __future__ import annotations

import hashlib
import os

import numpy as np
import torch
import torch.distributed as dist

from .utils._logging import logger


class DistributedError(RuntimeError):
    """An error raised identically on every rank of a process group."""


def is_distributed():
    """Whether this process runs inside an initialised :mod:`torch.distributed` group."""
    return bool(dist.is_available() and dist.is_initialized())


def get_context():
    """The :class:`DistContext` of the current process group, or None outside one."""
    return DistContext() if is_distributed() else None


def launched_by_torchrun():
    """Whether the environment variables of ``torchrun`` (or a similar launcher) are set."""
    return all(k in os.environ for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"))


def init_from_env(device=None, timeout_s=None):
    """Initialise the default process group from ``torchrun``'s environment variables.

    Does nothing outside a launcher or when a group is already initialised.
    The backend is ``nccl`` when ``device`` is a CUDA device (each process
    then uses ``cuda:LOCAL_RANK``) and ``gloo`` otherwise.

    Parameters
    ----------
    device : str | torch.device | None
        Device of the run (``"auto"`` picks CUDA when available).
    timeout_s : float | None
        Timeout of collective operations (None: torch's default).

    Returns
    -------
    initialised : bool
        True if this call created the process group (the caller destroys it).
    device : str | None
        The device this rank should use (``cuda:LOCAL_RANK`` for nccl).
    """
    if not launched_by_torchrun() or is_distributed():
        return False, device
    if not dist.is_available():
        raise RuntimeError(
            "This process was started by torchrun (RANK and WORLD_SIZE are set) but this build "
            "of torch has no torch.distributed support."
        )
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    use_cuda = device is not None and str(device).startswith("cuda")
    if str(device) == "auto":
        use_cuda = torch.cuda.is_available()
    if use_cuda:
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} was requested but CUDA is not available on this machine."
            )
        torch.cuda.set_device(local_rank)
        device = f"cuda:{local_rank}"
        backend = "nccl"
    else:
        backend = "gloo"
        if device in (None, "auto"):
            device = "cpu"
    kwargs = {}
    if timeout_s is not None:
        import datetime

        kwargs["timeout"] = datetime.timedelta(seconds=float(timeout_s))
    if backend == "nccl":
        kwargs["device_id"] = torch.device("cuda", local_rank)
    dist.init_process_group(backend=backend, **kwargs)
    logger.info("Initialised a %s process group: rank %d of %d", backend, dist.get_rank(),
                dist.get_world_size())
    return True, device


class DistContext:
    """Rank, world size and the collective operations of data-parallel pre-training.

    Parameters
    ----------
    group : ProcessGroup | None
        The process group (None: the default group).
    """

    def __init__(self, group=None):
        if not is_distributed():
            raise RuntimeError("DistContext needs an initialised torch.distributed group.")
        self.group = group
        self.rank = dist.get_rank(group)
        self.world_size = dist.get_world_size(group)
        self.backend = str(dist.get_backend(group))

    def __repr__(self):
        return f"<DistContext | rank {self.rank} of {self.world_size} | {self.backend}>"

    @property
    def is_main(self):
        """True on rank 0, the rank that logs and writes files."""
        return self.rank == 0

    # ------------------------------------------------------------ agreement
    def gather_objects(self, obj):
        """``[obj of rank 0, obj of rank 1, ...]`` on every rank (small picklable objects)."""
        out = [None] * self.world_size
        dist.all_gather_object(out, obj, group=self.group)
        return out

    def check_same(self, what, value, hint=""):
        """Raise the same :class:`DistributedError` on every rank unless all ranks agree.

        Parameters
        ----------
        what : str
            What is compared, for the message (e.g. ``"modalities"``).
        value : object
            This rank's value (picklable, comparable with ``==``).
        hint : str
            How to fix it, appended to the message.
        """
        values = self.gather_objects(value)
        if any(v != values[0] for v in values[1:]):
            detail = "; ".join(f"rank {r}: {v}" for r, v in enumerate(values))
            raise DistributedError(
                f"Data-parallel pre-training needs the same {what} on every rank, but the "
                f"{self.world_size} ranks differ ({detail}). {hint}".rstrip()
            )
        return values[0]

    def raise_if_any(self, error):
        """Propagate an error of any rank to every rank.

        Parameters
        ----------
        error : BaseException | None
            This rank's error, or None.

        Raises
        ------
        DistributedError
            On every rank, if at least one rank passed an error (its message is
            the first failing rank's; that rank's own exception is chained).
        """
        msgs = self.gather_objects(None if error is None else f"{type(error).__name__}: {error}")
        bad = [(r, m) for r, m in enumerate(msgs) if m is not None]
        if bad:
            rank, msg = bad[0]
            raise DistributedError(f"rank {rank} failed: {msg}") from error

    def run_on_main(self, fn, *args, **kwargs):
        """Run ``fn`` on rank 0 only; an exception there is raised on every rank.

        Returns
        -------
        result : object
            What ``fn`` returned on rank 0 (None on the other ranks).
        """
        result, error = None, None
        if self.is_main:
            try:
                result = fn(*args, **kwargs)
            except Exception as err:  # noqa: BLE001 - re-raised on every rank below
                error = err
        self.raise_if_any(error)
        return result

    # ---------------------------------------------------------- collectives
    def broadcast_module_(self, module):
        """Copy rank 0's parameters and buffers to every rank (in place)."""
        with torch.no_grad():
            for tensor in module.state_dict().values():
                dist.broadcast(tensor, src=0, group=self.group)
        return module

    def all_reduce_mean_(self, tensors):
        """Average tensors over the ranks, in place, in one flat all-reduce.

        Parameters
        ----------
        tensors : list of Tensor
            Same shapes, dtypes and order on every rank (e.g. the gradients of
            the main parameters).
        """
        tensors = [t for t in tensors if t is not None]
        if not tensors or self.world_size == 1:
            return
        flat = torch.cat([t.reshape(-1) for t in tensors])
        dist.all_reduce(flat, op=dist.ReduceOp.SUM, group=self.group)
        flat /= self.world_size
        offset = 0
        for t in tensors:
            k = t.numel()
            t.copy_(flat[offset : offset + k].view_as(t))
            offset += k

    def all_reduce_grads_(self, parameters):
        """Average the gradients of ``parameters`` over the ranks (see the module docs)."""
        self.all_reduce_mean_([p.grad for p in parameters])

    def gather_cat(self, tensor, sizes):
        """Concatenate every rank's ``tensor`` along dim 0, in rank order, with autograd.

        Parameters
        ----------
        tensor : Tensor, shape (sizes[rank], ...)
            This rank's shard.
        sizes : sequence of int, length world_size
            Rows of every rank's shard (known to every rank).

        Returns
        -------
        gathered : Tensor, shape (sum(sizes), ...)
            Differentiable when ``tensor`` requires a gradient: the backward
            sums the incoming gradient over the ranks and returns the local rows.
        """
        sizes = tuple(int(s) for s in sizes)
        if tensor.requires_grad:
            return _GatherCat.apply(tensor, sizes, self.rank, self.group)
        return _gather_cat(tensor, sizes, self.group)

    # ------------------------------------------------------------- sharding
    def shard(self, batch):
        """The contiguous part of a global batch that this rank encodes.

        Parameters
        ----------
        batch : ndarray of int, shape (n_batch,)
            Sample indices of one global batch, ``n_batch >= world_size``.

        Returns
        -------
        local : ndarray of int
            Rows ``shard_sizes(n_batch)`` cut in rank order.
        sizes : tuple of int
            Rows of every rank's shard.
        """
        sizes = shard_sizes(len(batch), self.world_size)
        start = sum(sizes[: self.rank])
        return batch[start : start + sizes[self.rank]], sizes


def shard_sizes(n_batch, world_size):
    """Rows of each rank's shard of a batch of ``n_batch`` (as equal as possible)."""
    base, extra = divmod(int(n_batch), int(world_size))
    return tuple(base + (r < extra) for r in range(world_size))


def _gather_cat(tensor, sizes, group):
    """all_gather of shards of different lengths (padded to the longest), trimmed, concatenated."""
    world_size = len(sizes)
    longest = max(sizes)
    send = tensor.detach()
    if send.dtype in (torch.float16, torch.bfloat16):  # not every gloo build reduces these
        send = send.float()
    if send.shape[0] < longest:
        pad = send.new_zeros((longest - send.shape[0], *send.shape[1:]))
        send = torch.cat([send, pad])
    send = send.contiguous()
    out = [torch.empty_like(send) for _ in range(world_size)]
    dist.all_gather(out, send, group=group)
    return torch.cat([o[:s] for o, s in zip(out, sizes, strict=True)]).to(tensor.dtype)


class _GatherCat(torch.autograd.Function):
    """Differentiable :func:`_gather_cat`: backward = reduce-scatter (sum) of the gradient."""

    @staticmethod
    def forward(ctx, tensor, sizes, rank, group):
        ctx.sizes, ctx.rank, ctx.group = sizes, rank, group
        return _gather_cat(tensor, sizes, group)

    @staticmethod
    def backward(ctx, grad):
        dtype = grad.dtype
        grad = grad.detach().contiguous().clone()
        if dtype in (torch.float16, torch.bfloat16):
            grad = grad.float()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM, group=ctx.group)
        start = sum(ctx.sizes[: ctx.rank])
        return grad[start : start + ctx.sizes[ctx.rank]].to(dtype), None, None, None


# ------------------------------------------------------------- batches
class ShardedBatches:
    """Global batches of one epoch, this rank's shard of each, as tensors (no DataLoader).

    Every rank draws the same permutation of the ``n`` samples from
    ``generator`` (seeded identically on every rank), cuts it into global
    batches of ``batch_size`` and keeps its contiguous shard of each. Without a
    process group (``context=None``) the whole batch is returned. The data
    are moved to ``device`` once (see :func:`place_data`); batches are
    index-selected there, so nothing is re-uploaded per batch.

    Parameters
    ----------
    data : dict of str -> Tensor, each shape (n, ...)
    batch_size : int
        Global batch size.
    generator : torch.Generator
        CPU generator of the shuffling (its state is part of checkpoints).
    context : DistContext | None
    device : torch.device
        Where the batches are needed (the data may already be there).
    non_blocking : bool
        Copy pinned host batches to the device asynchronously.

    Yields
    ------
    batch : tuple
        ``(inputs, None)`` with ``inputs`` a dict of this rank's rows; the
        attribute :attr:`sizes` holds the shard sizes of the last batch.
    """

    def __init__(self, data, batch_size, generator, context=None, device="cpu",
                 non_blocking=False):
        self.data = data
        self.batch_size = int(batch_size)
        self.generator = generator
        self.context = context
        self.device = torch.device(device)
        self.non_blocking = non_blocking
        self.n = len(next(iter(data.values())))
        self.sizes = None
        self._warned = False

    def batches(self):
        """Index arrays of the global batches of one epoch."""
        perm = torch.randperm(self.n, generator=self.generator).numpy()
        out = [perm[i : i + self.batch_size] for i in range(0, self.n, self.batch_size)]
        world = self.context.world_size if self.context is not None else 1
        smallest = max(world, 2)  # a batch of one sample has trivial contrastive/CPC terms
        if len(out) > 1 and len(out[-1]) < smallest:
            if not self._warned:
                logger.warning(
                    "Pre-training: the last batch of each epoch would hold %d sample(s) (fewer "
                    "than %d%s); it is left out of each epoch (the samples left out change "
                    "from epoch to epoch).", len(out[-1]), smallest,
                    ", the number of ranks" if world > 1 else "")
                self._warned = True
            out = out[:-1]
        return out

    def __len__(self):
        return n_global_batches(self.n, self.batch_size,
                                self.context.world_size if self.context is not None else 1)

    def __iter__(self):
        for batch in self.batches():
            if self.context is not None:
                local, self.sizes = self.context.shard(batch)
            else:
                local, self.sizes = batch, (len(batch),)
            idx = torch.as_tensor(local)
            inputs = {}
            for m, a in self.data.items():
                rows = a.index_select(0, idx.to(a.device))
                if rows.device != self.device:
                    rows = rows.to(self.device, non_blocking=self.non_blocking)
                inputs[m] = rows
            yield inputs, None


def n_global_batches(n, batch_size, world_size=1):
    """Global batches per epoch of :class:`ShardedBatches` (a tail < max(world_size, 2) is left
    out)."""
    full, tail = divmod(int(n), int(batch_size))
    if tail and (full == 0 or tail >= max(world_size, 2)):
        full += 1
    return full


def place_data(arrays, device, max_fraction=0.5):
    """Move pre-training arrays to where batches are cut from, once.

    On a CUDA device the whole data set goes to the device when it takes less
    than ``max_fraction`` of the free device memory (no per-batch upload at
    all); otherwise it stays in pinned host memory and batches are copied
    with ``non_blocking=True``. On the CPU the arrays are wrapped without a copy.

    Parameters
    ----------
    arrays : dict of str -> ndarray
    device : torch.device
    max_fraction : float

    Returns
    -------
    data : dict of str -> Tensor
    non_blocking : bool
        Whether batches need an asynchronous host-to-device copy.
    """
    device = torch.device(device)
    tensors = {m: torch.from_numpy(np.ascontiguousarray(a)) for m, a in arrays.items()}
    if device.type != "cuda":
        return tensors, False
    nbytes = sum(t.numel() * t.element_size() for t in tensors.values())
    free, _ = torch.cuda.mem_get_info(device)
    if nbytes < max_fraction * free:
        logger.info("Pre-training data (%.1f MB) moved to %s once.", nbytes / 2**20, device)
        return {m: t.to(device) for m, t in tensors.items()}, False
    logger.info("Pre-training data (%.1f MB) kept in pinned host memory, copied per batch "
                "with non_blocking=True.", nbytes / 2**20)
    return {m: t.pin_memory() for m, t in tensors.items()}, True


# --------------------------------------------------------------- checks
def data_fingerprint(arrays):
    """A short digest of the pre-training data (shapes, dtypes and contents).

    Used to check that every rank holds the same data and that a checkpoint
    is resumed on the data it was written for.
    """
    h = hashlib.sha256()
    for m in sorted(arrays):
        a = np.ascontiguousarray(arrays[m])
        h.update(f"{m}:{a.shape}:{a.dtype};".encode())
        h.update(a.data)
    return h.hexdigest()[:16]


def check_ranks(context, arrays, settings):
    """Check on every rank that all ranks pre-train the same data with the same settings.

    Parameters
    ----------
    context : DistContext
    arrays : dict of str -> ndarray
        This rank's pre-training data.
    settings : dict
        Hyper-parameters that must agree (the estimator's ``get_params()``
        without objects), including ``pretrain_batch_size``.

    Raises
    ------
    DistributedError
        On every rank, naming what differs, when ranks disagree.
    ValueError
        On every rank when ``pretrain_batch_size`` is not a multiple of the
        world size.
    """
    how = ("Every rank must call pretrain with the same X (each rank then encodes its shard of "
           "every global batch).")
    context.check_same("modalities", sorted(arrays), how)
    context.check_same("sample count", {m: len(a) for m, a in arrays.items()}, how)
    context.check_same("shapes", {m: tuple(a.shape) for m, a in arrays.items()}, how)
    context.check_same("settings", settings, "Construct the estimator identically on every rank.")
    context.check_same("data", data_fingerprint(arrays), how)
    batch = settings["pretrain_batch_size"]
    if batch % context.world_size:
        lower = batch - batch % context.world_size
        raise ValueError(
            f"pretrain_batch_size={batch} is the global batch of data-parallel pre-training and "
            f"must be a multiple of the world size {context.world_size}; use e.g. "
            f"pretrain_batch_size={lower or context.world_size} or "
            f"{lower + context.world_size}."
        )


__all__ = [
    "DistContext",
    "DistributedError",
    "ShardedBatches",
    "check_ranks",
    "data_fingerprint",
    "get_context",
    "init_from_env",
    "is_distributed",
    "launched_by_torchrun",
    "place_data",
    "shard_sizes",
]
