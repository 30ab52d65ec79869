"""Training loops on skorch: M2S pre-training and fine-tuning.

:class:`M2SPretrainer` is a :class:`skorch.NeuralNet` whose ``train_step``
runs one forward pass of the whole multimodal network, ``mi_steps`` updates
of the CLUB estimators on the *detached* outputs of that same pass (the
reference ran a full forward pass before each of them), then one step of the
main optimiser on the weighted loss. Every named loss component is recorded
per batch and averaged per epoch in the skorch history.
"""

import contextlib
import functools
import math

import numpy as np
import torch
from skorch import NeuralNet, NeuralNetClassifier
from skorch.callbacks import Callback, LRScheduler, PassthroughScoring, PrintLog
from skorch.dataset import unpack_data
from skorch.utils import to_tensor
from torch import nn
from tqdm.auto import tqdm

from .nn._allocator import caching_allocator, release_cached_memory
from .nn.m2s import LOSS_NAMES, total_loss
from .utils._logging import logger

#: Pre-training loss weights of the paper (SPEC.md 3.8).
DEFAULT_WEIGHTS = {"contrastive": 1.0, "cpc": 1.0, "recon": 0.1, "club": 0.3}


def _describe_weights(weights):
    return ", ".join(f"{k}_weight={weights.get(k, 0.0):g}" for k in LOSS_NAMES)


@contextlib.contextmanager
def seeded(seed, device):
    """Run a block with torch's generators seeded, restoring them afterwards.

    Everything random in training (initialisation, dropout, shuffling, the
    CLUB permutation, the CPC cut) draws from torch's default generators;
    :func:`torch.random.fork_rng` saves their state on entry and restores it
    on exit, so the caller's global random state is left untouched while
    ``seed`` fully determines the run.
    """
    device = torch.device(device)
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices, device_type=device.type):
        torch.default_generator.manual_seed(seed)
        if device.type == "cuda":
            torch.cuda.default_generators[device.index or 0].manual_seed(seed)
        elif device.type == "mps":
            torch.mps.manual_seed(seed)
        yield


class WeightedLoss(nn.Module):
    """Weighted sum of named loss components (the criterion of :class:`M2SPretrainer`).

    Parameters
    ----------
    weights : dict of str -> float
        ``{"contrastive": 1.0, "cpc": 1.0, "recon": 0.1, "club": 0.3}`` by default.
        At least one weight must be non-zero.
    """

    def __init__(self, weights=None):
        super().__init__()
        self.weights = dict(weights or DEFAULT_WEIGHTS)
        if not self.active_terms():
            raise ValueError(
                f"Every pre-training loss weight is 0 ({_describe_weights(self.weights)}): "
                "there is nothing to pre-train. Give at least one term a positive weight "
                "(SPEC: contrastive 1.0, cpc 1.0, recon 0.1, club 0.3)."
            )

    def active_terms(self):
        """Names of the components with a non-zero weight."""
        return tuple(k for k in LOSS_NAMES if self.weights.get(k, 0.0) != 0.0)

    def forward(self, parts):
        """Parameters: parts, dict of str -> scalar Tensor. Returns the weighted sum."""
        return total_loss(parts, self.weights)


class EpochProgressBar(Callback):
    """A tqdm bar over epochs showing the latest epoch-level scores.

    Parameters
    ----------
    desc : str
        Label of the bar.
    keys : tuple of str
        History keys shown next to the bar when present.
    """

    def __init__(self, desc="epochs", keys=("train_loss", "valid_loss")):
        self.desc = desc
        self.keys = keys

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        self.bar_ = tqdm(total=net.max_epochs, desc=self.desc, leave=False, dynamic_ncols=True)

    def on_epoch_end(self, net, **kwargs):
        row = net.history[-1]
        self.bar_.set_postfix({k: f"{row[k]:.4f}" for k in self.keys if k in row}, refresh=False)
        self.bar_.update(1)

    def on_train_end(self, net, X=None, y=None, **kwargs):
        self.bar_.close()
        del self.bar_


def cosine_schedule(n_steps):
    """Cosine annealing of the learning rate over ``n_steps`` optimiser steps."""
    return LRScheduler(
        policy=torch.optim.lr_scheduler.CosineAnnealingLR,
        T_max=max(int(n_steps), 1),
        step_every="batch",
    )


def n_batches(n_samples, batch_size, drop_last=False):
    """Number of batches of one epoch."""
    return n_samples // batch_size if drop_last else math.ceil(n_samples / batch_size)


def _cpu_step(step):
    """Run a pre-training or validation step with the caching CPU allocator (on the CPU).

    Large CPU blocks of the step come from :func:`~mne_m2s.nn._allocator.caching_allocator`
    (kept whole and reused from step to step, instead of ``malloc``'s heap); the cache is
    unmapped when training ends (:meth:`M2SPretrainer.on_train_end`).
    """

    @functools.wraps(step)
    def wrapper(self, batch, **fit_params):
        # device None: skorch leaves tensors where they are (the CPU by default)
        cpu = self.device is None or torch.device(self.device).type == "cpu"
        with caching_allocator(enabled=cpu):
            return step(self, batch, **fit_params)

    return wrapper


class M2SPretrainer(NeuralNet):
    """skorch net running M2S pre-training (SPEC.md §3.8).

    ``module`` is an initialised :class:`~mne_m2s.nn.m2s.M2SNetwork`; ``criterion``
    a :class:`WeightedLoss`. ``X`` is a dict ``{modality: (n, T, ...)}`` and
    ``y`` is None.

    One step (:meth:`train_step`) is six parts, each its own method so that a
    subclass can change one (e.g. data-parallel training gathers the outputs
    across processes in :meth:`gather_outputs` and averages the gradients in
    :meth:`reduce_gradients`):

    1. :meth:`forward_local` — one forward pass of the whole network on the
       local batch;
    2. :meth:`gather_outputs` — hook on the outputs ``z, u`` (identity here);
    3. :meth:`update_estimators` — ``mi_steps`` updates of the CLUB estimators
       on the *detached* outputs of that same pass (the reference ran a full
       forward pass before each of them);
    4. :meth:`draw_loss_randomness` then :meth:`loss_parts` — the CLUB
       permutation and the CPC cut, both drawn from :attr:`loss_generator_`,
       then the named loss components and their weighted sum;
    5. backward pass of the weighted loss;
    6. :meth:`reduce_gradients` (identity here), then one step of the main
       optimiser.

    On the CPU, steps and validation steps take their large blocks from the
    caching allocator of :mod:`mne_m2s.nn._allocator` (see
    :func:`mne_m2s.utils.set_cpu_kernels`); its cache is unmapped when
    training ends.

    Parameters
    ----------
    mi_steps : int
        CLUB estimator updates per step (SPEC: 3).
    mi_lr, mi_weight_decay : float
        Settings of the estimators' own Adam (SPEC: those of the main optimiser).
    mi_total_steps : int | None
        Steps of the estimators' cosine schedule (None: constant learning rate).
    loss_seed : int | None
        Seed of :attr:`loss_generator_`, the generator of the CLUB permutation
        and the CPC cut. None draws it from torch's default generator when the
        net is initialised (so :func:`seeded` fixes it).
    precision : {"float32", "bf16"}
        ``"bf16"`` runs the forward pass and the losses under bfloat16
        autocast (parameters, gradients and optimiser state stay float32).
    **kwargs
        Passed to :class:`skorch.NeuralNet`.

    Attributes
    ----------
    loss_generator_ : torch.Generator
        CPU generator of the per-step draws of the losses.
    mi_optimizer_ : torch.optim.Adam
        The CLUB estimators' optimiser (fused when the main optimiser is).
    """

    def __init__(
        self,
        module,
        criterion,
        *args,
        mi_steps=3,
        mi_lr=1e-4,
        mi_weight_decay=1e-4,
        mi_total_steps=None,
        loss_seed=None,
        precision="float32",
        **kwargs,
    ):
        super().__init__(module, criterion, *args, **kwargs)
        self.precision = precision
        self.mi_steps = mi_steps
        self.mi_lr = mi_lr
        self.mi_weight_decay = mi_weight_decay
        self.mi_total_steps = mi_total_steps
        self.loss_seed = loss_seed

    def _autocast(self):
        """bfloat16 autocast context when ``precision="bf16"`` (else a no-op)."""
        if self.precision not in ("float32", "bf16"):
            raise ValueError(
                f"precision must be 'float32' or 'bf16', got {self.precision!r}."
            )
        return torch.autocast(device_type=torch.device(self.device).type,
                              dtype=torch.bfloat16, enabled=self.precision == "bf16")

    @property
    def _default_callbacks(self):
        return [
            *super()._default_callbacks[:-1],
            *((name, PassthroughScoring(name=name, on_train=True)) for name in LOSS_NAMES),
            ("mi_loglik", PassthroughScoring("mi_loglik", lower_is_better=False, on_train=True)),
            ("print_log", PrintLog(sink=logger.info)),
        ]

    def initialize(self):
        """Initialise the net and :attr:`loss_generator_`."""
        super().initialize()
        seed = self.loss_seed
        if seed is None:
            seed = int(torch.randint(0, 2**62, (1,)).item())
        self.loss_generator_ = torch.Generator().manual_seed(int(seed))
        return self

    def on_train_end(self, net, X=None, y=None, **kwargs):
        """Unmap the caching CPU allocator's cached blocks (the steps' memory)."""
        super().on_train_end(net, X=X, y=y, **kwargs)
        release_cached_memory()

    def get_all_learnable_params(self):
        """Main optimiser: every parameter but the CLUB estimators'."""
        main = {id(p) for p in self.module_.main_parameters()}
        for name, param in self.module_.named_parameters():
            if id(param) in main and param.requires_grad:
                yield name, param

    def initialize_optimizer(self, *args, **kwargs):
        """Main Adam (skorch's ``optimizer_``) plus the estimators' own Adam."""
        super().initialize_optimizer(*args, **kwargs)
        fused = any(group.get("fused") for group in self.optimizer_.param_groups)
        self.mi_optimizer_ = torch.optim.Adam(
            self.module_.estimator_parameters(), lr=self.mi_lr, weight_decay=self.mi_weight_decay,
            fused=fused or None,
        )
        self.mi_scheduler_ = (
            torch.optim.lr_scheduler.CosineAnnealingLR(self.mi_optimizer_, self.mi_total_steps)
            if self.mi_total_steps
            else None
        )
        return self

    def _batch_inputs(self, batch):
        Xi, _ = unpack_data(batch)
        return {k: to_tensor(v, device=self.device) for k, v in Xi.items()}

    # ---------------------------------------------------- the step, in parts
    def forward_local(self, x):
        """(1) One forward pass of the network on the local batch ``x``.

        Returns ``{"z": {modality: (n, T, E)}, "u": {modality: (n, T, ei_dim)}}``.
        """
        return self.module_(**x)

    def gather_outputs(self, outputs):
        """(2) Hook on the outputs before the estimators and the losses see them.

        Identity here. Data-parallel training gathers ``z`` and ``u`` of every
        process here (keeping the local part differentiable), so that the
        contrastive, CPC and CLUB terms compare samples across the global batch.
        """
        return outputs

    def update_estimators(self, outputs):
        """(3) ``mi_steps`` Adam updates of the CLUB estimators on *detached* outputs.

        Returns the last log-likelihood (float), or None when nothing was updated
        (``mi_steps == 0`` or the CLUB term has weight 0).
        """
        if not self.mi_steps or "club" not in self.criterion_.active_terms():
            return None
        net = self.module_
        detached = {
            "z": {m: v.detach().float() for m, v in outputs["z"].items()},
            "u": {m: v.detach().float() for m, v in outputs["u"].items()},
        }
        for _ in range(self.mi_steps):
            self.mi_optimizer_.zero_grad(set_to_none=True)
            loglik = net.estimator_log_likelihood(detached)
            (-loglik).backward()
            self.mi_optimizer_.step()
        if self.mi_scheduler_ is not None:
            self.mi_scheduler_.step()
        return loglik.item()

    def draw_loss_randomness(self, n_samples, n_windows):
        """(4a) The CLUB permutation and the CPC cut, both from :attr:`loss_generator_`.

        Parameters
        ----------
        n_samples : int
            Samples in the batch the losses compare (the global batch when the
            outputs are gathered).
        n_windows : int
            Windows per sample.

        Returns
        -------
        perm : LongTensor, shape (n_samples,)
            On the net's device.
        cut : int
            CPC cut ``t`` (0 when CPC has no usable step).
        """
        g = self.loss_generator_
        perm = torch.randperm(n_samples, generator=g).to(self.device)
        lo, hi = self.module_.cpc.cut_range(n_windows)
        cut = int(torch.randint(lo, hi + 1, (1,), generator=g).item()) if hi >= lo else 0
        return perm, cut

    def loss_parts(self, x, outputs, perm, cut):
        """(4b) Named loss components of the terms with a non-zero weight."""
        return self.module_.loss_parts(
            outputs, x, perm, cut, terms=self.criterion_.active_terms()
        )

    def reduce_gradients(self):
        """(6a) Hook between the backward pass and the optimiser step (identity here).

        Data-parallel training averages the main parameters' gradients across
        processes here.
        """

    @_cpu_step
    def train_step(self, batch, **fit_params):
        """One pre-training step (see the class docstring for its six parts)."""
        self._set_training(True)
        x = self._batch_inputs(batch)
        with self._autocast():
            outputs = self.gather_outputs(self.forward_local(x))  # (1), (2)
        loglik = self.update_estimators(outputs)  # (3)
        z0 = next(iter(outputs["z"].values()))
        perm, cut = self.draw_loss_randomness(z0.shape[0], z0.shape[1])  # (4)
        with self._autocast():
            parts = self.loss_parts(x, outputs, perm, cut)
            loss = self.criterion_(parts)
        self._zero_grad_optimizer()
        loss.backward()  # (5)
        self.notify("on_grad_computed", named_parameters=list(self.get_all_learnable_params()),
                    batch=batch)
        self.reduce_gradients()  # (6)
        self._step_optimizer()
        if loglik is not None:
            self.history.record_batch("mi_loglik", loglik)
        for name, value in parts.items():
            self.history.record_batch(name, value.item())
        return {"loss": loss.detach(), "y_pred": None}

    @_cpu_step
    def validation_step(self, batch, **fit_params):
        """Loss components on held-out data (evaluation mode, no gradient)."""
        self._set_training(False)
        x = self._batch_inputs(batch)
        with torch.no_grad():
            outputs = self.gather_outputs(self.forward_local(x))
            z0 = next(iter(outputs["z"].values()))
            perm, cut = self.draw_loss_randomness(z0.shape[0], z0.shape[1])
            loss = self.criterion_(self.loss_parts(x, outputs, perm, cut))
        return {"loss": loss, "y_pred": None}

    def _step_optimizer(self, step_fn=None):
        # skorch registers every ``*optimizer_`` attribute and would also step
        # ``mi_optimizer_`` here, with gradients of the main loss; the
        # estimators are stepped on their own objective in ``update_estimators``.
        self.optimizer_.step()


# --------------------------------------------------------------------------
# Data-parallel, mixed-precision and device-fed pre-training
#
# Pre-training net for data-parallel, mixed-precision and device-fed runs.
#
# :class:`DataParallelPretrainer` is the :class:`~mne_m2s.training.M2SPretrainer`
# used when pre-training runs inside a :mod:`torch.distributed` process group,
# with a ``precision`` other than float32, or on a CUDA device. Its step has the
# same parts as the base class's; what it adds (see :mod:`mne_m2s.distributed`
# for why the data-parallel step computes the single-process loss of the global
# batch):
#
# * the outputs ``z, u`` of this rank's shard and its inputs (the
#   reconstruction targets) are gathered in rank order before the losses;
# * the CLUB permutation and the CPC cut come from a generator seeded
#   identically on every rank; the CLUB estimators train on the gathered,
#   detached batch and their gradients are averaged over the ranks;
# * the main gradients are averaged over the ranks before the optimiser step;
# * ``precision="fp16"`` (CUDA): float16 autocast, and the loss is scaled with
#   :class:`torch.amp.GradScaler` (``"bf16"`` is the base class's autocast);
# * batches come from :class:`~mne_m2s.distributed.ShardedBatches`, cut where
#   the data already are (on the device), not from a DataLoader.

#: Values of the ``precision`` option and their autocast dtypes.
PRECISIONS = {"float32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


class DataParallelPretrainer(M2SPretrainer):
    """:class:`~mne_m2s.training.M2SPretrainer` for data-parallel and GPU runs.

    Parameters
    ----------
    context : mne_m2s.distributed.DistContext | None
        The process group (None: one process).
    batches : mne_m2s.distributed.ShardedBatches | None
        Training batches replacing skorch's DataLoader (None: the DataLoader).
    precision : {"float32", "bf16", "fp16"}
        Autocast dtype of the forward pass and the losses; fp16 adds a
        gradient scaler.
    loss_seed : int | None
        Seed of :attr:`loss_generator_`, the generator of the CLUB
        permutation and the CPC cut (the same on every rank).
    compile : bool
        Compile the ER encoders with :meth:`torch.nn.Module.compile`.
    **kwargs
        Passed to :class:`~mne_m2s.training.M2SPretrainer`.

    Attributes
    ----------
    grad_scaler_ : torch.amp.GradScaler | None
        float16 only.
    """

    def __init__(self, *args, context=None, batches=None, precision="float32", loss_seed=None,
                 compile=False, **kwargs):  # noqa: A002 - skorch's name for the same option
        if precision not in PRECISIONS:
            raise ValueError(
                f"precision must be one of {', '.join(map(repr, PRECISIONS))}, got {precision!r}."
            )
        super().__init__(*args, loss_seed=loss_seed, precision=precision, **kwargs)
        self.context = context
        self.batches = batches
        self.compile_encoders = compile

    # ---------------------------------------------------------------- set-up
    def initialize(self):
        """Initialise; in a process group, copy rank 0's initial weights to every rank."""
        super().initialize()
        if self.context is not None:
            # identical already (same seed on every rank); made certain here
            self.context.broadcast_module_(self.module_)
        device = torch.device(self.device)
        self.grad_scaler_ = (
            torch.amp.GradScaler(device.type) if self.precision == "fp16" else None
        )
        if self.compile_encoders:
            for encoder in self.module_.encoders.values():
                encoder.compile()
        return self

    def on_train_end(self, net, X=None, y=None, **kwargs):
        """Undo :meth:`torch.nn.Module.compile` so the trained network is a plain module."""
        super().on_train_end(net, X=X, y=y, **kwargs)
        if self.compile_encoders:
            for encoder in self.module_.encoders.values():
                encoder._compiled_call_impl = None  # what Module.compile() set

    def get_iterator(self, dataset, training=False):
        if training and self.batches is not None:
            return self.batches
        return super().get_iterator(dataset, training=training)

    def _autocast(self):
        """The base class's bf16 autocast, plus float16 autocast for ``"fp16"``."""
        if self.precision != "fp16":
            return super()._autocast()
        return torch.autocast(torch.device(self.device).type, dtype=torch.float16)

    # ------------------------------------------------------------ the seams
    def _gather(self, tensors):
        return {m: self.context.gather_cat(v, self.batches.sizes) for m, v in tensors.items()}

    def gather_outputs(self, outputs):
        """``z``, ``u`` of every rank's shard in rank order (local rows stay differentiable)."""
        if self.context is None:
            return outputs
        return {key: self._gather(value) for key, value in outputs.items()}

    def update_estimators(self, outputs):
        """``mi_steps`` CLUB updates on the detached (gathered) batch, in float32.

        In a process group the estimators' gradients are averaged over the
        ranks, so their weights stay identical. Returns the last
        log-likelihood, or None when nothing was updated.
        """
        if not self.mi_steps or "club" not in self.criterion_.active_terms():
            return None
        net = self.module_
        detached = {k: {m: v.detach().float() for m, v in d.items()} for k, d in outputs.items()}
        params = list(net.estimator_parameters())
        for _ in range(self.mi_steps):
            self.mi_optimizer_.zero_grad(set_to_none=True)
            loglik = net.estimator_log_likelihood(detached)
            (-loglik).backward()
            if self.context is not None:
                self.context.all_reduce_grads_(params)
            self.mi_optimizer_.step()
        if self.mi_scheduler_ is not None:
            self.mi_scheduler_.step()
        return loglik.item()

    def loss_parts(self, x, outputs, perm, cut):
        """Named loss components of the (global) batch; the inputs are gathered too."""
        if self.context is not None:
            with torch.no_grad():
                x = self._gather(x)
        return super().loss_parts(x, outputs, perm, cut)

    def reduce_gradients(self):
        """Average the main parameters' gradients over the ranks."""
        if self.context is not None:
            self.context.all_reduce_grads_([p for _, p in self.get_all_learnable_params()])

    # -------------------------------------------------------------- the step
    @_cpu_step
    def train_step(self, batch, **fit_params):
        """One pre-training step: local forward, gather, CLUB updates, losses, backward,
        gradient average, optimiser step."""
        self._set_training(True)
        x = self._batch_inputs(batch)
        with self._autocast():
            outputs = self.gather_outputs(self.forward_local(x))
        loglik = self.update_estimators(outputs)
        z0 = next(iter(outputs["z"].values()))
        perm, cut = self.draw_loss_randomness(z0.shape[0], z0.shape[1])
        with self._autocast():
            parts = self.loss_parts(x, outputs, perm, cut)
            loss = self.criterion_(parts).float()
        self._zero_grad_optimizer()
        if self.grad_scaler_ is not None:
            self.grad_scaler_.scale(loss).backward()
        else:
            loss.backward()
        self.notify("on_grad_computed", named_parameters=list(self.get_all_learnable_params()),
                    batch=batch)
        self.reduce_gradients()
        if self.grad_scaler_ is not None:
            # identical (averaged) gradients on every rank: every rank skips the same steps
            self.grad_scaler_.step(self.optimizer_)
            self.grad_scaler_.update()
        else:
            self._step_optimizer()
        if loglik is not None:
            self.history.record_batch("mi_loglik", loglik)
        for name, value in parts.items():
            self.history.record_batch(name, value.item())
        return {"loss": loss.detach(), "y_pred": None}

    @_cpu_step
    def validation_step(self, batch, **fit_params):
        """Loss components on held-out data (evaluation mode, no gradient)."""
        self._set_training(False)
        x = self._batch_inputs(batch)
        with torch.no_grad(), self._autocast():
            outputs = self.gather_outputs(self.forward_local(x))
            z0 = next(iter(outputs["z"].values()))
            perm, cut = self.draw_loss_randomness(z0.shape[0], z0.shape[1])
            loss = self.criterion_(self.loss_parts(x, outputs, perm, cut))
        return {"loss": loss, "y_pred": None}





def pretrainer_setup(data, *, device, seed, batch_size, context=None, precision="float32",
                     compile=False):  # noqa: A002
    """Which pre-training net to build, and its extra arguments.

    Parameters
    ----------
    data : dict of str -> ndarray
        The (standardised) pre-training data, identical on every rank.
    device : torch.device
    seed : int
        The run's seed.
    batch_size : int
        The (global) batch.
    context : mne_m2s.distributed.DistContext | None
    precision : str
    compile : bool

    Returns
    -------
    cls : type
        :class:`~mne_m2s.training.M2SPretrainer` when nothing of this module
        is needed (one process, float32 or bf16, not CUDA, not compiled:
        unchanged behaviour), else :class:`DataParallelPretrainer`.
    kwargs : dict
        Extra constructor arguments of ``cls``.
    steps_per_epoch : int | None
        Optimiser steps per epoch when the batches are cut here (None: skorch's).

    Notes
    -----
    Data-parallel runs draw the shuffling, the CLUB permutation and the CPC
    cut from generators seeded from ``seed`` (the same on every rank) and
    re-seed torch's default generator, which draws the dropout masks, with
    ``(seed, rank)`` so that the ranks' masks are independent. Call inside
    :func:`~mne_m2s.training.seeded`, after the network is built.
    """

    from .distributed import ShardedBatches, n_global_batches, place_data

    device = torch.device(device)
    if precision == "fp16" and device.type != "cuda":
        raise ValueError(
            f"precision='fp16' (with a gradient scaler) is for CUDA devices, but the device "
            f"is {device}. Use precision='bf16' on the CPU, or 'float32'."
        )
    if context is None and precision != "fp16" and device.type != "cuda" and not compile:
        return M2SPretrainer, {}, None
    shuffle_seed, loss_seed = np.random.SeedSequence(seed).generate_state(2, np.uint64)
    tensors, non_blocking = place_data(data, device)
    world = 1 if context is None else context.world_size
    batches = ShardedBatches(
        tensors, batch_size, torch.Generator().manual_seed(int(shuffle_seed)), context=context,
        device=device, non_blocking=non_blocking,
    )
    if context is not None:
        rank_seed = np.random.SeedSequence([seed, context.rank]).generate_state(1, np.uint64)[0]
        torch.default_generator.manual_seed(int(rank_seed))
        if device.type == "cuda":
            torch.cuda.manual_seed(int(rank_seed))
    kwargs = dict(context=context, batches=batches, loss_seed=int(loss_seed), compile=compile)
    n = len(next(iter(data.values())))
    return DataParallelPretrainer, kwargs, n_global_batches(n, batch_size, world)


class FineTuneModule(nn.Module):
    """Embedder of one modality followed by the classifier head.

    Parameters
    ----------
    embedder : nn.Module
        Maps ``(batch, T, ...)`` to ``(batch, proj_dim)``.
    head : nn.Module
        The classifier head.
    frozen : bool
        If True the embedder runs without gradient (its parameters are frozen);
        it still follows the module's train/eval mode, so dropout stays active
        while fine-tuning (the reference implementation's behaviour).
    """

    def __init__(self, embedder, head, frozen=False):
        super().__init__()
        self.embedder = embedder
        self.head = head
        self.frozen = frozen

    def forward(self, x):
        """Parameters: x, shape (batch, T, ...). Returns logits (batch, n_classes)."""
        if self.frozen:
            with torch.no_grad():
                f = self.embedder(x)
        else:
            f = self.embedder(x)
        return self.head(f)


def make_classifier_net(
    module,
    *,
    n_samples,
    lr,
    weight_decay,
    max_epochs,
    batch_size,
    device,
    valid_dataset=None,
    patience=None,
    callbacks=None,
    progress_bar=False,
):
    """skorch classifier for fine-tuning: Adam, cosine schedule over all steps.

    A batch of one sample cannot pass BatchNorm in training mode, so the last
    batch is dropped only when it would hold exactly one sample.
    """
    from skorch.callbacks import EarlyStopping
    from skorch.helper import predefined_split

    bs = min(batch_size, n_samples)
    drop_last = n_samples % bs == 1
    cbs = [("cosine", cosine_schedule(max_epochs * n_batches(n_samples, bs, drop_last)))]
    if valid_dataset is not None and patience:
        cbs.append(
            ("early_stopping", EarlyStopping(monitor="valid_loss", patience=patience,
                                             load_best=True, sink=logger.info))
        )
    if progress_bar:
        cbs.append(("progress", EpochProgressBar("fine-tuning")))
    cbs.extend(callbacks or [])
    return NeuralNetClassifier(
        module,
        criterion=nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        optimizer__weight_decay=weight_decay,
        lr=lr,
        max_epochs=max_epochs,
        batch_size=bs,
        iterator_train__shuffle=True,
        iterator_train__drop_last=drop_last,
        train_split=predefined_split(valid_dataset) if valid_dataset is not None else None,
        callbacks=cbs,
        device=str(device),
        callbacks__print_log__sink=logger.info,
    )


#: Device types whose Adam runs as one fused kernel per parameter (torch >= 2.4).
FUSED_ADAM_DEVICES = ("cpu", "cuda")


def fused_adam(device):
    """Whether pre-training's Adam runs fused on ``device`` (True) or torch's default (None).

    The fused implementation computes the same update (to float32 rounding:
    the operations are evaluated in another order) in one pass over each
    parameter and its moments, where the default makes about eight; on two
    CPU threads that saves 10-20 ms of a SEED-sized step.
    """
    return True if torch.device(device).type in FUSED_ADAM_DEVICES else None


@torch.no_grad()
def batched_forward(module, x, device, batch_size=1024):
    """Run ``module`` in evaluation mode over ``x`` in batches; returns a float32 ndarray."""
    was_training = module.training
    module.eval()
    try:
        outs = [
            module(torch.as_tensor(x[i : i + batch_size], device=device)).float().cpu().numpy()
            for i in range(0, len(x), batch_size)
        ]
    finally:
        module.train(was_training)
    return np.concatenate(outs) if outs else np.zeros((0,), np.float32)


# ------------------------------------------------------------- orchestration
def check_pretraining_setup(data, *, weights, cpc_steps, batch_size):
    """Check paired pre-training data against the settings; settle what can run.

    Raises a ValueError for what cannot run, and logs one warning, naming the
    setting, the value used and why, for each setting that has to be adapted.

    Parameters
    ----------
    data : dict of str -> ndarray
        ``{modality: (n_samples, n_windows, ...)}``, at least 2 modalities.
    weights : dict of str -> float
        Loss weights ``{"contrastive", "cpc", "recon", "club"}``.
    cpc_steps : int
        Requested prediction steps ``N`` of M2M CPC.
    batch_size : int
        Requested pre-training batch size.

    Returns
    -------
    settings : dict
        ``weights`` (CPC weight 0 when no window is left to predict),
        ``cpc_steps`` (at most ``n_windows - 1``), ``batch_size`` (at most
        ``n_samples``) and ``drop_last`` (True when the last batch of an epoch
        would hold a single sample).
    """
    windows = {m: int(a.shape[1]) for m, a in data.items()}
    if len(set(windows.values())) > 1:
        listing = ", ".join(f"{m}: {t}" for m, t in windows.items())
        raise ValueError(
            "Pre-training pairs the windows of every modality one to one, so all modalities "
            f"need the same number of windows per sample; got {listing}. Cut every modality "
            "into the same windows (e.g. one EmotionParadigm for all, or the same window "
            "length for every feature extractor)."
        )
    weights = dict(weights)
    WeightedLoss(weights)  # raises when every weight is 0
    n = len(next(iter(data.values())))
    t = next(iter(windows.values()))
    if n < 2:
        raise ValueError(
            f"Pre-training needs at least 2 paired samples, got {n}: the contrastive, CPC "
            "and CLUB terms compare the samples of a batch with one another."
        )
    if weights.get("cpc", 0.0) != 0.0:
        if t == 1:
            logger.warning(
                "cpc_weight=%g is not used: the samples have n_windows=1, and M2M CPC "
                "predicts future windows from past ones (it needs n_windows >= 2). The CPC "
                "term is left out of pre-training (weight 0 used). Use samples of several "
                "windows (the paper: 5), or set cpc_weight=0 to silence this.",
                weights["cpc"],
            )
            weights["cpc"] = 0.0
            WeightedLoss(weights)
        elif cpc_steps > t - 1:
            logger.warning(
                "cpc_steps=%d is more than n_windows=%d allows: M2M CPC predicts windows "
                "t+1..t+N after a cut t >= 0, so N <= n_windows - 1. Using cpc_steps=%d "
                "(cut t=0, a context of one window).",
                cpc_steps, t, t - 1,
            )
            cpc_steps = t - 1
        elif t - cpc_steps - 1 < 1:
            logger.warning(
                "cpc_steps=%d with n_windows=%d: the paper draws the CPC cut t in [1, "
                "n_windows - cpc_steps - 1], which is empty here; using the cut t=0 (a "
                "context of one window). Lower cpc_steps or use longer samples for the "
                "paper's setting.",
                cpc_steps, t,
            )
    bs = min(int(batch_size), n)
    drop_last = n % bs == 1
    if drop_last:
        logger.warning(
            "pretrain_batch_size=%d leaves a last batch of 1 sample (n_samples=%d): the "
            "contrastive, CPC and CLUB terms are trivially 0 on one sample, so that batch is "
            "dropped: each epoch uses %d samples (shuffled, so a different one is left out "
            "each epoch). Choose pretrain_batch_size so that n_samples %% batch_size != 1 "
            "to use all.",
            batch_size, n, n - 1,
        )
    return {"weights": weights, "cpc_steps": int(cpc_steps), "batch_size": bs,
            "drop_last": drop_last}


def pretrain_network(
    data,
    network_params,
    *,
    weights,
    cpc_steps,
    mi_steps,
    max_epochs,
    batch_size,
    lr,
    weight_decay,
    device,
    seed,
    precision="float32",
    callbacks=None,
    progress_bar=False,
    context=None,
    compile=False,  # noqa: A002 - skorch's name for the same option
    checkpoint=None,
):
    """Build an :class:`~mne_m2s.nn.m2s.M2SNetwork` and pre-train it (SPEC.md §3.8).

    Parameters
    ----------
    data : dict of str -> ndarray (float32)
        Standardised paired inputs ``{modality: (n, T, D) or (n, T, C, B)}``.
    network_params : dict
        Keyword arguments of :class:`~mne_m2s.nn.m2s.M2SNetwork` but
        ``modalities`` and ``cpc_steps``.
    weights : dict of str -> float
        Loss weights.
    cpc_steps, mi_steps, max_epochs, batch_size, lr, weight_decay :
        Schedule: Adam with weight decay, cosine annealing over all steps; the
        CLUB estimators have their own Adam with the same settings. Both run
        fused on the CPU and CUDA (:func:`fused_adam`).
    device : torch.device
    seed : int
        Seeds every draw (initialisation, shuffling, dropout, the losses' draws).
    precision : {"float32", "bf16", "fp16"}
        See :class:`M2SPretrainer`; ``"fp16"`` (CUDA) is
        :class:`DataParallelPretrainer`'s.
    callbacks : list | None
        Extra skorch callbacks.
    progress_bar : bool
        Show a tqdm bar over epochs.
    context : mne_m2s.distributed.DistContext | None
        Process group of data-parallel pre-training (None: one process).
    compile : bool
        Compile the ER encoders.
    checkpoint : tuple | None
        ``(checkpoint_dir, every, resume, meta)`` (see :mod:`mne_m2s.checkpoint`).

    Returns
    -------
    network : M2SNetwork
        On the CPU, in evaluation mode.
    history : skorch.History
        Per-epoch losses.
    settings : dict
        What ran (see :func:`check_pretraining_setup`).
    """
    from .modalities import ModalitySpec

    settings = check_pretraining_setup(data, weights=weights, cpc_steps=cpc_steps,
                                       batch_size=batch_size)
    from .checkpoint import checkpoint_setup
    from .nn.m2s import M2SNetwork

    n = len(next(iter(data.values())))
    bs = settings["batch_size"]
    specs = {m: ModalitySpec.from_array(m, a) for m, a in data.items()}

    with seeded(seed, device):
        network = M2SNetwork(
            {m: (s.n_features, s.n_bands) for m, s in specs.items()},
            cpc_steps=max(settings["cpc_steps"], 1),
            **network_params,
        )
        # M2SPretrainer, or (data-parallel, CUDA, mixed precision, compiled) its subclass
        # DataParallelPretrainer fed by batches cut on the device (below)
        net_cls, net_extra, steps = pretrainer_setup(
            data, device=device, seed=seed, batch_size=bs, context=context,
            precision=precision, compile=compile,
        )
        total_steps = max_epochs * (steps or n_batches(n, bs, settings["drop_last"]))
        cbs = [("cosine", cosine_schedule(total_steps))]
        if progress_bar:
            cbs.append(("progress", EpochProgressBar("pre-training")))
        cbs.extend(callbacks or [])
        ckpt, done = checkpoint_setup(*(checkpoint or (None,) * 4), max_epochs, context=context)
        if ckpt is not None:  # last: sees the epoch's full history row; restores last
            cbs.append(("checkpoint", ckpt))
        net = net_cls(
            network,
            WeightedLoss(settings["weights"]),
            optimizer=torch.optim.Adam,
            optimizer__weight_decay=weight_decay,
            optimizer__fused=fused_adam(device),
            lr=lr,
            max_epochs=max_epochs,
            batch_size=bs,
            iterator_train__shuffle=True,
            iterator_train__drop_last=settings["drop_last"],
            train_split=None,
            callbacks=cbs,
            device=str(device),
            mi_steps=mi_steps,
            mi_lr=lr,
            mi_weight_decay=weight_decay,
            mi_total_steps=total_steps,
            precision=precision,
            **net_extra,
        )
        logger.info("Pre-training M2S on %s (%d samples) on %s", list(specs), n, device)
        if done < max_epochs:
            net.fit(data, None, epochs=max_epochs - done)
        else:  # the checkpoint holds the finished run
            net.initialize()
            ckpt.restore(net, ckpt.resume_state)
    return net.module_.to("cpu").eval(), net.history, settings
