"""The cost of HRDA and MIC relative to the plain DAFormer estimate (``ablations.expand``).

``estimated_seconds_per_iteration`` counts DAFormer's passes over the whole training crop (UDA
with FD = 8 forward units: source 3, teacher 1, mixed 3, frozen FD encoder 1; forward + backward
= 3). HRDA and MIC change what a pass sees, so ``method_cost_factor`` re-counts an iteration in
units of (forward pass x pixels) and returns the ratio to the plain count:
- HRDA (hrda.md): a student pass encodes the context crop (crop x context scale)^2 and the detail
  crop; the teacher encodes the context and every sliding detail window (1024 crop, stride 256:
  9 windows); FD encodes the context crop only, or the context and the detail crop with
  ``fd_scales='all'`` (LR0.5+HR0.5). The synchronised sub-crop sets the crop.
- MIC (mic.md): one more student forward/backward (3 units) on the masked batch (two images in
  the 'separate' layouts, like the others), plus one teacher forward with its own teacher.
- MinEnt / AdvSeg (``uda.method``): source 3 + target 3, no teacher, no mixed pass, no FD (6 units
  against DACS's 7); AdvSeg adds its discriminator (``ADVSEG_DISCRIMINATOR_UNITS``, about 6% of an
  iteration); MIC on them always brings its own teacher.
The pass count alone makes the full HRDA 23/8 = 2.9x DAFormer, while the author reports 32 h
(Titan RTX, HRDA issue #14) against DAFormer's 16 h (RTX 2080 Ti): 2.0x. HRDA configs are scaled
by that published ratio over the pass count (``HRDA_CALIBRATION``), so the full HRDA is 32 h and
its variants move with their passes. Memory: DAFormer 9.7 GB, HRDA 22.5 GB (the references);
``estimated_memory_gb`` scales between them by the pixels of a student pass. MIC's time and
memory were not published (mic.md, Cost): its figures are the pass model alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

DAFORMER_HOURS, HRDA_HOURS = 16.0, 32.0
DAFORMER_MEMORY_GB, HRDA_MEMORY_GB = 9.7, 22.5
FULL_HRDA_UNITS = 23.0
"""Full HRDA in 512x512 forward units: source 3x2 + teacher (1 + 9) + mixed 3x2 + FD 1."""
HRDA_CALIBRATION = (HRDA_HOURS / DAFORMER_HOURS) / (FULL_HRDA_UNITS / 8.0)
ADVSEG_DISCRIMINATOR_UNITS = 9 * 15.44 / 362.74
"""AdvSeg's discriminator per pixel of the output it sees (the crop; HRDA: the context crop), in
student forward units: its forward is 15.44 GFLOPs at 512x512 against DeepLabV2 ResNet-101's
362.74 (the network of HRDA Table 2 / MIC Table 1; counted with ``torch.utils.flop_counter``),
and it runs 3 times 3 units (the generator term through it; its own step on source and target)."""


def _slide_windows(side: int, crop: int, stride: int) -> int:
    return max(side - crop + stride - 1, 0) // stride + 1


def _crop(config: Mapping[str, Any]) -> tuple[int, int]:
    data = config["data"]
    height, width = data.get("sync_crop_size") or data["crop_size"]
    return int(height), int(width)


def _passes(config: Mapping[str, Any]) -> tuple[float, float, float]:
    """Pixels of one (student, teacher, FD) forward pass of one image for the config's segmentor."""
    height, width = _crop(config)
    hrda = config["model"].get("hrda") or {}
    if not hrda.get("enabled"):
        return float(height * width), float(height * width), float(height * width)
    scale = float(hrda["scales"][0])
    context = (height * scale) * (width * scale)
    hr_h, hr_w = hrda["hr_crop_size"]
    stride_h, stride_w = (hr_h // 2, hr_w // 2) if hrda.get("hr_slide_overlapping", True) else (hr_h, hr_w)
    windows = _slide_windows(height, hr_h, stride_h) * _slide_windows(width, hr_w, stride_w)
    fd = context + (hr_h * hr_w if hrda.get("fd_scales") == "all" else 0.0)
    return context + hr_h * hr_w, context + windows * hr_h * hr_w, fd


def method_units(config: Mapping[str, Any]) -> float:
    """Forward units x pixels of one iteration, HRDA and MIC included."""
    uda = config["uda"]
    student, teacher, fd = _passes(config)
    method = uda.get("method", "dacs")
    if uda["mode"] == "uda" and method != "dacs":  # MinEnt / AdvSeg: source 3 + target 3, no teacher, no FD
        units = 6 * student + (ADVSEG_DISCRIMINATOR_UNITS * fd if method == "advseg" else 0.0)
        if (uda.get("mic") or {}).get("enabled"):
            units += 3 * student + teacher  # the masked pass and MIC's own teacher (always, on these hosts)
        return units
    if uda["mode"] == "uda":
        units = 3 * student + teacher + 3 * student + (fd if uda["fd"]["enabled"] else 0.0)
    else:
        units = 3 * student + (fd if uda["fd"]["enabled"] and uda["mode"] == "uda" else 0.0)
    mic = uda.get("mic") or {}
    if mic.get("enabled"):
        units += 3 * student
        if mic.get("mask_alpha", "same") != "same" or mic.get("mask_pseudo_threshold", "same") != "same":
            units += teacher
    return units


def method_cost_factor(config: Mapping[str, Any]) -> float:
    """Multiplier on the plain estimate, which counts DAFormer's passes over ``data.crop_size``."""
    uda = config["uda"]
    height, width = config["data"]["crop_size"]
    plain_units = (8.0 if uda["fd"]["enabled"] else 7.0) if uda["mode"] == "uda" else 3.0
    factor = method_units(config) / (plain_units * height * width)
    hrda = config["model"].get("hrda") or {}
    return factor * HRDA_CALIBRATION if hrda.get("enabled") else factor


def estimated_memory_gb(config: Mapping[str, Any]) -> float | None:
    """GPU memory of a MiT-B5 run, linear in the pixels of a student pass between the references
    (DAFormer: 512^2 -> 9.7 GB; HRDA: 2 x 512^2 -> 22.5 GB); None for other encoders (no reference).
    A rough guide, not a measurement."""
    if config["model"]["encoder"] != "mit_b5":
        return None
    student, _, _ = _passes(config)
    slope = (HRDA_MEMORY_GB - DAFORMER_MEMORY_GB) / (512 * 512)
    return DAFORMER_MEMORY_GB + slope * (student - 512 * 512)


def grid_memory_gb(plans: Sequence[Any]) -> float | None:
    """The largest ``estimated_memory_gb`` over a grid's trial plans (``.config``), rounded to 0.1 GB."""
    figures = [m for m in (estimated_memory_gb(p.config) for p in plans) if m is not None]
    return round(max(figures), 1) if figures else None
