"""AdamW (or SGD, ``optim.kind``) with the reference's parameter-wise settings (spec: Optimisation).

The reference (mmcv ``DefaultOptimizerConstructor``, ``paramwise_cfg=dict(custom_keys=dict(
head=dict(lr_mult=10), pos_block=dict(decay_mult=0), norm=dict(decay_mult=0)))``) matches keys
as substrings of the parameter name, longest key first then alphabetical, and stops at the first
match. Hence:
- every ``decode_head.*`` parameter: lr x ``head_lr_mult``, full weight decay (``head`` wins over
  ``norm``, so the head's BatchNorm weights and biases keep their decay, as in the reference);
- encoder parameters of normalisation layers whose reference names hold ``norm`` (every
  LayerNorm of MiT): weight decay x 0 (``norm_weight_decay``);
- every other encoder parameter, biases included: base lr, full weight decay. This includes the
  BatchNorms of the ResNet-V1c / ResNeSt encoders: mmcv names them ``bn1``, ``stem.1``,
  ``downsample.1``, ``conv2.bn0``, so ``norm`` matches none of them and they keep their decay
  (the paramwise_cfg sets no ``norm_decay_mult``).
"""

from __future__ import annotations

import torch
from torch import nn

from trainer.config import OptimConfig

_NORM_TYPES = (  # no BatchNorm: the reference's encoder BNs are never named "norm" (see above)
    nn.LayerNorm,
    nn.GroupNorm,
    nn.modules.instancenorm._InstanceNorm,
)


def _norm_parameter_ids(module: nn.Module) -> set[int]:
    return {
        id(p) for m in module.modules() if isinstance(m, _NORM_TYPES) for p in m.parameters(recurse=False)
    }


def param_groups(encoder: nn.Module, decoder: nn.Module, cfg: OptimConfig) -> list[dict]:
    """Three groups (AdamW or SGD): encoder (decay), encoder norms (no decay), decoder head (lr x mult).

    Empty groups are left out; the order (encoder first) makes group 0 the base-lr group.
    """
    norm_ids = _norm_parameter_ids(encoder)
    enc = [p for p in encoder.parameters() if p.requires_grad and id(p) not in norm_ids]
    enc_norm = [p for p in encoder.parameters() if p.requires_grad and id(p) in norm_ids]
    head = [p for p in decoder.parameters() if p.requires_grad]
    groups = [
        {"name": "encoder", "params": enc, "lr": cfg.lr, "weight_decay": cfg.weight_decay},
        {"name": "encoder_norm", "params": enc_norm, "lr": cfg.lr, "weight_decay": cfg.norm_weight_decay},
        {"name": "head", "params": head, "lr": cfg.lr * cfg.head_lr_mult, "weight_decay": cfg.weight_decay},
    ]
    return [g for g in groups if g["params"]]


def build_optimizer(
    encoder: nn.Module, decoder: nn.Module, cfg: OptimConfig, device: torch.device
) -> torch.optim.Optimizer:
    """AdamW (eps 1e-8 as torch's and mmcv's default; the fused kernel on CUDA), or with
    ``optim.kind='sgd'`` SGD with momentum (mmcv builds ``torch.optim.SGD(lr, momentum,
    weight_decay)``: no Nesterov, no dampening) over the same groups. The reference's SGD rows
    (HRDA Table 2, MIC Table 1; ResNet encoders, ``pmult`` False) give every group the same lr
    and decay: the presets set ``head_lr_mult`` 1 and ``norm_weight_decay`` = ``weight_decay``."""
    if cfg.kind == "sgd":
        return torch.optim.SGD(
            param_groups(encoder, decoder, cfg), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay
        )
    return torch.optim.AdamW(
        param_groups(encoder, decoder, cfg),
        lr=cfg.lr,
        betas=cfg.betas,
        weight_decay=cfg.weight_decay,
        fused=device.type == "cuda",
    )
