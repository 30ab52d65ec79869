"""Training-mode parity of the dropout sites with the reference (SPEC.md 3.1-3.2).

Each test measures, in training mode, which fraction of a residual branch is
dropped: the reference drops the attention output once (the block's 0.1; its
STS module has no output dropout of its own) and the feed-forward network after
its ReLU and after its second linear layer. Dropping the STS output twice, as an
earlier version did, drops 1 - 0.9 ** 2 = 19 % instead of 10 %.
"""

import pytest
import torch

from mne_m2s.nn.attention import STSAttention, WindowAttention
from mne_m2s.nn.encoders import EREncoder

P = 0.1


def _capture(block):
    """Hooks recording the block input, the attention output and the norm1 input."""
    seen = {}

    def pre_block(mod, args):
        seen["h"] = args[0].detach().clone()

    def post_attention(mod, args, out):
        seen["attn"] = out.detach().clone()

    def pre_norm1(mod, args):
        seen["norm1_in"] = args[0].detach().clone()

    def pre_norm2(mod, args):
        seen["norm2_in"] = args[0].detach().clone()

    def pre_drop2(mod, args):
        seen["ffn_pre_drop"] = args[0].detach().clone()

    hooks = [
        block.register_forward_pre_hook(pre_block),
        block.attention.register_forward_hook(post_attention),
        block.norm1.register_forward_pre_hook(pre_norm1),
        block.norm2.register_forward_pre_hook(pre_norm2),
        block.ffn[4].register_forward_pre_hook(pre_drop2),
    ]
    return seen, hooks


def _dropped(before, after):
    """Fraction of the non-zero entries of ``before`` that are zero in ``after``,
    and the scale of those kept."""
    live = before != 0
    dropped = (after == 0) & live
    frac = dropped.sum().item() / live.sum().item()
    kept = live & ~dropped
    scale = (after[kept] / before[kept]).median().item()
    return frac, scale


def _run_block(encoder, x):
    block = encoder.blocks[0]
    seen, hooks = _capture(block)
    try:
        with torch.random.fork_rng():
            torch.manual_seed(0)
            encoder.train()(x)
    finally:
        for h in hooks:
            h.remove()
    return seen


@pytest.mark.parametrize("kind", ["electrode", "vector"])
def test_attention_residual_is_dropped_once_at_the_block_rate(kind):
    torch.manual_seed(1)
    if kind == "electrode":
        enc = EREncoder(62 * 5, 32, n_bands=5, attention="sts", n_layers=1, ffn_dim=64,
                        dropout=P)
        x = torch.randn(64, 5, 62, 5)
        assert isinstance(enc.blocks[0].attention, STSAttention)
    else:
        enc = EREncoder(33, 128, n_bands=None, n_layers=1, ffn_dim=64, dropout=P)
        x = torch.randn(256, 5, 33)
        assert isinstance(enc.blocks[0].attention, WindowAttention)
    seen = _run_block(enc, x)
    residual = seen["norm1_in"] - seen["h"]  # what the attention branch adds
    if kind == "electrode":
        # STS is deterministic but for dropout: its undropped output, recomputed
        att = enc.blocks[0].attention
        with torch.no_grad():
            before = att.eval()(seen["h"])
        att.train()
    else:
        # the attention weights are dropped inside (standard transformer layer),
        # so compare with the output the attention module returned
        before = seen["attn"]
    frac, scale = _dropped(before, residual)
    # about 10^5 entries: the binomial standard deviation is ~1e-3
    assert frac == pytest.approx(P, abs=0.01), f"{frac:.3f} of the attention output dropped"
    assert scale == pytest.approx(1 / (1 - P), rel=1e-3)


def test_sts_module_inside_the_encoder_has_no_output_dropout():
    enc = EREncoder(14 * 5, 16, n_bands=5, attention="sts", n_layers=2, ffn_dim=32, dropout=P)
    for block in enc.blocks:
        assert block.attention.dropout.p == 0.0
        assert block.attn_dropout.p == P


def test_feed_forward_drops_after_relu_and_after_second_linear(monkeypatch):
    import mne_m2s.nn.encoders as encoders

    # the fused CPU path applies relu and a {0, 1} mask in one step and folds
    # the 1 / (1 - p) into the second layer's weight: record the masked hidden
    masked, hidden = [], []
    real_linear_relu_keep = encoders.linear_relu_keep

    def spy(x, weight, bias, p):
        out = real_linear_relu_keep(x, weight, bias, p)
        hidden.append(torch.nn.functional.linear(x, weight, bias).detach().relu())
        masked.append(out.detach().clone())
        return out

    monkeypatch.setattr(encoders, "linear_relu_keep", spy)
    torch.manual_seed(2)
    enc = EREncoder(62 * 5, 32, n_bands=5, attention="sts", n_layers=1, ffn_dim=256, dropout=P)
    seen = _run_block(enc, torch.randn(32, 5, 62, 5))
    (hidden_masked,), (hidden_relu,) = masked, hidden
    frac_hidden, _ = _dropped(hidden_relu, hidden_masked)
    assert frac_hidden == pytest.approx(P, abs=0.01)
    # what reaches the second linear layer is the kept hidden scaled by 1 / (1 - p)
    lin2 = enc.blocks[0].ffn[3]
    with torch.no_grad():
        expected = lin2(hidden_masked / (1 - P))
    torch.testing.assert_close(seen["ffn_pre_drop"], expected, rtol=1e-4, atol=1e-5)
    # the residual the FFN adds is its output after one more dropout, nothing else
    residual = seen["norm2_in"] - enc.blocks[0].norm1(seen["norm1_in"])
    frac_out, scale_out = _dropped(seen["ffn_pre_drop"], residual)
    assert frac_out == pytest.approx(P, abs=0.01)
    assert scale_out == pytest.approx(1 / (1 - P), rel=1e-3)


@pytest.mark.parametrize("kernels", ["torch", "auto"])
def test_fused_feed_forward_equals_the_unfused_modules(kernels):
    """Both dropout paths (PyTorch's 16-bit masks, the compiled Philox kernel)."""
    from mne_m2s.nn._dropout import Dropout
    from mne_m2s.nn.encoders import FeedForward
    from mne_m2s.utils import set_cpu_kernels

    previous = set_cpu_kernels(kernels)
    try:
        _check_fused_feed_forward(Dropout, FeedForward)
    finally:
        set_cpu_kernels(previous)


def _check_fused_feed_forward(Dropout, FeedForward):
    torch.manual_seed(4)
    ffn = FeedForward(40, 96, dropout=0.2).train()
    x = torch.randn(64, 5, 40, requires_grad=True)
    g = torch.randn(64, 5, 40)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        fused = ffn(x)
    lin1, _, _, lin2, _ = ffn
    with torch.random.fork_rng():
        torch.manual_seed(0)  # same draws in the same order: hidden mask, then output mask
        plain = Dropout(0.2)(lin2(Dropout(0.2)(torch.relu(lin1(x)))))
    torch.testing.assert_close(fused, plain, rtol=1e-5, atol=1e-6)
    grads_fused = torch.autograd.grad(fused, [x, *ffn.parameters()], g)
    grads_plain = torch.autograd.grad(plain, [x, *ffn.parameters()], g)
    for a, b in zip(grads_fused, grads_plain, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_window_attention_drops_attention_weights_in_training_only():
    torch.manual_seed(3)
    att = WindowAttention(16, n_heads=4, dropout=0.5)
    x = torch.randn(8, 5, 16)
    with torch.no_grad():
        ev = att.eval()(x)
        tr = att.train()(x)
        att.attn_dropout = 0.0
        tr0 = att.train()(x)
    torch.testing.assert_close(ev, tr0)
    assert not torch.allclose(ev, tr)


def test_fused_relu_dropout_is_relu_then_dropout():
    from mne_m2s.nn._kernels import Dropout, keep_mask, relu_mask

    x = torch.randn(300, 64, dtype=torch.float64, requires_grad=True)
    g = torch.randn(300, 64, dtype=torch.float64)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        masked = relu_mask(x, keep_mask(x, 0.3))
        fused = masked * (1 / (1 - 0.3))  # FeedForward folds this into the next weight
        torch.manual_seed(0)
        plain = Dropout(0.3)(torch.relu(x))
    torch.testing.assert_close(fused, plain, rtol=0, atol=0)
    # only the output is saved for the backward pass
    assert [t.data_ptr() for t in masked.grad_fn.saved_tensors] == [masked.data_ptr()]
    (gf,) = torch.autograd.grad(fused, x, g)
    (gp,) = torch.autograd.grad(plain, x, g)
    torch.testing.assert_close(gf, gp)


def test_evaluation_mode_is_deterministic():
    enc = EREncoder(14 * 5, 16, n_bands=5, n_layers=2, ffn_dim=32).eval()
    x = torch.randn(4, 5, 14, 5)
    torch.testing.assert_close(enc(x), enc(x))
