"""Weight loading: files written in the published key layouts load to identical outputs; errors are clear.

The files are written here from randomly initialised models, in the exact key layouts of SegFormer's
ImageNet ``mit_b*.pth``, mmseg checkpoints (DAFormer and SegFormer heads) and DACS UDA checkpoints.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from torch import nn

from trainer.models import (
    Segmentor,
    build_segmentor,
    build_segmentor_from_checkpoint,
    load_checkpoint_into,
    load_pretrained_encoder,
    load_segmentor_checkpoint,
    save_segmentor_checkpoint,
)
from trainer.models.mix_transformer import MixVisionTransformer

torch.set_num_threads(1)


def reference_encoder_keys(encoder: MixVisionTransformer) -> dict[str, torch.Tensor]:
    """Our encoder state in SegFormer's flat layout (written out independently of the loader)."""
    state = {}
    for key, value in encoder.state_dict().items():
        stage, rest = re.match(r"stages\.(\d)\.(.*)", key).groups()  # type: ignore[union-attr]
        level = int(stage) + 1
        if rest.startswith("patch_embed."):
            new = f"patch_embed{level}." + rest.removeprefix("patch_embed.")
        elif rest.startswith("norm."):
            new = f"norm{level}." + rest.removeprefix("norm.")
        else:
            new = f"block{level}." + rest.removeprefix("blocks.").replace("mlp.dwconv.", "mlp.dwconv.dwconv.")
        state[new] = value.clone()
    return state


def mmseg_state(model: Segmentor) -> dict[str, torch.Tensor]:
    state = {"backbone." + k: v for k, v in reference_encoder_keys(model.encoder).items()}
    state.update({"decode_head." + k: v.clone() for k, v in model.decoder.state_dict().items()})
    return state


def randomised(model: Segmentor) -> Segmentor:
    """Give BN statistics non-default values so that loading them matters; eval mode."""
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            nn.init.uniform_(module.running_mean, -0.5, 0.5)
            nn.init.uniform_(module.running_var, 0.5, 1.5)
            nn.init.uniform_(module.weight, 0.5, 1.5)
            nn.init.uniform_(module.bias, -0.1, 0.1)
    return model.eval()


def assert_same_outputs(a: nn.Module, b: nn.Module, x: torch.Tensor) -> None:
    a.eval()
    b.eval()
    with torch.no_grad():
        out_a, out_b = a(x), b(x)
    if isinstance(out_a, list):
        for fa, fb in zip(out_a, out_b, strict=True):
            assert torch.allclose(fa, fb, atol=1e-4)
    else:
        assert torch.allclose(out_a, out_b, atol=1e-4)


X = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))


def test_imagenet_mit_file_loads_and_drops_classifier(tmp_path: Path) -> None:
    torch.manual_seed(1)
    source = build_segmentor("mit_b0").encoder
    state = reference_encoder_keys(source)
    for key in ("patch_embed1.proj.weight", "patch_embed1.norm.weight", "block1.0.norm1.weight",
                "block1.0.attn.q.weight", "block1.0.attn.kv.weight", "block1.0.attn.proj.weight",
                "block1.0.attn.sr.weight", "block1.0.attn.norm.weight", "block1.0.mlp.fc1.weight",
                "block1.0.mlp.dwconv.dwconv.weight", "block1.0.mlp.fc2.weight", "norm1.weight"):  # fmt: skip
        assert key in state, key  # the helper writes the published layout
    state["head.weight"], state["head.bias"] = torch.randn(1000, 256), torch.randn(1000)
    path = tmp_path / "mit_b0.pth"
    torch.save(state, path)

    torch.manual_seed(2)
    model = build_segmentor("mit_b0", pretrained=path)
    assert_same_outputs(model.encoder, source, X)
    report = load_pretrained_encoder(build_segmentor("mit_b0").encoder, path)
    assert report.complete


def test_mmseg_daformer_checkpoint(tmp_path: Path) -> None:
    torch.manual_seed(1)
    source = randomised(build_segmentor("mit_b0", "daformer", num_classes=19))
    state = mmseg_state(source)
    for key in ("decode_head.embed_layers.0.proj.weight", "decode_head.fuse_layer.aspp_modules.0.conv.weight",
                "decode_head.fuse_layer.aspp_modules.0.bn.num_batches_tracked",
                "decode_head.fuse_layer.aspp_modules.2.depthwise_conv.conv.weight",
                "decode_head.fuse_layer.aspp_modules.3.pointwise_conv.bn.running_var",
                "decode_head.fuse_layer.bottleneck.conv.weight", "decode_head.conv_seg.bias"):  # fmt: skip
        assert key in state, key
    path = tmp_path / "daformer.pth"
    torch.save({"meta": {"iter": 40000, "CLASSES": ("road", "sidewalk")}, "state_dict": state}, path)

    torch.manual_seed(2)
    model = build_segmentor("mit_b0", "daformer", num_classes=19)
    assert load_segmentor_checkpoint(model, path).complete
    assert_same_outputs(model, source, X)


def test_mmseg_segformer_checkpoint_with_unused_conv_seg(tmp_path: Path) -> None:
    torch.manual_seed(1)
    source = randomised(build_segmentor("mit_b0", "segformer", num_classes=19, decoder_channels=32))
    state = mmseg_state(source)
    expected_keys = {
        "decode_head.linear_c.3.proj.bias",
        "decode_head.linear_fuse.conv.weight",
        "decode_head.linear_fuse.bn.running_mean",
        "decode_head.linear_pred.weight",
    }
    assert expected_keys <= set(state)
    # the reference SegFormer head inherits a conv_seg from its base class and never uses it
    state["decode_head.conv_seg.weight"] = torch.randn(19, 128, 1, 1)
    state["decode_head.conv_seg.bias"] = torch.randn(19)
    path = tmp_path / "segformer.pth"
    torch.save({"state_dict": state}, path)

    model = build_segmentor("mit_b0", "segformer", num_classes=19, decoder_channels=32)
    assert load_checkpoint_into(model, path).complete
    assert_same_outputs(model, source, X)


def test_uda_checkpoint_prefix_chooses_the_network(tmp_path: Path) -> None:
    networks = {}
    state = {}
    for seed, prefix in enumerate(("model", "ema_model", "imnet_model")):
        torch.manual_seed(seed)
        networks[prefix] = randomised(build_segmentor("mit_b0", num_classes=19))
        state.update({f"{prefix}.{k}": v for k, v in mmseg_state(networks[prefix]).items()})
    path = tmp_path / "uda.pth"
    torch.save({"state_dict": state, "optimizer": {}}, path)

    student, teacher = build_segmentor("mit_b0"), build_segmentor("mit_b0")
    load_segmentor_checkpoint(student, path)  # default prefix "model"
    load_segmentor_checkpoint(teacher, path, prefix="ema_model")
    assert_same_outputs(student, networks["model"], X)
    assert_same_outputs(teacher, networks["ema_model"], X)
    imnet = build_segmentor("mit_b0").encoder
    load_pretrained_encoder(imnet, path, prefix="imnet_model")
    assert_same_outputs(imnet, networks["imnet_model"].encoder, X)
    with pytest.raises(ValueError, match=r"\['ema_model', 'imnet_model', 'model'\]; prefix 'teacher'"):
        load_segmentor_checkpoint(build_segmentor("mit_b0"), path, prefix="teacher")


def test_own_format_round_trip(tmp_path: Path) -> None:
    torch.manual_seed(1)
    source = randomised(build_segmentor("mit_b0", "segformer", num_classes=7, decoder_channels=64))
    path = tmp_path / "run" / "latest.pt"
    save_segmentor_checkpoint(source, path, extra={"iteration": 4000})
    payload = torch.load(path, weights_only=True)
    meta = {"encoder": "mit_b0", "decoder": "segformer", "num_classes": 7, "decoder_channels": 64}
    assert payload["meta"] == meta
    assert payload["extra"] == {"iteration": 4000}
    rebuilt = build_segmentor_from_checkpoint(path)
    assert rebuilt.spec == source.spec
    assert_same_outputs(rebuilt, source, X)
    with pytest.raises(ValueError, match="num_classes=7, the model has num_classes=19"):
        other = build_segmentor("mit_b0", "segformer", num_classes=19, decoder_channels=64)
        load_segmentor_checkpoint(other, path)


def test_files_that_are_not_checkpoints(tmp_path: Path) -> None:
    model = build_segmentor("mit_b0")
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(ValueError, match="notes.txt is not a PyTorch checkpoint"):
        load_segmentor_checkpoint(model, text)
    listing = tmp_path / "list.pt"
    torch.save([1, 2], listing)
    with pytest.raises(ValueError, match="not a checkpoint: it holds a list"):
        load_segmentor_checkpoint(model, listing)
    strings = tmp_path / "strings.pt"
    torch.save({"a": "b"}, strings)
    with pytest.raises(ValueError, match="entry 'a' is a str, not a tensor"):
        load_pretrained_encoder(model.encoder, strings)
    with pytest.raises(FileNotFoundError, match="missing.pt does not exist"):
        load_segmentor_checkpoint(model, tmp_path / "missing.pt")
    unrelated = tmp_path / "resnet.pt"
    torch.save({"conv1.weight": torch.zeros(1)}, unrelated)
    with pytest.raises(ValueError, match="holds no MiT encoder weights"):
        load_pretrained_encoder(model.encoder, unrelated)


def test_weights_of_another_architecture_are_refused(tmp_path: Path) -> None:
    b0 = build_segmentor("mit_b0", num_classes=19)
    imagenet = tmp_path / "mit_b0.pth"
    torch.save(reference_encoder_keys(b0.encoder), imagenet)
    with torch.device("meta"):
        b5 = build_segmentor("mit_b5")
    with pytest.raises(ValueError, match="holds mit_b0 weights but the model's encoder is mit_b5"):
        load_pretrained_encoder(b5.encoder, imagenet)

    daformer = tmp_path / "daformer.pth"
    torch.save({"state_dict": mmseg_state(b0)}, daformer)
    with pytest.raises(ValueError, match="decoder weights of another head"):
        load_segmentor_checkpoint(build_segmentor("mit_b0", "segformer"), daformer)
    with pytest.raises(ValueError, match=r"decoder.conv_seg.weight: checkpoint \(19, 256, 1, 1\)"):
        load_segmentor_checkpoint(build_segmentor("mit_b0", num_classes=7), daformer)


def test_missing_and_unexpected_keys_are_reported(tmp_path: Path) -> None:
    source = build_segmentor("mit_b0")
    state = mmseg_state(source)
    del state["decode_head.conv_seg.bias"]
    state["decode_head.extra.weight"] = torch.zeros(3)
    path = tmp_path / "partial.pth"
    torch.save({"state_dict": state}, path)
    with pytest.raises(ValueError, match=r"1 missing keys \['decoder.conv_seg.bias'\], 1 unexpected keys"):
        load_segmentor_checkpoint(build_segmentor("mit_b0"), path)
    report = load_segmentor_checkpoint(build_segmentor("mit_b0"), path, strict=False)
    assert report.missing == ("decoder.conv_seg.bias",)
    assert report.unexpected == ("decoder.extra.weight",)
    assert not report.complete


def test_pretrained_must_cover_the_whole_encoder(tmp_path: Path) -> None:
    state = reference_encoder_keys(build_segmentor("mit_b0").encoder)
    del state["norm4.weight"]
    path = tmp_path / "mit_b0_partial.pth"
    torch.save(state, path)
    with pytest.raises(ValueError, match=r"missing keys \['stages.3.norm.weight'\]"):
        build_segmentor("mit_b0", pretrained=path)
