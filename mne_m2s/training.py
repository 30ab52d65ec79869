"""Training loops on skorch: M2S pre-training and fine-tuning.

:class:`M2SPretrainer` is a :class:`skorch.NeuralNet` whose ``train_step``
runs one forward pass of the whole multimodal network, ``mi_steps`` updates
of the CLUB estimators on the *detached* outputs of that same pass (the
reference ran a full forward pass before each of them), then one step of the
main optimiser on the weighted loss. Every named loss component is recorded
per batch and averaged per epoch in the skorch history.
"""

import contextlib
import math

import numpy as np
import torch
from skorch import NeuralNet, NeuralNetClassifier
from skorch.callbacks import Callback, LRScheduler, PassthroughScoring, PrintLog
from skorch.dataset import unpack_data
from skorch.utils import to_tensor
from torch import nn
from tqdm.auto import tqdm

from .nn.m2s import LOSS_NAMES
from .utils._logging import logger


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
    """

    def __init__(self, weights=None):
        super().__init__()
        self.weights = dict(weights or {"contrastive": 1.0, "cpc": 1.0, "recon": 0.1, "club": 0.3})

    def active_terms(self):
        """Names of the components with a non-zero weight."""
        return tuple(k for k in LOSS_NAMES if self.weights.get(k, 0.0) != 0.0)

    def forward(self, parts):
        """Parameters: parts, dict of str -> scalar Tensor. Returns the weighted sum."""
        return sum(self.weights[k] * v for k, v in parts.items() if k in self.active_terms())


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


class M2SPretrainer(NeuralNet):
    """skorch net running M2S pre-training (SPEC.md §3.8).

    ``module`` is an initialised :class:`~mne_m2s.nn.m2s.M2SNetwork`; ``criterion``
    a :class:`WeightedLoss`. ``X`` is a dict ``{modality: (n, T, ...)}`` and
    ``y`` is None.

    Parameters
    ----------
    mi_steps : int
        CLUB estimator updates per step (SPEC: 3).
    mi_lr, mi_weight_decay : float
        Settings of the estimators' own Adam (SPEC: those of the main optimiser).
    mi_total_steps : int | None
        Steps of the estimators' cosine schedule (None: constant learning rate).
    **kwargs
        Passed to :class:`skorch.NeuralNet`.
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
        **kwargs,
    ):
        super().__init__(module, criterion, *args, **kwargs)
        self.mi_steps = mi_steps
        self.mi_lr = mi_lr
        self.mi_weight_decay = mi_weight_decay
        self.mi_total_steps = mi_total_steps

    @property
    def _default_callbacks(self):
        return [
            *super()._default_callbacks[:-1],
            *((name, PassthroughScoring(name=name, on_train=True)) for name in LOSS_NAMES),
            ("mi_loglik", PassthroughScoring("mi_loglik", lower_is_better=False, on_train=True)),
            ("print_log", PrintLog(sink=logger.info)),
        ]

    def get_all_learnable_params(self):
        """Main optimiser: every parameter but the CLUB estimators'."""
        club = {id(p) for p in self.module_.estimator_parameters()}
        for name, param in self.module_.named_parameters():
            if id(param) not in club and param.requires_grad:
                yield name, param

    def initialize_optimizer(self, *args, **kwargs):
        """Main Adam (skorch's ``optimizer_``) plus the estimators' own Adam."""
        super().initialize_optimizer(*args, **kwargs)
        self.mi_optimizer_ = torch.optim.Adam(
            self.module_.estimator_parameters(), lr=self.mi_lr, weight_decay=self.mi_weight_decay
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

    def _loss_parts(self, x, outputs):
        net = self.module_
        n, t = next(iter(x.values())).shape[:2]
        device = next(iter(x.values())).device
        perm = torch.randperm(n, device=device)
        lo, hi = net.cpc.cut_range(t)
        cut = int(torch.randint(lo, hi + 1, (1,)).item()) if hi >= lo else 0
        return net.loss_parts(outputs, x, perm, cut, terms=self.criterion_.active_terms())

    def train_step(self, batch, **fit_params):
        """One pre-training step: one forward, ``mi_steps`` estimator updates, one main update."""
        self._set_training(True)
        x = self._batch_inputs(batch)
        net = self.module_
        outputs = net(**x)
        if self.mi_steps and "club" in self.criterion_.active_terms():
            for _ in range(self.mi_steps):
                self.mi_optimizer_.zero_grad(set_to_none=True)
                loglik = net.estimator_log_likelihood(outputs)
                (-loglik).backward()
                self.mi_optimizer_.step()
            self.history.record_batch("mi_loglik", loglik.item())
            if self.mi_scheduler_ is not None:
                self.mi_scheduler_.step()
        parts = self._loss_parts(x, outputs)
        loss = self.criterion_(parts)
        self._zero_grad_optimizer()
        loss.backward()
        self.notify("on_grad_computed", named_parameters=list(self.get_all_learnable_params()),
                    batch=batch)
        self._step_optimizer()
        for name, value in parts.items():
            self.history.record_batch(name, value.item())
        return {"loss": loss.detach(), "y_pred": None}

    def validation_step(self, batch, **fit_params):
        """Loss components on held-out data (evaluation mode, no gradient)."""
        self._set_training(False)
        x = self._batch_inputs(batch)
        with torch.no_grad():
            parts = self._loss_parts(x, self.module_(**x))
            loss = self.criterion_(parts)
        return {"loss": loss, "y_pred": None}

    def _step_optimizer(self, step_fn=None):
        # skorch registers every ``*optimizer_`` attribute and would also step
        # ``mi_optimizer_`` here, with gradients of the main loss; the
        # estimators are stepped on their own objective in ``train_step`` only.
        self.optimizer_.step()


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
