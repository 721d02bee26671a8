"""SGD (``optim.kind='sgd'``) of HRDA Table 2 / MIC Table 1's AdvSeg and MinEnt rows: lrs and steps by hand."""

import pytest
import torch
from torch import nn

from trainer.config import OptimConfig
from trainer.optim import PolyWarmupSchedule, build_optimizer

# The reference's SGD rows (experiments.py id 41 / 81): sgd.py (momentum 0.9, wd 5e-4), lr 0.0025,
# poly10warm, pmult False (no head x10) and a ResNet encoder (its BatchNorms keep their decay).
SGD_ROW = OptimConfig(kind="sgd", lr=0.0025, weight_decay=5e-4, norm_weight_decay=5e-4, head_lr_mult=1.0,
                      schedule="poly10warm")


def _scalar(value: float) -> nn.Module:
    layer = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        layer.weight.fill_(value)
    return layer


def test_sgd_row_lrs_by_hand() -> None:
    enc, head = nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4)), nn.Conv2d(4, 2, 1)
    opt = build_optimizer(enc, head, SGD_ROW, torch.device("cpu"))
    assert isinstance(opt, torch.optim.SGD)
    assert [g["name"] for g in opt.param_groups] == ["encoder", "head"]  # BatchNorm is no "norm" group
    for group in opt.param_groups:
        settings = (group["momentum"], group["weight_decay"], group["nesterov"], group["dampening"])
        assert settings == (0.9, 5e-4, False, 0)
    schedule = PolyWarmupSchedule(opt, SGD_ROW, 40_000)

    def lrs(step: int) -> list[float]:
        schedule.set_step(step)
        return [g["lr"] for g in opt.param_groups]

    assert lrs(0) == pytest.approx([2.5e-9, 2.5e-9], rel=1e-12)  # 0.0025 x warmup_ratio 1e-6
    # t=750: poly 0.0025 * (1 - 750/40000) = 0.002453125; warmup 1 - 0.5 * (1 - 1e-6) = 0.5000005
    assert lrs(750) == pytest.approx([0.002453125 * 0.5000005] * 2, rel=1e-12)
    assert lrs(1500) == pytest.approx([0.00240625] * 2, rel=1e-12)  # warmup over: 0.0025 * 0.9625
    assert lrs(20_000) == pytest.approx([0.00125] * 2, rel=1e-12)


def test_sgd_steps_by_hand() -> None:
    """lr 0.1 (head x1), wd 0.5, momentum 0.9, gradient 1 on both weights (encoder 1, head 2)."""
    enc, head = _scalar(1.0), _scalar(2.0)
    cfg = OptimConfig(kind="sgd", lr=0.1, weight_decay=0.5, head_lr_mult=1.0, warmup=False)
    opt = build_optimizer(enc, head, cfg, torch.device("cpu"))
    for _ in range(2):
        opt.zero_grad()
        (enc.weight.sum() + head.weight.sum()).backward()
        opt.step()
    # step 1: d = 1 + 0.5 w -> enc 1.5 (w 0.85), head 2.0 (w 1.8)
    # step 2: enc d = 1.425, buf = 0.9*1.5 + 1.425 = 2.775, w = 0.85 - 0.2775 = 0.5725
    #         head d = 1.9, buf = 0.9*2 + 1.9 = 3.7, w = 1.8 - 0.37 = 1.43
    assert enc.weight.item() == pytest.approx(0.5725, rel=1e-6)
    assert head.weight.item() == pytest.approx(1.43, rel=1e-6)


def test_adamw_stays_the_default() -> None:
    assert OptimConfig().kind == "adamw"
    adamw = build_optimizer(_scalar(1.0), _scalar(1.0), OptimConfig(), torch.device("cpu"))
    assert isinstance(adamw, torch.optim.AdamW)
    with pytest.raises(ValueError, match="kind"):
        OptimConfig.model_validate({"kind": "adam"})
