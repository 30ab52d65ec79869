"""Pre-training net for data-parallel, mixed-precision and device-fed runs.

:class:`DataParallelPretrainer` is the :class:`~mne_m2s.training.M2SPretrainer`
used when pre-training runs inside a :mod:`torch.distributed` process group,
with a ``precision`` other than float32, or on a CUDA device. Its step has the
same parts as the base class's; what it adds (see :mod:`mne_m2s.distributed`
for why the data-parallel step computes the single-process loss of the global
batch):

* the outputs ``z, u`` of this rank's shard and its inputs (the
  reconstruction targets) are gathered in rank order before the losses;
* the CLUB permutation and the CPC cut come from a generator seeded
  identically on every rank; the CLUB estimators train on the gathered,
  detached batch and their gradients are averaged over the ranks;
* the main gradients are averaged over the ranks before the optimiser step;
* ``precision="fp16"`` (CUDA): float16 autocast, and the loss is scaled with
  :class:`torch.amp.GradScaler` (``"bf16"`` is the base class's autocast);
* batches come from :class:`~mne_m2s.distributed.ShardedBatches`, cut where
  the data already are (on the device), not from a DataLoader.
"""

import torch

from .training import M2SPretrainer

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
    import numpy as np

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


__all__ = ["PRECISIONS", "DataParallelPretrainer", "pretrainer_setup"]
