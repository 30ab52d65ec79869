"""BDAE-cGAN: multimodal features generated from a single modality by a conditional GAN."""

import torch
from torch import nn

from ..utils._checks import check_float
from ._common import adam_with_cosine, steps_per_epoch, train_loop
from .bdae import BDAERegressor, _check_hidden


class ConditionalDiscriminator(nn.Module):
    """``D(h, c)``: real/fake logit of a multimodal feature ``h`` given the condition ``c``.

    Fully connected with Leaky-ReLU; ``c`` is the sample's single-modality
    input averaged over its windows.

    Parameters
    ----------
    feature_dim : int
        Size of ``h``.
    condition_dim : int
        Size of ``c``.
    hidden : tuple of int
    """

    def __init__(self, feature_dim, condition_dim, hidden=(128, 64)):
        super().__init__()
        layers, width = [], feature_dim + condition_dim
        for h in hidden:
            layers += [nn.Linear(width, h), nn.LeakyReLU(0.2)]
            width = h
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, h, x):
        """Parameters: h (batch, feature_dim), x (batch, T, ...). Returns logits (batch,)."""
        c = x.flatten(2).mean(dim=1)
        return self.net(torch.cat([h, c], dim=-1)).squeeze(-1)


class BDAECGAN(BDAERegressor):
    """Cross-modal BDAE-cGAN: a conditional GAN maps one modality onto BDAE multimodal features.

    Parameters
    ----------
    generator, hidden, shared_dim, generator_hidden :
        See :class:`~mne_m2s.baselines.BDAERegressor`.
    discriminator_hidden : tuple of int
        Hidden sizes of the conditional discriminator.
    l2_weight : float
        Weight of the paired MSE term of the generator loss.
    embedding_dim, attention, n_layers, n_heads, head_dim, ffn_dim, dropout :
        M2S encoder settings of the ``"m2s"`` generator.
    pretrain_max_epochs, pretrain_batch_size, pretrain_lr, pretrain_weight_decay :
        Schedule of both pre-training stages.
    max_epochs, batch_size, lr, weight_decay, head_hidden :
        Fine-tuning of the M2S classifier head.
    scale, device, random_state, verbose, pretrained :
        As :class:`~mne_m2s.baselines.BDAERegressor`.

    Notes
    -----
    **Fidelity note — source.** X. Yan, L.-M. Zhao, B.-L. Lu, "Simplifying multimodal emotion
    recognition with single eye movement modality", ACM MM 2021.

    **As published.** Stage I: a bimodal deep autoencoder (Liu et al., ICONIP
    2016) trained on EEG + eye gives the real multimodal features. Stage II: a
    conditional GAN whose generator maps single-modality (eye) features onto
    multimodal features and whose discriminator tells real multimodal
    features from generated ones given the same condition (the eye features);
    the published generator is a fully connected network with Leaky-ReLU
    (``generator="mlp"``). At test time only the single modality is used.

    **Adapted.** (1) As in :class:`~mne_m2s.baselines.BDAERegressor`: one
    generator per modality so that the M2S cross-modal protocol applies
    (fine-tune on one modality's generated features, test on the other's),
    and by default (``generator="m2s"``) the M2S encoder + projection as
    generator and the M2S head as classifier, following the M2S paper's
    statement that its cross-modal baselines share the CLIP baseline's
    encoders and fine-tuning. (2) The generator loss adds
    ``l2_weight * MSE(G(x), h)`` to the adversarial loss (pairing each
    generated feature with its real one, as conditional GANs for paired
    translation usually do); the published weighting was not available —
    ``l2_weight=0`` gives the purely adversarial objective. (3) The
    discriminator's condition is the sample's input averaged over windows.
    (4) BDAE adaptations as in :class:`~mne_m2s.baselines.BDAEClassifier`.

    **Hyper-parameters.** As :class:`~mne_m2s.baselines.BDAERegressor`, plus
    ``discriminator_hidden=(128, 64)``, ``l2_weight=1.0`` and Adam betas
    (0.5, 0.999) for both players (the usual GAN setting), chosen here.
    """

    _adversarial = True

    def __init__(self, generator="m2s", hidden=(128,), shared_dim=64,
                 generator_hidden=(256, 256), discriminator_hidden=(128, 64), l2_weight=100.0, *,
                 embedding_dim=128, attention="sts", n_layers=4, n_heads=4, head_dim=64,
                 ffn_dim=1024, dropout=0.1, pretrain_max_epochs=200, pretrain_batch_size=512,
                 pretrain_lr=1e-4, pretrain_weight_decay=1e-4, max_epochs=200, batch_size=512,
                 lr=1e-3, weight_decay=1e-4, head_hidden=128, scale=True, device="auto",
                 random_state=None, verbose=0, pretrained=None):
        super().__init__(
            generator=generator, hidden=hidden, shared_dim=shared_dim,
            generator_hidden=generator_hidden, embedding_dim=embedding_dim, attention=attention,
            n_layers=n_layers, n_heads=n_heads, head_dim=head_dim, ffn_dim=ffn_dim,
            dropout=dropout, pretrain_max_epochs=pretrain_max_epochs,
            pretrain_batch_size=pretrain_batch_size, pretrain_lr=pretrain_lr,
            pretrain_weight_decay=pretrain_weight_decay, max_epochs=max_epochs,
            batch_size=batch_size, lr=lr, weight_decay=weight_decay, head_hidden=head_hidden,
            scale=scale, device=device, random_state=random_state, verbose=verbose,
            pretrained=pretrained,
        )
        self.discriminator_hidden = discriminator_hidden
        self.l2_weight = l2_weight

    def _check_params(self):
        super()._check_params()
        _check_hidden("discriminator_hidden", self.discriminator_hidden)
        check_float("l2_weight", self.l2_weight, min_value=0.0)

    def _train_generators(self, gens, data, target, device):
        tensors = {m: torch.as_tensor(a, device=device) for m, a in data.items()}
        discs = nn.ModuleDict({
            m: ConditionalDiscriminator(target.shape[1], int(a[0, 0].numel()),
                                        tuple(self.discriminator_hidden))
            for m, a in tensors.items()
        }).to(device)
        n = len(target)
        n_steps = self.pretrain_max_epochs * steps_per_epoch(n, self.pretrain_batch_size)
        betas = (0.5, 0.999)
        opt_g, sched_g = adam_with_cosine(gens.parameters(), self.pretrain_lr,
                                          self.pretrain_weight_decay, n_steps, betas)
        opt_d, sched_d = adam_with_cosine(discs.parameters(), self.pretrain_lr,
                                          self.pretrain_weight_decay, n_steps, betas)
        bce = nn.functional.binary_cross_entropy_with_logits

        def step(idx):
            h = target[idx]
            ones = torch.ones(len(idx), device=device)
            zeros = torch.zeros(len(idx), device=device)
            fake = {m: g(tensors[m][idx]) for m, g in gens.items()}
            # discriminator: real (h, c) vs generated (G(x), c)
            d_loss = sum(
                bce(discs[m](h, tensors[m][idx]), ones)
                + bce(discs[m](fake[m].detach(), tensors[m][idx]), zeros)
                for m in gens
            )
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
            sched_d.step()
            # generator: fool the discriminator, stay close to the paired real feature
            adv = sum(bce(discs[m](fake[m], tensors[m][idx]), ones) for m in gens)
            l2 = sum(nn.functional.mse_loss(fake[m], h) for m in gens)
            g_loss = adv + self.l2_weight * l2
            opt_g.zero_grad(set_to_none=True)
            g_loss.backward()
            opt_g.step()
            sched_g.step()
            return {"discriminator": d_loss.item(), "adversarial": adv.item(), "l2": l2.item()}

        gens.train()
        discs.train()
        return train_loop(step, n, max_epochs=self.pretrain_max_epochs,
                          batch_size=self.pretrain_batch_size, device=device,
                          desc="stage II: cGAN", verbose=int(self.verbose))


__all__ = ["BDAECGAN", "ConditionalDiscriminator"]
