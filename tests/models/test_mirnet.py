"""Model shapes across batch, speaker count and length, and the design's symmetry: the only
thing that tells the attention streams apart is the order of the encoder's channel blocks."""

from __future__ import annotations

import copy
import itertools
import math

import pytest
import torch

from mirnet.architectures import build_model
from mirnet.errors import ConfigError
from mirnet.models.attention import rotate_blocks
from mirnet.models.encoder import SpeechEncoder
from mirnet.models.speaker_nets import build_speaker_net
from mirnet.train.trainer import recompute_batchnorm

from ..conftest import TINY_MODEL


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("n_speakers", [2, 3])
@pytest.mark.parametrize("seconds", [1.0, 3.0])
def test_one_embedding_per_speaker(batch, n_speakers, seconds, one_thread):
    """One embedding and one attention row per speaker, each stream its own; in eval mode the output
    is a deterministic function of each clip alone: another clip gives others, and an item embeds
    the same alone as in its batch. (BatchNorm's statistics are set on noise first: at
    initialisation they leave the output all but constant.)"""
    torch.manual_seed(0)
    model = build_model("mirnet", n_speakers=n_speakers, **TINY_MODEL).eval()
    recompute_batchnorm(model, [{"mixture": 0.1 * torch.randn(4, 16000)}])
    g = torch.Generator().manual_seed(1)
    t = torch.arange(int(seconds * 16000)) / 16000

    def tones():  # three random tones in a little noise per clip
        f = 100 + 3000 * torch.rand(batch, 3, 1, generator=g)
        return 0.1 * torch.sin(2 * math.pi * f * t).sum(1) + 0.01 * torch.randn(batch, len(t), generator=g)

    wav, other = tones(), tones()
    with torch.no_grad():
        out, again, moved = model(wav), model(wav), model(other)
        alone = [model(wav[i : i + 1]) for i in range(batch)]
    frames = int(seconds * 100) + 1
    assert out.embeddings.shape == (batch, n_speakers, 32)
    assert out.attention.shape == (batch, n_speakers, frames)
    for j, k in itertools.combinations(range(n_speakers), 2):  # the streams do differ
        assert (out.embeddings[:, j] - out.embeddings[:, k]).abs().amax(-1).min() > 1e-2
        assert (out.attention[:, j] - out.attention[:, k]).abs().amax(-1).min() > 1e-2
    assert torch.equal(out.embeddings, again.embeddings) and torch.equal(out.attention, again.attention)
    assert (out.embeddings - moved.embeddings).abs().amax((1, 2)).min() > 1e-2
    for i, one in enumerate(alone):
        torch.testing.assert_close(one.embeddings[0], out.embeddings[i], rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(one.attention[0], out.attention[i], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("tdnn", {"channels": 16, "pool_channels": 32}),
        ("tdnn", {"channels": 16, "pool_channels": 32, "stride": 2}),
        ("resnet18", {"widths": (8, 8, 16, 16)}),
        ("resnet18", {"widths": (8, 8, 16, 16), "stem": "imagenet"}),
    ],
)
def test_speaker_nets_pool_over_time(name, kwargs, one_thread):
    """One embedding whatever the length, pooled over time: the clip with its halves swapped, or
    played twice, embeds close to the clip itself (far closer than another "speaker's" clip, one
    with other per-bin levels); in eval mode an item embeds the same alone as in its batch."""
    torch.manual_seed(0)
    net = build_speaker_net(name, in_dim=40, embed_dim=24, **kwargs).eval()
    g = torch.Generator().manual_seed(0)

    def clip(frames):  # a per-bin level (the "voice") plus frame noise
        return 2 * torch.randn(2, 40, 1, generator=g) + torch.randn(2, 40, frames, generator=g)

    x, other = clip(301), clip(301)
    with torch.no_grad():
        emb = net(x)
        assert emb.shape == (2, 24) and net(torch.randn(2, 40, 57)).shape == (2, 24)
        apart = (net(other) - emb).norm(dim=-1)
        for same in (torch.roll(x, 150, -1), torch.cat([x, x], -1)):
            assert ((net(same) - emb).norm(dim=-1) < 0.6 * apart).all()
        torch.testing.assert_close(net(x[1:]), emb[1:], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("stem, plane", [("3x3", (257, 301)), ("3x3/2", (129, 151)), ("imagenet", (65, 76))])
def test_the_resnet_stem_sets_the_first_stage_resolution(stem, plane):
    """The paper leaves ResNet-18's stem open; each reading keeps a different (F, T) plane."""
    net = build_speaker_net("resnet18", in_dim=257, embed_dim=8, widths=(8, 8, 8, 8), stem=stem)
    assert net.stem(torch.randn(1, 1, 257, 301)).shape[-2:] == plane


def test_an_unknown_resnet_stem_is_named():
    with pytest.raises(ConfigError, match="stem: expected one of 3x3, 3x3/2, imagenet, got '5x5'"):
        build_speaker_net("resnet18", in_dim=257, embed_dim=8, stem="5x5")


def test_paper_configuration_matches_table_1():
    model = build_model("mirnet", speaker_net={"name": "resnet18"})
    convs = [m for m in model.encoder.layers if isinstance(m, torch.nn.Conv1d)]
    assert [c.out_channels for c in convs] == [512, 512, 512, 512, 1500, 514]
    assert [c.kernel_size[0] for c in convs] == [5, 3, 3, 1, 1, 1]
    assert [m.negative_slope for m in model.encoder.layers if isinstance(m, torch.nn.LeakyReLU)] == [0.2] * 6
    score = model.attention.score
    assert (score[0].out_features, type(score[1]), score[2].out_features, type(score[3])) == (
        64,
        torch.nn.Tanh,
        1,
        torch.nn.Sigmoid,
    )
    assert model.attention.fc[0].out_features == 257
    assert model.encoder.receptive_field == 9


@pytest.mark.parametrize("kernels, dilations", [((5, 3, 3, 1), None), ((5, 3, 3, 3), (1, 2, 4, 8))])
def test_encoder_context_is_its_receptive_field(kernels, dilations):
    """A change in one input frame reaches exactly the frames within the receptive field, and
    the frame grid is kept (the attention weights must line up with the sources' power)."""
    enc = SpeechEncoder(
        in_bins=8, channels=(6, 6, 6), kernels=kernels, out_channels=4, dilations=dilations
    ).eval()
    x = torch.randn(1, 8, 101)
    x2 = x.clone()
    x2[..., 50] += 1.0
    with torch.no_grad():
        changed = (enc(x2) - enc(x)).abs().amax(dim=1)[0] > 0
    assert enc(x).shape[-1] == 101
    assert (
        int(changed.sum())
        == enc.receptive_field
        == 1 + sum(d * (k - 1) for k, d in zip(kernels, dilations or (1,) * len(kernels)))
    )


@pytest.mark.parametrize("frames", [40, 101])
def test_context_layers_see_the_whole_crop(frames):
    """With self-attention after a conv layer, a change in the last frame reaches the first, and
    the output keeps the frame grid whatever the crop length."""
    enc = SpeechEncoder(
        in_bins=8,
        channels=(8, 8, 8),
        kernels=(3, 1, 1, 1),
        out_channels=4,
        context_layers=1,
        context_heads=2,
        context_after=1,
    ).eval()
    x = torch.randn(1, 8, frames)
    x2 = x.clone()
    x2[..., -1] += 1.0
    with torch.no_grad():
        changed = (enc(x2) - enc(x)).abs().amax(dim=1)[0] > 0
    assert enc(x).shape[-1] == frames and enc.receptive_field is None
    assert bool(changed[0]) and int(changed.sum()) == frames


def test_context_layer_must_follow_a_hidden_layer():
    with pytest.raises(ValueError, match="context_after must name a hidden layer, 0..2, got 3"):
        SpeechEncoder(in_bins=8, channels=(8, 8, 8), kernels=(3, 1, 1, 1), context_layers=1, context_after=3)


def _rotate_encoder_output(model, n, shift):
    """Rotate the channel blocks the encoder emits by rewiring its last conv (and norm)."""
    model = copy.deepcopy(model)
    c = model.encoder.out_channels
    order = rotate_blocks(torch.arange(c)[None, :, None], n, shift).flatten()
    layers = list(model.encoder.layers)
    last_conv = [m for m in layers if isinstance(m, torch.nn.Conv1d)][-1]
    tail = layers[layers.index(last_conv) :]
    with torch.no_grad():
        for m in tail:
            for name in ("weight", "bias", "running_mean", "running_var"):
                t = getattr(m, name, None)
                if t is not None:
                    t.copy_(t[order])
    return model


@pytest.mark.parametrize("n_speakers", [2, 3])
@pytest.mark.parametrize(
    "fc_input, output", [("exchanged", "direct"), ("shared", "direct"), ("exchanged", "residual")]
)
def test_rotating_encoder_blocks_rotates_the_outputs_and_nothing_else(n_speakers, fc_input, output):
    torch.manual_seed(0)
    attention = {**TINY_MODEL["attention"], "fc_input": fc_input, "output": output}
    if output == "residual":
        attention["out_dim"] = 257
    args = {**TINY_MODEL, "attention": attention}
    model = build_model("mirnet", n_speakers=n_speakers, **args).eval()
    wav = torch.randn(2, 16000)
    ref = model(wav)
    out = _rotate_encoder_output(model, n_speakers, 1)(wav)
    expect = [(k + 1) % n_speakers for k in range(n_speakers)]
    torch.testing.assert_close(out.attention, ref.attention[:, expect], rtol=1e-4, atol=1e-5)
    if fc_input == "exchanged":
        torch.testing.assert_close(out.embeddings, ref.embeddings[:, expect], rtol=1e-4, atol=1e-5)
        assert (ref.embeddings[:, 0] - ref.embeddings[:, 1]).abs().max() > 1e-5  # the streams do differ


def test_unknown_names_are_refused():
    with pytest.raises(ValueError, match="unknown model"):
        build_model("wavlm")
    with pytest.raises(ValueError, match="unknown speaker network"):
        build_model("mirnet", speaker_net={"name": "ecapa2"})
    with pytest.raises(ValueError, match="equal blocks"):
        build_model("mirnet", n_speakers=3, encoder={"out_channels": 100})


@pytest.mark.parametrize("n_speakers", [2, 3])
@pytest.mark.parametrize("fc_input", ["exchanged", "shared"])
def test_attention_equals_the_papers_rotate_then_attend_formulation(n_speakers, fc_input):
    """The rotated-weight computation against eq. (2) written out: rotate V1, score, weight, fc."""
    torch.manual_seed(0)
    from mirnet.models.attention import SpectralAttention

    att = SpectralAttention(6 * n_speakers, n_speakers, hidden=5, out_dim=7, fc_input=fc_input)
    v1 = torch.randn(2, 6 * n_speakers, 11)
    z, w, masks = att(v1)
    assert masks is None  # only output='residual' adds a mask to the spectrum
    for k in range(n_speakers):
        vk = rotate_blocks(v1, n_speakers, k).transpose(1, 2)  # (B, T, C)
        wk = att.score(vk).squeeze(-1)
        fc_in = vk if fc_input == "exchanged" else v1.transpose(1, 2)
        zk = att.fc(wk.unsqueeze(-1) * fc_in)
        torch.testing.assert_close(w[:, k], wk, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(z[:, k], zk.transpose(1, 2), rtol=1e-5, atol=1e-5)
    if n_speakers == 2:  # eq. (2) literally
        torch.testing.assert_close(rotate_blocks(v1, 2, 1), torch.cat([v1[:, 6:], v1[:, :6]], dim=1))


def test_residual_output_starts_from_the_input_spectrum():
    from mirnet.models.attention import SpectralAttention

    torch.manual_seed(0)
    att = SpectralAttention(8, 2, hidden=4, out_dim=5, output="residual")
    v1, spec = torch.randn(3, 8, 6), torch.randn(3, 5, 6)
    z, w, masks = att(v1, spec)
    for k in range(2):
        vk = rotate_blocks(v1, 2, k)
        mask = torch.einsum("oc,bct->bot", att.fc[0].weight, vk)
        bias = att.fc[0].bias[:, None]
        torch.testing.assert_close(z[:, k], w[:, k, None] * (spec + mask) + bias, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(masks[:, k], mask + bias, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="input spectrum"):
        att(v1)
