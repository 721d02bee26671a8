"""Segmentor: forward/forward_train/inference contracts, mmseg's sliding window, builders, errors."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from trainer.config import ModelConfig
from trainer.models import (
    DAFormerHead,
    MixVisionTransformer,
    Segmentor,
    SegmentorSpec,
    build_segmentor,
    build_segmentor_from_config,
)
from trainer.models.segmentor import _window_origins

torch.set_num_threads(1)


def tiny_segmentor(num_classes: int = 5) -> Segmentor:
    """MiT with widths 8..32, one block per stage, and a 16-channel DAFormer head: milliseconds per pass."""
    encoder = MixVisionTransformer(embed_dims=(8, 16, 24, 32), num_heads=(1, 2, 3, 4), depths=(1, 1, 1, 1))
    head = DAFormerHead(encoder.embed_dims, num_classes, channels=16)
    return Segmentor(encoder, head, SegmentorSpec("custom", "daformer", num_classes, 16))


def test_forward_gives_stride4_logits_and_forward_train_the_features() -> None:
    model = build_segmentor("mit_b0", "daformer", num_classes=19).eval()
    x = torch.randn(2, 3, 64, 96)
    with torch.no_grad():
        logits = model(x)
        train_logits, features = model.forward_train(x, return_features=True)
        _, no_features = model.forward_train(x)
    assert logits.shape == (2, 19, 16, 24)
    assert torch.allclose(train_logits, logits)
    assert no_features is None
    assert features is not None and [f.shape[1] for f in features] == [32, 64, 160, 256]
    assert [f.shape[2] for f in features] == [16, 8, 4, 2]


def test_whole_inference_upsamples_bilinearly_to_input_size() -> None:
    model = tiny_segmentor().eval()
    x = torch.randn(1, 3, 45, 70)
    with torch.no_grad():
        expected = F.interpolate(model(x), size=(45, 70), mode="bilinear", align_corners=False)
        assert torch.equal(model.inference(x, mode="whole"), expected)


def test_any_image_size_works_1052x1914() -> None:
    model = tiny_segmentor().eval()
    with torch.no_grad():
        logits = model.inference(torch.randn(1, 3, 1052, 1914))
    assert logits.shape == (1, 5, 1052, 1914) and torch.isfinite(logits).all()


def test_window_origins_hand_computed() -> None:
    # height 11, crop 4, stride 3: rows = (11-4+3-1)//3+1 = 4 -> tops 0, 3, 6 and 9 pushed back to 7
    # width 4 (= crop): one column at 0
    assert _window_origins((11, 4), (4, 4), (3, 3)) == [(0, 0), (3, 0), (6, 0), (7, 0)]
    # image smaller than the crop: a single window at the origin
    assert _window_origins((3, 2), (4, 4), (3, 3)) == [(0, 0)]
    # 1024x2048 with mmseg's 512/341 gives 3 x 6 windows
    origins = _window_origins((1024, 2048), (512, 512), (341, 341))
    assert len(origins) == 18 and origins[-1] == (512, 1536)


def test_slide_inference_averages_overlapping_windows() -> None:
    torch.manual_seed(0)
    model = tiny_segmentor().eval()
    x = torch.randn(1, 3, 40, 56)
    # crop 32, stride 24: tops 0 and 8; lefts 0 and 24 -> 4 windows, overlaps counted twice or four times
    expected = torch.zeros(1, 5, 40, 56)
    count = torch.zeros(1, 1, 40, 56)
    with torch.no_grad():
        for top in (0, 8):
            for left in (0, 24):
                window = x[:, :, top : top + 32, left : left + 32]
                logits = F.interpolate(model(window), size=(32, 32), mode="bilinear", align_corners=False)
                expected[:, :, top : top + 32, left : left + 32] += logits
                count[:, :, top : top + 32, left : left + 32] += 1
        result = model.inference(x, mode="slide", crop=(32, 32), stride=(24, 24))
    assert count.min() == 1 and count.max() == 4
    assert torch.allclose(result, expected / count, atol=1e-6)


def test_slide_with_one_window_equals_whole() -> None:
    model = tiny_segmentor().eval()
    x = torch.randn(2, 3, 30, 40)
    with torch.no_grad():
        whole = model.inference(x, mode="whole")
        slide = model.inference(x, mode="slide", crop=(64, 64), stride=(32, 32))
    assert torch.allclose(whole, slide, atol=1e-6)


def test_bad_inference_arguments() -> None:
    model = tiny_segmentor().eval()
    x = torch.randn(1, 3, 16, 16)
    with pytest.raises(ValueError, match="'whole' or 'slide'"):
        model.inference(x, mode="tiles")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="positive crop and stride"):
        model.inference(x, mode="slide", crop=(8, 8), stride=(0, 8))


def test_wrong_channel_count_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="expected .*3 channels"):
        tiny_segmentor()(torch.randn(1, 1, 32, 32))


def test_unknown_names_list_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="unknown encoder 'resnet101'.*mit_b0, mit_b1"):
        build_segmentor(encoder="resnet101")
    with pytest.raises(ValueError, match="unknown decoder 'uper'.*daformer, segformer"):
        build_segmentor(encoder="mit_b0", decoder="uper")


def test_build_from_model_config() -> None:
    cfg = ModelConfig(
        encoder="mit_b0", decoder="segformer", num_classes=7, decoder_channels=32, drop_path_rate=0.2
    )
    model = build_segmentor_from_config(cfg)
    assert model.spec == SegmentorSpec("mit_b0", "segformer", 7, 32)
    assert model.decoder.linear_pred.out_channels == 7
    last_block = model.encoder.stages[-1].blocks[-1]
    assert last_block.drop_path.drop_prob == pytest.approx(0.2)


def test_train_mode_is_stochastic_eval_mode_deterministic() -> None:
    torch.manual_seed(0)
    model = build_segmentor("mit_b0", num_classes=3, drop_path_rate=0.5)
    x = torch.randn(2, 3, 32, 32)
    model.train()
    assert not torch.allclose(model(x), model(x))
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(x), model(x))


def test_channels_last_and_bf16_autocast() -> None:
    torch.manual_seed(0)
    model = build_segmentor("mit_b0", num_classes=4).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        reference = model(x)
        model_cl = model.to(memory_format=torch.channels_last)
        assert torch.allclose(model_cl(x.to(memory_format=torch.channels_last)), reference, atol=1e-4)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = model(x)
    assert torch.isfinite(low).all()
    assert (low.float() - reference).abs().mean() < 0.05 * reference.abs().mean() + 1e-3


def test_backward_reaches_every_parameter() -> None:
    model = tiny_segmentor().train()
    logits = model(torch.randn(2, 3, 32, 32))
    F.cross_entropy(logits, torch.randint(0, 5, (2, 8, 8))).backward()
    missing = [name for name, p in model.named_parameters() if p.grad is None]
    assert missing == []
