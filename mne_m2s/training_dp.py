"""The pre-training net of data-parallel and device-fed runs (see :mod:`mne_m2s.distributed`)."""

import torch

from .training import M2SPretrainer


class DataParallelPretrainer(M2SPretrainer):
    """:class:`~mne_m2s.training.M2SPretrainer` fed by :class:`ShardedBatches`.

    With a :class:`DistContext` it fills the pre-training step's seams for
    data-parallel training (module docs): the outputs and inputs of the
    shards are gathered in rank order, the CLUB estimators' gradients and
    the main gradients are averaged over the ranks. Without one (a
    single-process CUDA run) it only feeds batches cut on the device.

    Parameters
    ----------
    context : mne_m2s.distributed.DistContext | None
    batches : ShardedBatches
        The training batches (replaces skorch's DataLoader).
    **kwargs
        Passed to :class:`~mne_m2s.training.M2SPretrainer`.
    """

    def __init__(self, *args, context=None, batches=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.context = context
        self.batches = batches

    def initialize(self):
        """Initialise; in a process group, copy rank 0's initial weights to every rank."""
        super().initialize()
        if self.context is not None:
            # identical already (same seed on every rank); made certain here
            self.context.broadcast_module_(self.module_)
        return self

    def get_iterator(self, dataset, training=False):
        if training and self.batches is not None:
            return self.batches
        return super().get_iterator(dataset, training=training)

    def _gather(self, tensors):
        return {m: self.context.gather_cat(v, self.batches.sizes) for m, v in tensors.items()}

    def gather_outputs(self, outputs):
        """Gather ``z`` and ``u`` of every rank's shard, keeping the local rows differentiable."""
        if self.context is None:
            return outputs
        return {key: self._gather(value) for key, value in outputs.items()}

    def loss_parts(self, x, outputs, perm, cut):
        """The losses of the global batch: the reconstruction targets are gathered too."""
        if self.context is not None:
            with torch.no_grad():
                x = self._gather(x)
        return super().loss_parts(x, outputs, perm, cut)

    def update_estimators(self, outputs):
        """CLUB updates on the gathered, detached batch, gradients averaged over ranks."""
        if self.context is None:
            return super().update_estimators(outputs)
        if not self.mi_steps or "club" not in self.criterion_.active_terms():
            return None
        net = self.module_
        detached = {k: {m: v.detach() for m, v in d.items()} for k, d in outputs.items()}
        params = list(net.estimator_parameters())
        for _ in range(self.mi_steps):
            self.mi_optimizer_.zero_grad(set_to_none=True)
            loglik = net.estimator_log_likelihood(detached)
            (-loglik).backward()
            self.context.all_reduce_grads_(params)
            self.mi_optimizer_.step()
        if self.mi_scheduler_ is not None:
            self.mi_scheduler_.step()
        return loglik.item()

    def reduce_gradients(self):
        """Average the main parameters' gradients over the ranks."""
        if self.context is not None:
            self.context.all_reduce_grads_([p for _, p in self.get_all_learnable_params()])


__all__ = ["DataParallelPretrainer"]
