"""The multimodal M2S network: encoders, decoders and losses for N >= 2 modalities."""

from torch import nn

from .encoders import Decoder, EIEncoder, EREncoder, ModalityEmbedder, Projection
from .losses import CLUB, M2MCPC, ContrastiveLoss, ReconstructionLoss

#: Names of the pre-training loss components, in logging order.
LOSS_NAMES = ("contrastive", "cpc", "recon", "club")

#: Architecture settings shared by :class:`M2SNetwork` and :func:`make_embedder`.
EMBEDDER_KEYS = ("embedding_dim", "attention", "n_layers", "n_heads", "head_dim", "ffn_dim",
                 "dropout", "proj_dim")


def make_embedder(n_features, n_bands, config):
    """Encoder + projection of one modality, freshly initialised.

    The one builder of fine-tuning embedders: the supervised baseline trains
    it from scratch, fine-tuning from pre-trained encoders loads
    :meth:`M2SNetwork.embedder`'s weights into it, model files rebuild it.

    Parameters
    ----------
    n_features : int
        Features per window.
    n_bands : int | None
        Bands per electrode (None: a vector modality).
    config : dict
        At least the keys of :data:`EMBEDDER_KEYS`.

    Returns
    -------
    embedder : ModalityEmbedder
        ``(batch, T, ...) -> (batch, proj_dim)``.
    """
    cfg = {k: config[k] for k in EMBEDDER_KEYS if k != "proj_dim"}
    return ModalityEmbedder(
        EREncoder(n_features, n_bands=n_bands, **cfg),
        Projection(config["embedding_dim"], config["proj_dim"]),
    )


class M2SNetwork(nn.Module):
    """Per-modality ER/EI encoders, decoders, CLUB estimators, contrastive head and M2M CPC.

    Parameters
    ----------
    modalities : dict of str -> (int, int | None)
        ``{name: (n_features, n_bands)}``: features per window and, for an
        electrode modality, bands per electrode (None for a vector modality).
        The order of the dict fixes the modality order everywhere.
    embedding_dim : int
        ``E`` (SPEC: 128).
    attention : {"sts", "mha", "none"}
        Attention of electrode encoders.
    n_layers, n_heads, head_dim, ffn_dim, dropout :
        Transformer settings (SPEC: 4, 4, 64, 1024, 0.1).
    ei_dim : int
        Size of the emotion-independent embedding (SPEC: 128).
    proj_dim : int
        Size of the contrastive projection / fine-tuning feature (SPEC: 32).
    club_hidden : int
        Hidden width of the CLUB networks (SPEC: 32).
    cpc_steps : int
        Prediction steps ``N`` of M2M CPC (SPEC: 2).
    cpc_hidden : int
        LSTM hidden size (SPEC: 64).
    init_temperature : float
        Initial contrastive temperature (SPEC: 0.07).
    """

    def __init__(
        self,
        modalities,
        embedding_dim=128,
        attention="sts",
        n_layers=4,
        n_heads=4,
        head_dim=64,
        ffn_dim=1024,
        dropout=0.1,
        ei_dim=128,
        proj_dim=32,
        club_hidden=32,
        cpc_steps=2,
        cpc_hidden=64,
        init_temperature=0.07,
    ):
        super().__init__()
        self.modality_names = list(modalities)
        self.encoders = nn.ModuleDict()
        self.ei_encoders = nn.ModuleDict()
        self.decoders = nn.ModuleDict()
        self.projections = nn.ModuleDict()
        self.club = nn.ModuleDict()
        for name, (n_features, n_bands) in modalities.items():
            self.encoders[name] = EREncoder(
                n_features,
                embedding_dim,
                n_bands=n_bands,
                attention=attention,
                n_layers=n_layers,
                n_heads=n_heads,
                head_dim=head_dim,
                ffn_dim=ffn_dim,
                dropout=dropout,
            )
            self.ei_encoders[name] = EIEncoder(n_features, ei_dim)
            self.decoders[name] = Decoder(n_features, embedding_dim, ei_dim)
            self.projections[name] = Projection(embedding_dim, proj_dim)
            self.club[name] = CLUB(embedding_dim, ei_dim, club_hidden)
        self.contrastive = ContrastiveLoss(init_temperature)
        self.cpc = M2MCPC(len(modalities), embedding_dim, n_steps=cpc_steps, hidden=cpc_hidden)
        self.reconstruction = ReconstructionLoss()

    def embedder(self, name):
        """Encoder + projection of one modality (shares the parameters)."""
        return ModalityEmbedder(self.encoders[name], self.projections[name])

    def forward(self, **inputs):
        """Encode every modality once.

        Parameters
        ----------
        **inputs : Tensor
            ``name=x`` with ``x`` of shape (batch, T, D) or (batch, T, C, B).

        Returns
        -------
        outputs : dict
            ``{"z": {name: (batch, T, E)}, "u": {name: (batch, T, ei_dim)}}``.
        """
        z = {m: self.encoders[m](inputs[m]) for m in self.modality_names}
        u = {m: self.ei_encoders[m](inputs[m]) for m in self.modality_names}
        return {"z": z, "u": u}

    def estimator_log_likelihood(self, outputs):
        """Sum over modalities of the CLUB log-likelihood on *detached* ``z, u``."""
        return sum(
            self.club[m].log_likelihood(outputs["z"][m].detach(), outputs["u"][m].detach())
            for m in self.modality_names
        )

    def loss_parts(self, outputs, inputs, perm, cut, terms=LOSS_NAMES):
        """Named pre-training loss components.

        Parameters
        ----------
        outputs : dict
            From :meth:`forward`.
        inputs : dict of str -> Tensor
            The inputs given to :meth:`forward` (reconstruction targets).
        perm : LongTensor, shape (batch,)
            Batch permutation for the CLUB negative pairs.
        cut : int
            CPC cut ``t``.
        terms : iterable of str
            Components to compute (those with zero weight can be skipped).

        Returns
        -------
        parts : dict of str -> Tensor
            ``contrastive``, ``cpc``, ``recon`` (sum over modalities) and
            ``club`` (sum over modalities), restricted to ``terms``.
        """
        z, u = outputs["z"], outputs["u"]
        names = self.modality_names
        parts = {}
        if "contrastive" in terms:
            parts["contrastive"] = self.contrastive([self.projections[m](z[m]) for m in names])
        if "cpc" in terms:
            parts["cpc"] = self.cpc([z[m] for m in names], cut)
        if "recon" in terms:
            parts["recon"] = sum(
                self.reconstruction(self.decoders[m](z[m], u[m]), inputs[m]) for m in names
            )
        if "club" in terms:
            parts["club"] = sum(self.club[m].mi_upper_bound(z[m], u[m], perm) for m in names)
        return parts

    def estimator_parameters(self):
        """Parameters of the CLUB estimators (trained by their own optimiser)."""
        return self.club.parameters()

    def main_parameters(self):
        """Every parameter except the CLUB estimators'."""
        club = {id(p) for p in self.club.parameters()}
        return [p for p in self.parameters() if id(p) not in club]


def total_loss(parts, weights):
    """Weighted sum ``sum_k weights[k] * parts[k]`` of the named components."""
    return sum(weights[k] * v for k, v in parts.items() if weights.get(k, 0.0) != 0.0)


__all__ = ["EMBEDDER_KEYS", "LOSS_NAMES", "M2SNetwork", "make_embedder", "total_loss"]
