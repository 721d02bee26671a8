"""MinEnt (Vu et al. 2019, ADVENT's entropy minimisation), as the reference's ``uda/minent.py`` runs it.

``uda.method='minent'``: each iteration trains the student on the labelled source crops, then
minimises the entropy of its softmax on the target crops, weighted by ``uda.minent.lambda_ent``
(0.001). No EMA teacher, no pseudo-labels, no ClassMix, no FD. The entropy is the reference's:
base-2, summed over classes, averaged over batch and pixels, divided by log2(K) so a uniform
prediction scores 1 (a tiny 1e-30 inside the log keeps p = 0 finite). It is computed on the
student's main output at the input's resolution (the reference upsamples the head's logits to the
image in ``forward_with_aux``); on an HRDA student it is the fused output resized to the context
scale (0.5 x the crop), as the reference does.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def entropy_loss(prob: torch.Tensor) -> torch.Tensor:
    """``-sum(p * log2(p + 1e-30)) / (N * H * W * log2(K))`` of (N, K, H, W) probabilities."""
    if prob.dim() != 4:
        raise ValueError(f"entropy_loss expects (N, K, H, W) probabilities, got shape {tuple(prob.shape)}")
    n, k, h, w = prob.shape
    return -torch.sum(prob * torch.log2(prob + 1e-30)) / (n * h * w * math.log2(k))


def entropy_minimisation_loss(logits: torch.Tensor, lambda_ent: float) -> torch.Tensor:
    """``lambda_ent * entropy_loss(softmax(logits))`` in float32."""
    return lambda_ent * entropy_loss(F.softmax(logits.float(), dim=1))
