"""The ImageNet stand-in and its pretraining: determinism, SegFormer's file layout, the real loader,
and a pretrained encoder that separates held-out stand-in categories better than a random one."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from trainer.models import build_segmentor, load_pretrained_encoder
from trainer.models.mix_transformer import convert_reference_key, create_mit
from trainer.pretrain import standin
from trainer.pretrain.classifier import MiTClassifier, reference_key, to_reference_state
from trainer.pretrain.probe import nearest_mean_accuracy
from trainer.pretrain.train import PretrainConfig, run


def test_reference_keys_are_segformers_and_invert_the_loader_conversion() -> None:
    assert reference_key("stages.1.patch_embed.proj.weight") == "patch_embed2.proj.weight"
    assert reference_key("stages.3.norm.bias") == "norm4.bias"
    assert reference_key("stages.0.blocks.1.mlp.dwconv.weight") == "block1.1.mlp.dwconv.dwconv.weight"
    assert reference_key("stages.2.blocks.0.attn.sr.weight") == "block3.0.attn.sr.weight"
    for key in create_mit("mit_b0").state_dict():
        assert convert_reference_key(reference_key(key)) == key
    with pytest.raises(ValueError, match="not a MiT encoder key"):
        reference_key("head.weight")


def test_stand_in_is_deterministic_and_its_splits_differ() -> None:
    a, label = standin.sample(30, "train", seed=0)
    assert a.shape == (standin.SIZE, standin.SIZE, 3) and a.dtype == np.uint8
    assert label == 30 % len(standin.CLASSES) and len(standin.CLASSES) == 24
    assert np.array_equal(a, standin.sample(30, "train", seed=0)[0])
    assert not np.array_equal(a, standin.sample(30, "heldout", seed=0)[0])
    assert not np.array_equal(a, standin.sample(30, "train", seed=1)[0])
    with pytest.raises(ValueError, match="split must be one of"):
        standin.sample(0, "val")


def test_export_holds_flat_mit_keys_and_the_classifier_head() -> None:
    model = MiTClassifier(create_mit("mit_b0"), 24)
    state = to_reference_state(model)
    assert {"patch_embed1.proj.weight", "block4.1.mlp.fc2.bias", "norm4.weight"} <= set(state)
    assert state["head.weight"].shape == (24, 256) and state["head.bias"].shape == (24,)
    assert len(state) == len(model.encoder.state_dict()) + 2


@pytest.mark.slow
def test_pretrained_encoder_loads_as_mit_b0_pth_and_beats_a_random_encoder(tmp_path: Path) -> None:
    out = tmp_path / "mit_b0_standin.pth"
    # 300 steps: the loss sits near chance for the first ~250 steps of 32 before features emerge
    metrics = run(PretrainConfig(steps=300, batch_size=32, pool=2048, heldout=240), out, progress=False)
    info = json.loads((tmp_path / "mit_b0_standin.pth.json").read_text())
    assert info["heldout_top1"] == metrics["heldout_top1"] and info["config"]["steps"] == 300

    pretrained = create_mit("mit_b0", drop_path_rate=0.0)
    report = load_pretrained_encoder(pretrained, out, strict=True)  # SegFormer's ImageNet-file path
    assert report.complete  # every encoder key present; head.* dropped as for mit_b0.pth
    segmentor = build_segmentor("mit_b0", "daformer", 19, 0.0, 64, pretrained=out)  # model.pretrained
    assert torch.equal(
        segmentor.encoder.state_dict()["stages.0.patch_embed.proj.weight"],
        pretrained.state_dict()["stages.0.patch_embed.proj.weight"],
    )

    torch.manual_seed(0)
    random = create_mit("mit_b0", drop_path_rate=0.0)
    trained, chance = nearest_mean_accuracy(pretrained), nearest_mean_accuracy(random)
    # measured: 0.087 vs 0.046 (chance 1/24 = 0.042); the standard error of either is about 0.013
    assert trained > chance + 0.025, (trained, chance)
