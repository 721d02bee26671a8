"""HRDA / MIC(HRDA) checkpoints in the reference's key layout (written here) and ours load exactly."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from test_models_checkpoint import randomised, reference_encoder_keys

from trainer.models import HRDASegmentor, build_segmentor, save_segmentor_checkpoint, wrap_hrda
from trainer.models.hrda_checkpoint import load_hrda_checkpoint

EncoderKeys = Callable[[Any], dict[str, torch.Tensor]]
"""Our encoder's state written in the reference's layout (MiT: SegFormer keys; ResNet: open-mmlab)."""
X = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))


def _hrda(seed: int, **settings: object) -> HRDASegmentor:
    torch.manual_seed(seed)
    model = wrap_hrda(build_segmentor("mit_b0", decoder_channels=32), hr_crop_size=(32, 32), **settings)  # type: ignore[arg-type]
    randomised(model)  # type: ignore[arg-type]
    return model.eval()


def reference_hrda_state(
    model: HRDASegmentor, encoder_keys: EncoderKeys = reference_encoder_keys
) -> dict[str, torch.Tensor]:
    """``HRDAEncoderDecoder`` names: backbone.*, decode_head.head.*, decode_head.scale_attention.*."""
    state = {"backbone." + k: v for k, v in encoder_keys(model.encoder).items()}
    state.update({"decode_head.head." + k: v.clone() for k, v in model.decoder.state_dict().items()})
    if model.scale_attention is not None:
        attention = model.scale_attention.state_dict()
        state.update({"decode_head.scale_attention." + k: v.clone() for k, v in attention.items()})
    return state


def write_reference_uda_checkpoint(
    path: Path, student: HRDASegmentor, teacher: HRDASegmentor, encoder_keys: EncoderKeys = reference_encoder_keys
) -> None:
    """A DACS-style UDA file as HRDA's and MIC's releases hold it: model./ema_model./imnet_model."""
    state = {"model." + k: v for k, v in reference_hrda_state(student, encoder_keys).items()}
    state.update({"ema_model." + k: v for k, v in reference_hrda_state(teacher, encoder_keys).items()})
    state.update({"imnet_model.backbone." + k: v for k, v in encoder_keys(student.encoder).items()})
    torch.save({"meta": {"CLASSES": ["road", "sidewalk"], "iter": 40000}, "state_dict": state}, path)


def _same(a: HRDASegmentor, b: HRDASegmentor) -> None:
    with torch.no_grad():
        assert torch.allclose(a(X), b(X), atol=1e-5)


def test_reference_uda_checkpoint_loads_student_and_teacher(tmp_path: Path) -> None:
    student, teacher = _hrda(1), _hrda(2)
    path = tmp_path / "iter_40000.pth"
    write_reference_uda_checkpoint(path, student, teacher)
    for prefix, source in (("model", student), ("ema_model", teacher)):
        target = _hrda(3)
        report = load_hrda_checkpoint(target, path, prefix=prefix)
        assert report.complete
        _same(target, source)


def test_own_format_round_trip_and_clear_refusals(tmp_path: Path) -> None:
    model = _hrda(4)
    own = tmp_path / "model_final.pt"
    save_segmentor_checkpoint(model, own)  # type: ignore[arg-type]
    loaded = _hrda(5)
    assert load_hrda_checkpoint(loaded, own).complete
    _same(loaded, model)
    plain = tmp_path / "daformer.pth"
    state = {"backbone." + k: v for k, v in reference_encoder_keys(model.encoder).items()}
    state.update({"decode_head." + k: v for k, v in model.decoder.state_dict().items()})
    torch.save({"state_dict": state}, plain)
    with pytest.raises(ValueError, match="single-scale decode_head"):
        load_hrda_checkpoint(_hrda(6), plain)
    with pytest.raises(ValueError, match="fixed_attention"):
        load_hrda_checkpoint(_hrda(7, fixed_attention=0.5), own)
