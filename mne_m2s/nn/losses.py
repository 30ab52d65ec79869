"""Losses of M2S pre-training (SPEC.md §3.4-§3.8), open_clip style.

Each loss is an :class:`torch.nn.Module` with explicit inputs; those that
combine several terms return a ``dict`` of named parts.
"""

import itertools
import math

import torch
import torch.nn.functional as F
from torch import nn

from ._club import club_log_likelihood
from ._linear import Linear, linear


def _mlp(sizes, final=None):
    layers = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        layers.append(Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    if final is not None:
        layers.append(final)
    return nn.Sequential(*layers)


class CLUB(nn.Module):
    """Contrastive log-ratio upper bound of the mutual information I(z; u).

    A variational network ``q(u | z) = N(mu(z), exp(logvar(z)))`` with mean and
    log-variance heads ``E -> 32 -> 32 -> 32 -> u_dim`` (ReLU; the log-variance
    head ends in tanh). :meth:`log_likelihood` trains the estimator (on
    detached inputs), :meth:`mi_upper_bound` is the encoders' penalty.

    Parameters
    ----------
    z_dim : int
        Size of the emotion-related embedding ``E``.
    u_dim : int
        Size of the emotion-independent embedding.
    hidden : int
        Hidden width (SPEC: ``64 // 2 = 32``).
    """

    def __init__(self, z_dim=128, u_dim=128, hidden=32):
        super().__init__()
        self.mu = _mlp([z_dim, hidden, hidden, hidden, u_dim])
        self.logvar = _mlp([z_dim, hidden, hidden, hidden, u_dim], final=nn.Tanh())

    def log_likelihood(self, z, u):
        """Mean over samples and windows of ``sum_dims [-(mu-u)^2/exp(logvar) - logvar] / 2``.

        On the CPU in float32 the terms after the heads' last layers (tanh,
        exp, the sums) run as one compiled kernel each way
        (:mod:`mne_m2s.nn._club`, as :func:`mne_m2s.utils.set_cpu_kernels`
        chooses), to float32 rounding the same function.

        Parameters
        ----------
        z : Tensor, shape (batch, T, z_dim)
        u : Tensor, shape (batch, T, u_dim)

        Returns
        -------
        loglik : Tensor, scalar
        """
        if not isinstance(self.logvar[-1], nn.Tanh):  # a head replaced by the user
            logvar = self.logvar(z)
            return ((-((self.mu(z) - u) ** 2) / logvar.exp() - logvar).sum(-1) / 2).mean()
        pre_tanh = z
        for layer in itertools.islice(self.logvar, len(self.logvar) - 1):
            pre_tanh = layer(pre_tanh)
        return club_log_likelihood(self.mu(z), pre_tanh, u)

    def mi_upper_bound(self, z, u, perm):
        """CLUB estimate of I(z; u), the reference form.

        ``pos = -mean_t (mu - u)^2 / exp(mean_t logvar)``, ``neg`` the same with
        ``u`` of a permuted batch, result ``mean_s sum_dims (pos - neg) / 2``.
        The log-variance is averaged over windows *before* exponentiating, as
        in the reference implementation, whereas :meth:`log_likelihood` uses
        per-window variances; the inconsistency is kept for faithfulness.

        Parameters
        ----------
        z : Tensor, shape (batch, T, z_dim)
        u : Tensor, shape (batch, T, u_dim)
        perm : LongTensor, shape (batch,)
            Permutation of the batch giving the negative pairs.

        Returns
        -------
        bound : Tensor, scalar
        """
        mu, logvar = self.mu(z), self.logvar(z)
        inv_var = (-logvar.mean(dim=1)).exp()
        pos = -((mu - u) ** 2).mean(dim=1) * inv_var
        neg = -((mu - u[perm]) ** 2).mean(dim=1) * inv_var
        return ((pos - neg).sum(-1) / 2).mean()


class ContrastiveLoss(nn.Module):
    """CLIP-style symmetric InfoNCE between modalities with a learnable temperature.

    ``logits = exp(tau) * e_a e_b^T`` where ``e`` are L2-normalised (with an
    epsilon) projections; sample ``i`` of modality ``a`` pairs with sample
    ``i`` of modality ``b``. ``tau`` starts at ``log(1 / 0.07)`` and
    ``exp(tau)`` is clamped at ``max_scale`` (100, as CLIP; the reference
    leaves it unbounded). With more than two modalities the loss is the mean
    over all modality pairs.

    Parameters
    ----------
    init_temperature : float
    max_scale : float
    eps : float
        Added in the normalisation (the reference has none; with ReLU
        projections an all-zero vector is possible).
    """

    def __init__(self, init_temperature=0.07, max_scale=100.0, eps=1e-8):
        super().__init__()
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / init_temperature)))
        self.max_scale = max_scale
        self.eps = eps

    def pair_loss(self, ea, eb):
        """Symmetric InfoNCE of two batches of normalised embeddings."""
        scale = self.logit_scale.exp().clamp(max=self.max_scale)
        logits = scale * ea @ eb.T
        target = torch.arange(ea.shape[0], device=ea.device)
        return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2

    def forward(self, projections):
        """Compute the loss.

        Parameters
        ----------
        projections : list of Tensor, each shape (batch, proj_dim)
            One (un-normalised) projection per modality.

        Returns
        -------
        loss : Tensor, scalar
        """
        e = [p / (p.norm(dim=-1, keepdim=True) + self.eps) for p in projections]
        pairs = list(itertools.combinations(range(len(e)), 2))
        return sum(self.pair_loss(e[a], e[b]) for a, b in pairs) / len(pairs)


class M2MCPC(nn.Module):
    """Multi-to-multi contrastive predictive coding (SPEC.md §3.7).

    Per modality a 2-layer LSTM reads ``z[0..t]``; for each step ``k = 1..N``
    and modality ``a`` a linear predictor reads the concatenated contexts of
    all modalities and predicts ``z_a[t + k]``. Target modality ``A`` is scored
    against the prediction of modality ``B`` with ``S = z_A[t+k] p_B,k^T`` and
    ``-mean_i log_softmax(S)[i, i]``; cross-modal pairs weigh
    ``cross_weight``, same-modality pairs ``same_weight``; the sum over pairs
    and steps is divided by ``N``. All pairs of a step are computed in one
    product whose rows are the softmax's (no copy).

    Parameters
    ----------
    n_modalities : int
    embedding_dim : int
    n_steps : int
        Prediction steps ``N`` (SPEC: 2).
    hidden : int
        LSTM hidden size (SPEC: 64).
    n_lstm_layers : int
    cross_weight, same_weight : float
    min_start : int
        Earliest cut ``t`` (SPEC: 1), lowered when the windows are too few.
    """

    def __init__(
        self,
        n_modalities,
        embedding_dim=128,
        n_steps=2,
        hidden=64,
        n_lstm_layers=2,
        cross_weight=1.0,
        same_weight=0.1,
        min_start=1,
    ):
        super().__init__()
        self.n_modalities = n_modalities
        self.n_steps = n_steps
        self.min_start = min_start
        self.lstms = nn.ModuleList(
            nn.LSTM(embedding_dim, hidden, num_layers=n_lstm_layers, batch_first=True)
            for _ in range(n_modalities)
        )
        # predictors[k * M + a]: concat contexts -> prediction of modality a, step k + 1
        self.predictors = nn.ModuleList(
            Linear(n_modalities * hidden, embedding_dim)
            for _ in range(n_steps * n_modalities)
        )
        w = torch.full((n_modalities, n_modalities), float(cross_weight))
        w.fill_diagonal_(float(same_weight))
        self.register_buffer("pair_weights", w, persistent=False)

    def effective_steps(self, n_windows):
        """Prediction steps usable with ``n_windows`` windows (0: CPC disabled)."""
        return max(0, min(self.n_steps, n_windows - 1))

    def cut_range(self, n_windows):
        """Inclusive range ``(lo, hi)`` of the cut ``t`` for ``n_windows`` windows."""
        n = self.effective_steps(n_windows)
        hi = n_windows - n - 1
        return min(self.min_start, hi), hi

    def forward(self, zs, t):
        """Compute the loss for one cut.

        Parameters
        ----------
        zs : list of Tensor, each shape (batch, T, E)
            ER embeddings of every modality, in a fixed order.
        t : int
            Cut: contexts read ``z[0..t]``; targets are ``z[t + 1 .. t + N]``.

        Returns
        -------
        loss : Tensor, scalar
        """
        n_windows = zs[0].shape[1]
        n = self.effective_steps(n_windows)
        if n == 0:
            return zs[0].sum() * 0.0
        m = self.n_modalities
        ctx = torch.cat(
            [lstm(z[:, : t + 1])[0][:, -1] for lstm, z in zip(self.lstms, zs, strict=True)],
            dim=-1,
        )
        total = 0.0
        batch = ctx.shape[0]
        for k in range(1, n + 1):
            preds = torch.cat([self.predictors[(k - 1) * m + a](ctx) for a in range(m)])
            targets = torch.cat([z[:, t + k] for z in zs])  # (M * batch, E)
            # scores[A, i, B, j] = z_A[t+k]_i . p_B,k_j: one product of all pairs, laid out
            # so that the softmax over j runs along contiguous memory
            scores = linear(targets, preds).view(m, batch, m, batch)
            nll = -scores.log_softmax(dim=-1).diagonal(dim1=1, dim2=3).mean(-1)  # (M, M)
            total = total + (nll * self.pair_weights).sum()
        return total / n


class ReconstructionLoss(nn.Module):
    """Mean squared error between the decoder output and the input sequence."""

    def forward(self, x_hat, x):
        """Parameters: x_hat (batch, T, D), x (batch, T, D...). Returns a scalar."""
        return F.mse_loss(x_hat, x.flatten(2))
