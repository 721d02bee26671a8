"""How much one training iteration of an architecture costs, relative to DAFormer (for GPU-hour estimates).

Rule: time per iteration scales with the forward multiply-accumulates (MACs) of the encoder +
decoder pair on the training crop, relative to the full DAFormer (MiT-B5 + DAFormer head), whose
iteration took 1.44 s on the reference's RTX 2080 Ti (16 h for 40k iterations, spec: Optimisation).
MACs are per 512x512 image (one forward), measured or counted as follows:

- encoders: ``torch.utils.flop_counter.FlopCounterMode`` on one 512x512 image: MiT-B0..B5 with this
  trainer's ``create_mit``; ResNet-V1c / ResNeSt with timm's ``resnet50c``, ``resnet101c``,
  ``resnest50d``, ``resnest101e``, ``resnest200e`` at ``output_stride=8`` (their parameter counts
  equal the reference's exactly: 23,527,264 / 42,519,392 / 25,434,240 / 46,226,016 / 68,152,544);
- the DAFormer head (256) and the SegFormer head (768, 256) on MiT-B5 features: measured the same way
  with this trainer's heads; every other head: counted by hand from the layer shapes of the spec
  (architectures.md) at strides 4 (128x128) and 8 (64x64), convolutions and attention products; the
  count for the DAFormer head gives the measured 56.9 GMACs, the check of the method.

Parameter counts are NOT used: a dilated ResNet-101 (output stride 8) has half MiT-B5's parameters
but three times its MACs. Unknown combinations fall back on the same decoder's entry scaled by
(channels / its channels)^2 (the head's convolutions dominate and grow with the square of the
width). Memory traffic, attention kernels and data loading are ignored: a rough planning figure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

ENCODER_GMACS: dict[str, float] = {
    "mit_b0": 2.2, "mit_b1": 8.4, "mit_b2": 16.3, "mit_b3": 31.0, "mit_b4": 45.0, "mit_b5": 59.3,
    "r50v1c": 100.9, "r101v1c": 178.5, "s50": 102.7, "s101": 186.1, "s200": 268.3,
}  # fmt: skip
"""Forward GMACs of each encoder on a 512x512 image (see the module docstring)."""

DECODER_GMACS: dict[tuple[str, int, str], float] = {
    ("daformer", 256, "mit"): 56.9,  # measured
    ("segformer", 768, "mit"): 40.5,  # measured
    ("segformer", 256, "mit"): 4.9,  # measured
    ("daformer_conv1", 256, "mit"): 4.9,  # = SegFormer head at 256 channels
    ("segformer", 768, "resnet"): 53.3,  # embeddings of 256..2048 ch. at strides 4/8 + 3072->768 fuse
    ("dlv2red", 256, "resnet"): 2.9,  # two 3x3 2048->19 at stride 8 (no channels parameter)
    ("da_nodbn", 512, "resnet"): 109.8,  # two 3x3 2048->512, position/channel attention, two 3x3 512->512
    ("isa_nodbn", 512, "resnet"): 48.7,  # 3x3 2048->512, global + local attention, 1x1 1024->512
    ("dlv3p_nodbn", 512, "resnet"): 75.3,  # separable ASPP (2048 in), 3x3 2560->512, stride-4 decoder
    ("sfa_dlv3p_nodbn", 512, "mit"): 61.8,  # the same head on 512 ch. (MiT stage 4 upsampled to stride 8)
    ("upernet", 512, "mit"): 209.5,  # PPM, FPN 3x3 convs, 3x3 2048->512 bottleneck at stride 4
    ("upernet", 256, "mit"): 52.8,
    ("daformer_isa", 256, "mit"): 16.2,
    ("daformer_sepaspp_bottleneck", 256, "mit"): 50.1,
    ("daformer_aspp", 256, "mit"): 159.6,  # plain 3x3 1024->256 dilated branches
}
"""Forward GMACs of each head (decoder, channels, encoder family) on a 512x512 image."""

DAFORMER_GMACS = ENCODER_GMACS["mit_b5"] + DECODER_GMACS[("daformer", 256, "mit")]
REFERENCE_SECONDS_PER_ITERATION = 1.44
"""Full DAFormer (MiT-B5, 512x512 crops, batch 2+2, FD on) on one RTX 2080 Ti (spec: Optimisation)."""


def _family(encoder: str) -> str:
    return "mit" if encoder.startswith("mit_") else "resnet"


def decoder_gmacs(decoder: str, channels: int, encoder: str) -> float:
    """The head's GMACs: the table's entry, else the same head's nearest entry scaled by width^2."""
    family = _family(encoder)
    if (decoder, channels, family) in DECODER_GMACS:
        return DECODER_GMACS[(decoder, channels, family)]
    if decoder == "dlv2red":  # no width: its convs map 2048 channels straight to the classes
        return DECODER_GMACS[("dlv2red", 256, "resnet")]
    known = [(c, f, g) for (d, c, f), g in DECODER_GMACS.items() if d == decoder]
    if not known:
        raise KeyError(f"no cost figure for decoder {decoder!r}; add it to ablations/cost.py")
    c, _, g = min(known, key=lambda k: (k[1] != family, abs(k[0] - channels)))
    return g * (channels / c) ** 2


def architecture_factor(model: Mapping[str, Any]) -> float:
    """MACs of the config's encoder + decoder over DAFormer's (1.0 for the full DAFormer)."""
    encoder = str(model["encoder"])
    if encoder not in ENCODER_GMACS:
        raise KeyError(f"no cost figure for encoder {encoder!r}; add it to ablations/cost.py")
    head = decoder_gmacs(str(model["decoder"]), int(model["decoder_channels"]), encoder)
    return (ENCODER_GMACS[encoder] + head) / DAFORMER_GMACS
