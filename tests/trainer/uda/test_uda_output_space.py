"""MinEnt and AdvSeg (uda.method): entropy, discriminator and its losses by hand, and the step."""

from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.nn.functional as F
from uda_tiny import batches, tiny_config, tiny_segmentor

from trainer.config import AdvSegConfig
from trainer.models import wrap_hrda
from trainer.uda import UDAStep
from trainer.uda.advseg import FCDiscriminator, OutputSpaceAdversary, adversarial_loss, discriminator_lr
from trainer.uda.minent import entropy_loss, entropy_minimisation_loss

NO_FD = {"fd": {"enabled": False}}


def test_entropy_loss_by_hand() -> None:
    # K=4, one pixel: p = (0.5, 0.25, 0.25, 0): H = 0.5*1 + 0.25*2 + 0.25*2 = 1.5 bits, / log2(4) = 0.75
    p = torch.tensor([0.5, 0.25, 0.25, 0.0]).reshape(1, 4, 1, 1)
    assert entropy_loss(p).item() == pytest.approx(0.75, abs=1e-7)
    # K=2, two pixels (uniform: 1 bit; one-hot: 0) -> (1 + 0) / (1 * 1 * 2 * log2(2)) = 0.5
    q = torch.tensor([[0.5, 1.0], [0.5, 0.0]]).reshape(1, 2, 1, 2)
    assert entropy_loss(q).item() == pytest.approx(0.5, abs=1e-7)
    # uniform logits: entropy 1 per pixel, whatever the shape; lambda 0.001 scales it
    assert entropy_minimisation_loss(torch.zeros(2, 19, 3, 5), 0.001).item() == pytest.approx(0.001, rel=1e-6)
    with pytest.raises(ValueError, match="N, K, H, W"):
        entropy_loss(torch.ones(4, 2, 2))


def test_discriminator_matches_the_reference_architecture() -> None:
    d = FCDiscriminator(num_classes=19)
    # conv1 19*64*16+64, conv2 64*128*16+128, conv3 128*256*16+256, conv4 256*512*16+512, classifier 512*16+1
    expected = 19520 + 131200 + 524544 + 2097664 + 8193
    assert expected == 2_781_121
    assert sum(p.numel() for p in d.parameters()) == expected
    assert [name for name, _ in d.named_children()] == ["conv1", "conv2", "conv3", "conv4", "classifier"]
    assert d(torch.zeros(2, 19, 512, 512)).shape == (2, 1, 16, 16)  # five stride-2 convolutions: /32
    x = torch.full((1, 19, 64, 64), -1.0)  # LeakyReLU 0.2 between the layers, none after the classifier
    layer = F.leaky_relu(d.conv1(x), 0.2)
    assert torch.equal(layer, torch.where(d.conv1(x) > 0, d.conv1(x), 0.2 * d.conv1(x)))


def test_adversarial_losses_by_hand() -> None:
    d_out = torch.tensor([[0.5, -1.0]])
    assert adversarial_loss(d_out, 0.0, "ls").item() == pytest.approx((0.25 + 1.0) / 2)
    assert adversarial_loss(d_out, 1.0, "ls").item() == pytest.approx((0.25 + 4.0) / 2)
    assert adversarial_loss(torch.zeros(3), 1.0, "vanilla").item() == pytest.approx(math.log(2))


def test_discriminator_lr_poly_0_9() -> None:
    cfg = AdvSegConfig()
    assert discriminator_lr(0, 40_000, cfg) == pytest.approx(1e-4)
    assert discriminator_lr(20_000, 40_000, cfg) == pytest.approx(1e-4 * 0.5**0.9)  # 5.3589e-5
    assert discriminator_lr(20_000, 40_000, AdvSegConfig(min_lr=1e-5)) == pytest.approx(9e-5 * 0.5**0.9 + 1e-5)


def _constant_adversary(bias: float) -> OutputSpaceAdversary:
    """All weights 0 and the classifier's bias ``bias``: D outputs ``bias`` everywhere."""
    adv = OutputSpaceAdversary(AdvSegConfig(), num_classes=4, total_iters=10, device=torch.device("cpu"))
    with torch.no_grad():
        for p in adv.discriminator.parameters():
            p.zero_()
        adv.discriminator.classifier.bias.fill_(bias)
    return adv


def test_generator_and_discriminator_losses_and_labels() -> None:
    adv = _constant_adversary(0.25)
    logits = torch.randn(2, 4, 64, 64, requires_grad=True)
    g = adv.generator_loss(logits)
    assert g.item() == pytest.approx(0.001 * 0.25**2)  # target output labelled as SOURCE (0)
    g.backward()
    assert all(p.grad is None for p in adv.discriminator.parameters())  # the generator term trains no D
    out = adv.discriminator_step(5, logits, logits)
    assert out["d_src"].item() == pytest.approx(0.25**2 / 2)  # source label 0, halved
    assert out["d_trg"].item() == pytest.approx(0.75**2 / 2)  # target label 1, halved
    assert adv.optimizer.param_groups[0]["lr"] == pytest.approx(1e-4 * 0.5**0.9)  # iteration 5 of 10
    assert adv.optimizer.param_groups[0]["betas"] == (0.9, 0.99)
    # Adam's first step moves the bias by lr against the sign of its gradient:
    # d/db [b^2/2 + (b-1)^2/2] = 0.25 - 0.75 = -0.5 < 0, so b rises by the lr
    assert adv.discriminator.classifier.bias.item() == pytest.approx(0.25 + 1e-4 * 0.5**0.9, rel=1e-5)


def test_discriminator_state_round_trip() -> None:
    adv = _constant_adversary(0.1)
    adv.discriminator_step(0, torch.randn(1, 4, 32, 32), torch.randn(1, 4, 32, 32))
    other = _constant_adversary(0.7)
    other.load_state_dict(adv.state_dict())
    assert torch.equal(other.discriminator.classifier.bias, adv.discriminator.classifier.bias)
    assert other.optimizer.state_dict()["state"][0]["step"] == 1
    with pytest.raises(ValueError, match="discriminator"):
        other.load_state_dict({})


def test_minent_step_has_no_teacher_and_the_hand_entropy() -> None:
    cfg = tiny_config(uda={**NO_FD, "method": "minent"})
    student = tiny_segmentor()
    for module in student.modules():  # the head's dropout would draw differently in the step
        if isinstance(module, torch.nn.modules.dropout._DropoutNd):
            module.p = 0.0
    step = UDAStep(cfg, copy.deepcopy(student), torch.device("cpu"))
    assert step.teacher is None and step.adversary is None and step.mic is None
    src, tgt = batches(32)
    with torch.no_grad():
        logits = F.interpolate(student(tgt["img"]), size=(32, 32), mode="bilinear", align_corners=False)
    expected = 0.001 * entropy_loss(F.softmax(logits, dim=1))
    losses = step(0, src, tgt)
    assert set(losses) == {"src_ce", "ent", "total", "lr"}
    assert losses["ent"].item() == pytest.approx(expected.item(), rel=1e-5)
    assert losses["total"].item() == pytest.approx(losses["src_ce"].item() + losses["ent"].item(), rel=1e-6)
    assert "teacher" in step.state_dict() and step.state_dict()["teacher"] is None


def test_advseg_step_trains_both_and_checkpoints_the_discriminator() -> None:
    cfg = tiny_config(uda={**NO_FD, "method": "advseg"})
    step = UDAStep(cfg, tiny_segmentor(), torch.device("cpu"))
    assert step.teacher is None and step.adversary is not None
    before = copy.deepcopy(step.adversary.discriminator.state_dict())
    src, tgt = batches(64)
    losses = step(0, src, tgt)
    assert set(losses) == {"src_ce", "adv", "d_src", "d_trg", "total", "lr"}
    after = step.adversary.discriminator.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)  # D stepped
    state = step.state_dict()
    assert {"discriminator", "discriminator_optimizer"} <= set(state)
    fresh = UDAStep(cfg, tiny_segmentor(seed=5), torch.device("cpu"))
    fresh.load_state_dict(state)
    assert all(torch.equal(fresh.adversary.discriminator.state_dict()[k], after[k]) for k in after)


def test_mic_on_an_output_space_host_has_its_own_teacher() -> None:
    """The reference: MaskingConsistencyModule(require_teacher=True) on AdvSeg/MinEnt, with the
    host config's alpha (0.999) and pseudo threshold (0.968) under mask_alpha/threshold 'same'."""
    cfg = tiny_config(uda={**NO_FD, "method": "minent", "mic": {"enabled": True, "mask_block_size": 8}})
    step = UDAStep(cfg, tiny_segmentor(), torch.device("cpu"))
    assert step.teacher is None and step.mic is not None and step.mic.teacher is not None
    assert step.mic.alpha == 0.999 and step.mic.threshold == 0.968
    src, tgt = batches(32)
    losses = step(0, src, tgt)
    assert set(losses) == {"src_ce", "ent", "mic_ce", "total", "lr"}
    assert "mic_teacher" in step.state_dict()


def test_method_config_is_checked() -> None:
    with pytest.raises(ValueError, match=r"uda.fd .*'minent'.*uda.fd.enabled: false"):
        tiny_config(uda={"method": "minent"})
    with pytest.raises(ValueError, match=r"uda.method 'advseg' .* uda.mode 'uda'"):
        tiny_config(uda={**NO_FD, "method": "advseg", "mode": "source_only"})
    with pytest.raises(ValueError, match="method"):
        tiny_config(uda={**NO_FD, "method": "adda"})
    assert tiny_config().uda.method == "dacs"


def test_on_hrda_the_aligned_output_is_the_fused_output_at_the_context_scale() -> None:
    """The reference: pred['main'][0] (fused) resized to int(0.5 * crop) before softmax/entropy/D."""
    cfg = tiny_config(model={"hrda": {"enabled": True, "hr_crop_size": [32, 32]}}, uda={**NO_FD, "method": "minent"})
    step = UDAStep(cfg, wrap_hrda(tiny_segmentor(), hr_crop_size=(32, 32), attention_channels=16), torch.device("cpu"))
    src, _ = batches(64)
    loss, out = step.aligned_output(src["img"], src["label"])
    assert loss is not None and out.shape == (2, 4, 32, 32) and out.dtype == torch.float32
    assert step.aligned_output(src["img"], None)[0] is None
    plain = UDAStep(tiny_config(uda={**NO_FD, "method": "minent"}), tiny_segmentor(), torch.device("cpu"))
    assert plain.aligned_output(src["img"], None)[1].shape == (2, 4, 64, 64)  # plain: the input's size
