"""LR schedule and AdamW parameter groups against hand-computed numbers (spec: Optimisation)."""

import math

import pytest
import torch
from torch import nn

from trainer.config import OptimConfig
from trainer.optim import PolyWarmupSchedule, build_optimizer, lr_at, param_groups, poly_lr, warmup_factor


def test_poly_lr_hand_values() -> None:
    assert poly_lr(0, 6e-5, 40_000) == pytest.approx(6e-5)
    assert poly_lr(20_000, 6e-5, 40_000) == pytest.approx(3e-5)
    assert poly_lr(40_000, 6e-5, 40_000) == 0.0
    # power 2, min_lr 1e-6: (6e-5 - 1e-6) * 0.25 + 1e-6
    assert poly_lr(20_000, 6e-5, 40_000, power=2.0, min_lr=1e-6) == pytest.approx(1.575e-5)


def test_warmup_on_top_of_poly() -> None:
    cfg = OptimConfig()  # warmup 1500 iterations from ratio 1e-6
    assert lr_at(0, 6e-5, 40_000, cfg) == pytest.approx(6e-11)
    # t=750: poly = 6e-5 * (1 - 750/40000) = 5.8875e-5; factor = 1 - 0.5 * (1 - 1e-6) = 0.5000005
    assert lr_at(750, 6e-5, 40_000, cfg) == pytest.approx(5.8875e-5 * 0.5000005, rel=1e-12)
    assert lr_at(1500, 6e-5, 40_000, cfg) == pytest.approx(6e-5 * (1 - 1500 / 40_000))
    assert warmup_factor(100, 0, 1e-6) == 1.0
    no_warmup = OptimConfig(warmup=False)
    assert lr_at(0, 6e-5, 40_000, no_warmup) == pytest.approx(6e-5)


def test_poly_lr_rejects_steps_outside_the_run() -> None:
    with pytest.raises(ValueError, match="step"):
        poly_lr(41, 1.0, 40)


class _Toy(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(2, 2)
        self.norm = nn.LayerNorm(2)


class _Head(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 2, 1, bias=False)
        self.bn = nn.BatchNorm2d(2)


def test_param_groups_follow_the_reference_paramwise_cfg() -> None:
    enc, head = _Toy(), _Head()
    groups = {g["name"]: g for g in param_groups(enc, head, OptimConfig())}
    assert {id(p) for p in groups["encoder"]["params"]} == {id(enc.fc.weight), id(enc.fc.bias)}
    assert groups["encoder"]["weight_decay"] == 0.01 and groups["encoder"]["lr"] == pytest.approx(6e-5)
    assert {id(p) for p in groups["encoder_norm"]["params"]} == {id(enc.norm.weight), id(enc.norm.bias)}
    assert groups["encoder_norm"]["weight_decay"] == 0.0
    # "head" matches before "norm" in mmcv: the head's BN keeps weight decay, lr x10
    assert len(groups["head"]["params"]) == 3
    assert groups["head"]["lr"] == pytest.approx(6e-4) and groups["head"]["weight_decay"] == 0.01


def test_schedule_scales_every_group_from_its_base() -> None:
    opt = build_optimizer(_Toy(), _Head(), OptimConfig(warmup=False), torch.device("cpu"))
    schedule = PolyWarmupSchedule(opt, OptimConfig(warmup=False), total_iters=100)
    assert schedule.set_step(50) == pytest.approx(3e-5)
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([3e-5, 3e-5, 3e-4])
    assert not math.isnan(opt.param_groups[0]["initial_lr"])


def test_named_schedules_fix_the_reference_fields() -> None:
    poly10 = OptimConfig(schedule="poly10")
    assert (poly10.warmup, poly10.min_lr, poly10.poly_power) == (False, 1e-4, 1.0)
    warm = OptimConfig(schedule="poly10warm")
    assert (warm.warmup, warm.warmup_iters, warm.warmup_ratio, warm.min_lr) == (True, 1500, 1e-6, 0.0)
    # The defaults of the other fields (what a dumped default config holds) are overwritten ...
    assert OptimConfig.model_validate({"schedule": "poly10", "warmup": True, "min_lr": 0.0}).min_lr == 1e-4
    # ... a third value is a conflict, named.
    with pytest.raises(ValueError, match=r"optim.min_lr=0.001 conflicts with optim.schedule='poly10'"):
        OptimConfig.model_validate({"schedule": "poly10", "min_lr": 1e-3})


def test_poly10_min_lr_is_absolute_for_every_group() -> None:
    """mmcv: lr = (base - min_lr) * (1 - t/T)^1 + min_lr with min_lr = 1e-4 for encoder AND head."""
    enc, head = _Toy(), _Head()
    cfg = OptimConfig(schedule="poly10")
    opt = build_optimizer(enc, head, cfg, torch.device("cpu"))
    schedule = PolyWarmupSchedule(opt, cfg, 40_000)

    def lrs(step: int) -> dict[str, float]:
        schedule.set_step(step)
        return {g["name"]: g["lr"] for g in opt.param_groups}

    # t = 0: the base lrs, no warmup
    assert lrs(0) == pytest.approx({"encoder": 6e-5, "encoder_norm": 6e-5, "head": 6e-4}, rel=1e-12)
    # t = 20000: encoder (6e-5 - 1e-4) * 0.5 + 1e-4 = 8e-5 (rising); head (6e-4 - 1e-4) * 0.5 + 1e-4 = 3.5e-4
    assert lrs(20_000) == pytest.approx({"encoder": 8e-5, "encoder_norm": 8e-5, "head": 3.5e-4}, rel=1e-12)
    # t = 30000: encoder -4e-5 * 0.25 + 1e-4 = 9e-5; head 5e-4 * 0.25 + 1e-4 = 2.25e-4
    assert lrs(30_000) == pytest.approx({"encoder": 9e-5, "encoder_norm": 9e-5, "head": 2.25e-4}, rel=1e-12)
    assert lrs(40_000) == pytest.approx({"encoder": 1e-4, "encoder_norm": 1e-4, "head": 1e-4}, rel=1e-12)


def test_poly10warm_decays_every_group_to_zero() -> None:
    cfg = OptimConfig(schedule="poly10warm")
    # t = 20000 (after warmup): 6e-5 * 0.5 and 6e-4 * 0.5
    assert lr_at(20_000, 6e-5, 40_000, cfg) == pytest.approx(3e-5)
    assert lr_at(20_000, 6e-4, 40_000, cfg) == pytest.approx(3e-4)
    assert lr_at(40_000, 6e-4, 40_000, cfg) == 0.0


def test_reference_numerics_is_fp32_everywhere() -> None:
    from trainer.config import TrainConfig
    from trainer.optim.precision import autocast_dtype

    cuda, cpu = torch.device("cuda"), torch.device("cpu")
    assert autocast_dtype("auto", cuda) == torch.bfloat16
    assert autocast_dtype("auto", cuda, "reference") is None
    assert autocast_dtype("fp32", cpu, "reference") is None
    with pytest.raises(ValueError, match="contradicts"):
        autocast_dtype("bf16", cuda, "reference")
    with pytest.raises(ValueError, match=r"run.numerics='reference' computes in fp32"):
        TrainConfig.model_validate({"run": {"numerics": "reference", "precision": "fp16"}})
