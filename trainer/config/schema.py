"""The configuration tree of one training run, with DAFormer's defaults (spec: all sections).

Every default below was read from the DAFormer paper and its reference configs; this file is
the one place they live. The default ``TrainConfig()`` is the full DAFormer of the paper
(MiT-B5 + DAFormer head, warmup, RCS T=0.01, thing-class FD lambda 0.005, EMA alpha 0.999 and
the pseudo-label crop) on GTA5 -> Cityscapes. Ablation rows switch pieces off through overrides.

The models are frozen and forbid unknown fields, so a typo in an override is an error that
names the field instead of a silently ignored key. This module must not import torch.
"""

from __future__ import annotations

import math
import sys
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

CITYSCAPES_CLASSES: tuple[str, ...] = (
    "road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign",
    "vegetation", "terrain", "sky", "person", "rider", "car", "truck", "bus", "train",
    "motorcycle", "bicycle",
)  # fmt: skip
"""The 19 Cityscapes evaluation classes in train-id order (ignore label 255)."""

THING_CLASSES: tuple[int, ...] = (6, 7, 11, 12, 13, 14, 15, 16, 17, 18)
"""Train ids of the "thing" classes whose ImageNet features FD preserves (spec: FD)."""

SYNTHIA_EVAL_CLASSES: tuple[int, ...] = tuple(c for c in range(19) if c not in (9, 14, 16))
"""The 16 classes over which SYNTHIA -> Cityscapes mIoU is reported (no terrain, truck, train)."""

IGNORE_INDEX = 255

SOURCE_KINDS: tuple[str, ...] = ("gta", "synthia", "cityscapes")
"""Labelled training sets a run may adapt FROM (Cityscapes: the reference's experiment 8)."""
TARGET_KINDS: tuple[str, ...] = ("cityscapes", "acdc", "dark_zurich")
"""Target domains with a labelled val split the run is evaluated on (all with the 19 classes)."""

EncoderName = Literal[
    "mit_b0", "mit_b1", "mit_b2", "mit_b3", "mit_b4", "mit_b5",
    "r50v1c", "r101v1c", "s50", "s101", "s200",
]  # fmt: skip
"""MiT (SegFormer), ResNet-V1c and ResNeSt encoders, named as the reference's experiments name them."""

DecoderName = Literal[
    "daformer", "segformer", "dlv2red", "da_nodbn", "isa_nodbn", "dlv3p_nodbn", "sfa_dlv3p_nodbn",
    "upernet", "daformer_conv1", "daformer_isa", "daformer_sepaspp_bottleneck", "daformer_aspp",
]  # fmt: skip
"""Decoder heads (spec: architectures.md). ``daformer`` is the reference's ``daformer_sepaspp``;
``upernet_ch256`` and SegFormer's 768/256 variants are ``decoder_channels`` values."""


class _Frozen(BaseModel):
    """Base of every config node: immutable, unknown keys refused, inf serialised as a string.

    Non-finite floats (JSON ``Infinity``, ``"inf"``, ``1e309``, NaN) are refused everywhere, naming
    the field, so they fail at submission rather than inside every trial's retries; the one field
    where inf means something (``uda.rcs.temperature``: uniform sampling) opts back in.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", ser_json_inf_nan="strings", allow_inf_nan=False)


class HRDAConfig(_Frozen):
    """HRDA's multi-resolution segmentor (spec: hrda.md). Off: the plain DAFormer segmentor.

    ``scales`` are (context, detail) input scales, sorted; the detail scale must be 1 (the detail
    crop is cut from the full-resolution training crop). ``hr_crop_size`` is the detail crop (h, w).
    """

    enabled: bool = False
    scales: tuple[float, float] = (0.5, 1.0)
    hr_crop_size: tuple[int, int] = (512, 512)
    crop_coord_divisible: int = Field(8, gt=0, description="Detail box offsets are multiples of this.")
    hr_loss_weight: float = Field(0.1, ge=0.0, lt=1.0, description="lambda_d: weight of the detail CE.")
    lr_loss_weight: float = Field(0.0, ge=0.0, lt=1.0, description="Weight of a context CE (0 in HRDA).")
    attention_classwise: bool = Field(True, description="False: one attention channel (Table 7 ablation).")
    attention_channels: int = Field(
        256, gt=0, description="Width of the DAFormer-style attention head (a dlv2red attention has none)."
    )
    fixed_attention: float | None = Field(None, ge=0.0, le=1.0, description="A constant instead of learned.")
    hr_slide_inference: bool = True
    hr_slide_overlapping: bool = Field(True, description="Detail windows at stride crop/2 (else crop).")
    blur_hr_crop: bool = Field(False, description="Detail input = context image upsampled (Table 6).")
    fd_scales: Literal["context", "all"] = Field(
        "context",
        description="FD on the context features only (the reference's feature_scale = the context scale), or "
        "'all': on both scales, summed (its feature_scale='all', which experiments.py sets when the outer "
        "crop equals the detail crop and FD is on: Table 3's LR0.5+HR0.5).",
    )

    @model_validator(mode="after")
    def _scales(self) -> HRDAConfig:
        low, high = self.scales
        if not 0 < low <= high or high != 1.0:
            raise ValueError(f"model.hrda.scales must be (context, 1.0) with 0 < context <= 1, got {self.scales}")
        if min(self.hr_crop_size) <= 0 or any(s % self.crop_coord_divisible for s in self.hr_crop_size):
            raise ValueError(f"model.hrda.hr_crop_size must be positive multiples of crop_coord_divisible "
                             f"({self.crop_coord_divisible}), got {self.hr_crop_size}")
        if self.hr_loss_weight + self.lr_loss_weight >= 1.0:
            raise ValueError("model.hrda.hr_loss_weight + lr_loss_weight must stay below 1 (the fused CE's share)")
        return self


class ModelConfig(_Frozen):
    """The segmentor: a Mix Transformer encoder and a decoder head (spec: Network)."""

    encoder: EncoderName = "mit_b5"
    decoder: DecoderName = "daformer"
    decoder_channels: int = Field(256, gt=0, description="DAFormer: 256; SegFormer head: 256 or 768.")
    num_classes: int = Field(19, gt=0)
    drop_path_rate: float = Field(0.1, ge=0.0, lt=1.0, description="MiT only; the ResNets have none.")
    pretrained: str | None = Field(
        None,
        description="Path to the encoder's ImageNet-1k weights: SegFormer's mit_b*.pth, or open-mmlab's "
        "resnet*_v1c / resnest*_d2 .pth. None: random init; the frozen FD "
        "encoder is then a copy of the initial (random) encoder.",
    )
    hrda: HRDAConfig = HRDAConfig()


class DatasetConfig(_Frozen):
    """One dataset on disk: its layout, root folder, and the size images are resized to."""

    kind: Literal["gta", "synthia", "cityscapes", "acdc", "dark_zurich"]
    root: str
    resize: tuple[int, int] = Field(description="(width, height) the image is resized to, ratio kept.")

    @field_validator("resize")
    @classmethod
    def _positive(cls, value: tuple[int, int]) -> tuple[int, int]:
        if min(value) <= 0:
            raise ValueError("resize must be two positive integers (width, height)")
        return value


class DataConfig(_Frozen):
    """Source and target datasets and the crop pipeline (spec: Data pipelines)."""

    source: DatasetConfig = DatasetConfig(kind="gta", root="data/gta", resize=(1280, 720))
    target: DatasetConfig = DatasetConfig(kind="cityscapes", root="data/cityscapes", resize=(1024, 512))
    val_resize: tuple[int, int] = Field((1024, 512), description="(width, height) of target val images.")
    crop_size: tuple[int, int] = Field((512, 512), description="(height, width) of training crops.")
    cat_max_ratio: float = Field(0.75, gt=0.0, le=1.0, description="Source crops: max share of one class.")
    flip_prob: float = Field(0.5, ge=0.0, le=1.0)
    photometric_distortion: bool | None = Field(
        None,
        description="mmseg's PhotoMetricDistortion on the labelled crops. None: on for source-only and "
        "target-only training, off for UDA (whose mixed images get the strong augmentation instead), "
        "as in the reference's dataset configs.",
    )
    batch_size: int = Field(2, gt=0, description="Crops per domain per iteration (2 source + 2 target).")
    num_workers: int = Field(4, ge=0)
    sync_crop_size: tuple[int, int] | None = Field(
        None, description="HRDA ablations: one (h, w) window cut at the same place from the source and "
        "target crops after the loaders crop (None: off).",
    )


class EMAConfig(_Frozen):
    """Mean-teacher update: a = min(1 - 1/(i+1), alpha) (spec: Self-training step 1)."""

    alpha: float = Field(0.999, ge=0.0, lt=1.0)


class PseudoLabelConfig(_Frozen):
    """Teacher pseudo-labels: confidence threshold and the rows whose weight is zeroed (PL crop)."""

    threshold: float = Field(0.968, gt=0.0, lt=1.0)
    crop_top: int = Field(15, ge=0, description="Rows at the top of each target crop with weight 0.")
    crop_bottom: int = Field(120, ge=0, description="Rows at the bottom with weight 0 (ego-car hood).")
    crop_pseudo_margins: tuple[int, int, int, int] | None = Field(
        None, description="HRDA's v2 margins (top, bottom, left, right) in pixels of the resized target "
        "image: a validity mask cropped and flipped with it (HRDA: [30, 240, 30, 30]; None: off).",
    )


class RCSConfig(_Frozen):
    """Rare Class Sampling (spec: RCS). temperature may be inf: uniform class sampling."""

    enabled: bool = True
    temperature: float = Field(0.01, gt=0.0, allow_inf_nan=True)
    min_pixels: int = Field(3000, ge=0)
    min_crop_ratio: float = Field(0.5, ge=0.0, description="DAFormer 0.5; HRDA 2.0 (1024 crops).")
    max_crop_tries: int = Field(10, gt=0)

    @field_validator("temperature")
    @classmethod
    def _not_subnormal(cls, value: float) -> float:
        """(1 - f_c) / T must stay a finite double for the softmax (trainer.data.rcs): below the
        smallest normal double (2.2e-308) it overflows and every class probability becomes NaN."""
        if value < sys.float_info.min:
            raise ValueError(f"must be at least {sys.float_info.min:.3g} (smaller values overflow the "
                             f"RCS softmax to NaN) or inf for uniform sampling, got {value!r}")
        return value


class FDConfig(_Frozen):
    """Thing-class ImageNet Feature Distance (spec: FD)."""

    enabled: bool = True
    fd_lambda: float = Field(0.005, ge=0.0)
    classes: Literal["things", "all"] = "things"
    thing_classes: tuple[int, ...] = THING_CLASSES
    scale_min_ratio: float = Field(0.75, ge=0.0, le=1.0)


class MixConfig(_Frozen):
    """ClassMix and the strong augmentation of the mixed images (spec: steps 5-6)."""

    enabled: bool = True
    color_jitter_prob: float = Field(0.8, ge=0.0, le=1.0)
    color_jitter_strength: float = Field(0.2, ge=0.0)
    blur: bool = True
    blur_prob: float = Field(0.5, ge=0.0, le=1.0)


MaskMode = Literal["separate", "separateaug", "separatesrc", "separatesrcaug", "separatetrg", "separatetrgaug"]
"""MIC's masked batch: target (trg), source (src), or source image 0 + target image 0 (separate);
``aug``: colour jitter and blur before masking (spec: mic.md, Mask modes)."""


class MICConfig(_Frozen):
    """Masked Image Consistency, one more term of the UDA step (spec: mic.md). Off by default.

    ``mask_block_size`` is in pixels of the training crop (64 for MIC(HRDA) at full resolution,
    32 for MIC(DAFormer) at half). ``mask_alpha`` / ``mask_pseudo_threshold`` other than 'same'
    build a separate EMA teacher; a threshold of None gives pseudo-label weight 1 (margins apply).
    ``color_jitter_prob`` is the probability of APPLYING jitter (the reference's
    ``color_jitter_probability=0.2`` is the skip threshold: 0.8 here).
    """

    enabled: bool = False
    mask_mode: MaskMode = "separatetrgaug"
    mask_ratio: float = Field(0.7, ge=0.0, le=1.0)
    mask_block_size: int = Field(64, gt=0)
    mask_lambda: float = Field(1.0, ge=0.0)
    mask_alpha: Literal["same"] | float = "same"
    mask_pseudo_threshold: Literal["same"] | float | None = "same"
    color_jitter_prob: float = Field(0.8, ge=0.0, le=1.0)
    color_jitter_strength: float = Field(0.2, ge=0.0)
    blur_prob: float = Field(0.5, ge=0.0, le=1.0)

    @field_validator("mask_alpha")
    @classmethod
    def _alpha(cls, value: str | float) -> str | float:
        if not isinstance(value, str) and not 0.0 <= value < 1.0:
            raise ValueError(f"mask_alpha must be 'same' or in [0, 1), got {value}")
        return value

    @field_validator("mask_pseudo_threshold")
    @classmethod
    def _threshold(cls, value: str | float | None) -> str | float | None:
        if isinstance(value, float | int) and not 0.0 < value < 1.0:
            raise ValueError(f"mask_pseudo_threshold must be 'same', None or in (0, 1), got {value}")
        return value

    @property
    def separate_teacher(self) -> bool:
        """Whether MIC needs its own EMA teacher (extra memory; only the ablations do)."""
        return self.mask_alpha != "same" or self.mask_pseudo_threshold != "same"


class MinEntConfig(_Frozen):
    """MinEnt (Vu et al. 2019), the reference's ``configs/_base_/uda/minent.py`` (uda.method 'minent')."""

    lambda_ent: float = Field(
        0.001, ge=0.0, description="Weight of the normalised target entropy of the main output (the "
        "reference's lambda_ent['main']; its 'aux' 0.0002 applies to an mmseg auxiliary head, which no "
        "model here has).",
    )


class AdvSegConfig(_Frozen):
    """AdvSeg (Tsai et al. 2018), the reference's ``configs/_base_/uda/advseg.py`` (uda.method 'advseg'):
    an output-space discriminator (FCDiscriminator, ``ndf`` filters) with its own Adam optimizer,
    lr ``(lr - min_lr) * (1 - i/T)^lr_power + min_lr`` (no warmup)."""

    lambda_adv: float = Field(0.001, ge=0.0, description="Weight of the generator's adversarial loss (main).")
    discriminator_loss: Literal["ls", "vanilla"] = Field(
        "ls", description="'ls': least squares (MSE, the reference's 'LS'); 'vanilla': BCE with logits."
    )
    lr: float = Field(1e-4, gt=0.0, description="The discriminator's Adam lr (lr_D).")
    lr_power: float = Field(0.9, gt=0.0)
    min_lr: float = Field(0.0, ge=0.0)
    betas: tuple[float, float] = (0.9, 0.99)
    ndf: int = Field(64, gt=0, description="Filters of the discriminator's first layer (x2 per layer).")


class UDAConfig(_Frozen):
    """What is trained: source-only, DACS-style UDA, or the target-only oracle.

    ``method`` picks the UDA method of ``mode='uda'``: 'dacs' (the self-training of DAFormer, HRDA
    and MIC: EMA teacher, pseudo-labels, ClassMix, FD), or the output-space methods of HRDA Table 2 /
    MIC Table 1: 'minent' (entropy minimisation) and 'advseg' (adversarial training). The latter
    two have no teacher, pseudo-labels, mixing or FD (``uda.fd`` must be off); MIC on them builds
    its own EMA teacher (``uda.ema.alpha``, ``uda.pseudo_label``), as the reference does.
    """

    mode: Literal["uda", "source_only", "target_only"] = "uda"
    method: Literal["dacs", "minent", "advseg"] = "dacs"
    minent: MinEntConfig = MinEntConfig()
    advseg: AdvSegConfig = AdvSegConfig()
    ema: EMAConfig = EMAConfig()
    pseudo_label: PseudoLabelConfig = PseudoLabelConfig()
    rcs: RCSConfig = RCSConfig()
    fd: FDConfig = FDConfig()
    mix: MixConfig = MixConfig()
    mic: MICConfig = MICConfig()


REFERENCE_SCHEDULES: dict[str, dict[str, object]] = {
    "poly10warm": {"warmup": True, "warmup_iters": 1500, "warmup_ratio": 1e-6, "poly_power": 1.0, "min_lr": 0.0},
    "poly10": {"warmup": False, "warmup_iters": 1500, "warmup_ratio": 1e-6, "poly_power": 1.0, "min_lr": 1e-4},
}
"""The reference's ``configs/_base_/schedules/{poly10warm,poly10}.py`` (mmcv ``PolyLrUpdaterHook``).
``poly10`` (the no-warmup rows of Table 4) keeps mmcv's ABSOLUTE ``min_lr=1e-4`` for every group:
the encoder's lr rises from 6e-5 towards 1e-4 while the head's (x10) falls from 6e-4 to 1e-4. It
looks like a quirk; it is what produced the published numbers."""
_OPTIM_DEFAULTS: dict[str, object] = {
    "warmup": True, "warmup_iters": 1500, "warmup_ratio": 1e-6, "poly_power": 1.0, "min_lr": 0.0,
}  # fmt: skip


class OptimConfig(_Frozen):
    """AdamW with a 10x head learning rate, linear warmup and polynomial decay (spec: Optimisation).

    ``kind='sgd'``: mmcv's SGD of the reference's ``schedules/sgd.py`` (``momentum``, no Nesterov,
    no dampening) with the same parameter groups; the AdvSeg/MinEnt rows of HRDA Table 2 and MIC
    Table 1 use lr 0.0025, weight decay 5e-4 and no head multiplier (``head_lr_mult`` 1).
    """

    kind: Literal["adamw", "sgd"] = "adamw"
    momentum: float = Field(0.9, ge=0.0, lt=1.0, description="SGD only (AdamW uses betas).")
    lr: float = Field(6e-5, gt=0.0)
    head_lr_mult: float = Field(10.0, gt=0.0)
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = Field(0.01, ge=0.0)
    norm_weight_decay: float = Field(
        0.0,
        ge=0.0,
        description="Weight decay of the encoder's normalisation parameters. The reference: 0 for MiT "
        "encoders (its 'norm' decay_mult 0), the full weight_decay (0.01) for ResNet/ResNeSt encoders, "
        "whose BatchNorms it decays; the presets set it per row.",
    )
    warmup: bool = True
    warmup_iters: int = Field(1500, ge=0)
    warmup_ratio: float = Field(1e-6, gt=0.0, le=1.0)
    poly_power: float = Field(1.0, gt=0.0)
    min_lr: float = Field(0.0, ge=0.0, description="Absolute floor of EVERY group's lr, as mmcv's poly.")
    schedule: Literal["poly10warm", "poly10"] | None = Field(
        None,
        description="One of the reference's schedule files by name; it then fixes warmup, warmup_iters, "
        "warmup_ratio, poly_power and min_lr (see REFERENCE_SCHEDULES). None: those fields as given.",
    )

    @model_validator(mode="before")
    @classmethod
    def _named_schedule(cls, data: object) -> object:
        """Fill the fields a named schedule fixes; refuse a field set to a third value."""
        if not isinstance(data, dict) or data.get("schedule") is None:
            return data
        name = data["schedule"]
        if name not in REFERENCE_SCHEDULES:
            return data  # the Literal check reports it
        out = dict(data)
        for key, value in REFERENCE_SCHEDULES[name].items():
            given = out.get(key, value)
            if given != value and given != _OPTIM_DEFAULTS[key]:
                raise ValueError(f"optim.{key}={given!r} conflicts with optim.schedule={name!r}, which sets "
                                 f"{key}={value!r}; drop one of the two")
            out[key] = value
        return out


class RunConfig(_Frozen):
    """Length, cadence, reproducibility and numerics of one run."""

    iterations: int = Field(40_000, gt=0)
    eval_interval: int = Field(4000, gt=0)
    checkpoint_interval: int = Field(4000, gt=0)
    keep_checkpoints: int = Field(1, gt=0)
    log_interval: int = Field(50, gt=0)
    seed: int = Field(0, ge=0)
    device: str = Field("auto", description="'auto' (cuda when available), 'cpu' or 'cuda[:N]'.")
    precision: Literal["auto", "fp32", "bf16", "fp16"] = Field(
        "auto", description="'auto': bf16 autocast on CUDA, fp32 on the CPU."
    )
    numerics: Literal["default", "reference"] = Field(
        "default",
        description="'reference': the reference's maths bit for bit where it matters: fp32 everywhere "
        "(no autocast, no TF32) and ClassMix classes drawn from the whole batch's labels, 255 included.",
    )
    channels_last: bool = True
    compile: bool = False
    eval_mode: Literal["whole", "slide"] = "whole"
    slide_crop: tuple[int, int] = (512, 512)
    slide_stride: tuple[int, int] = (341, 341)
    output_dir: str = "runs/default"


class TrainConfig(_Frozen):
    """The whole run. ``TrainConfig()`` is the paper's full DAFormer on GTA5 -> Cityscapes."""

    model: ModelConfig = ModelConfig()
    data: DataConfig = DataConfig()
    uda: UDAConfig = UDAConfig()
    optim: OptimConfig = OptimConfig()
    run: RunConfig = RunConfig()

    @model_validator(mode="after")
    def _consistent(self) -> TrainConfig:
        fd = self.uda.fd
        if any(not 0 <= c < self.model.num_classes for c in fd.thing_classes):
            raise ValueError(f"uda.fd.thing_classes must be train ids below model.num_classes "
                             f"({self.model.num_classes}), got {list(fd.thing_classes)}")
        if self.data.target.kind not in TARGET_KINDS:
            raise ValueError(f"data.target.kind must be one of {', '.join(TARGET_KINDS)} (a real target "
                             f"domain with a labelled val split), got {self.data.target.kind!r}")
        if self.data.source.kind not in SOURCE_KINDS:
            raise ValueError(f"data.source.kind must be one of {', '.join(SOURCE_KINDS)} (a labelled "
                             f"training set), got {self.data.source.kind!r}")
        if self.run.numerics == "reference" and self.run.precision not in ("auto", "fp32"):
            raise ValueError(f"run.numerics='reference' computes in fp32; run.precision={self.run.precision!r} "
                             f"contradicts it (use 'auto' or 'fp32')")
        if math.isinf(self.uda.rcs.temperature) and not self.uda.rcs.temperature > 0:
            raise ValueError("uda.rcs.temperature must be positive or inf")
        _check_hrda_mic(self)
        _check_uda_method(self)
        return self

    @property
    def eval_classes(self) -> tuple[int, ...]:
        """Classes that enter the reported mIoU: 16 for SYNTHIA -> Cityscapes, else all 19."""
        if self.data.source.kind == "synthia" and self.uda.mode != "target_only":
            return SYNTHIA_EVAL_CLASSES
        return tuple(range(self.model.num_classes))


HRDA_DECODERS: tuple[str, ...] = ("daformer", "daformer_aspp", "daformer_conv1", "dlv2red")
"""Heads HRDA wraps: the reference's HRDAHead takes a DAFormerHead (its attention swaps an ASPP fusion for a
1x1 conv, which these three have or become) or a DLV2Head (a DLV2 twin); it refuses every other head."""


def _check_hrda_mic(cfg: TrainConfig) -> None:
    """HRDA's detail crop fits the (sync) training crop; MIC outside UDA can only mask the source."""
    hrda, crop, sync = cfg.model.hrda, cfg.data.crop_size, cfg.data.sync_crop_size
    if sync is not None and (min(sync) <= 0 or any(s > c for s, c in zip(sync, crop, strict=True))):
        raise ValueError(f"data.sync_crop_size {sync} must be positive and fit in data.crop_size {crop}")
    crop = sync or crop
    if hrda.enabled and any(h > c for h, c in zip(hrda.hr_crop_size, crop, strict=True)):
        raise ValueError(f"model.hrda.hr_crop_size {hrda.hr_crop_size} must fit in the training crop {crop}")
    if hrda.enabled and cfg.model.decoder not in HRDA_DECODERS:
        raise ValueError(f"model.hrda needs a decoder whose scale attention the reference builds as here "
                         f"({', '.join(HRDA_DECODERS)}), got {cfg.model.decoder!r}: its HRDAHead has none for "
                         "the other heads, or (daformer_isa, daformer_sepaspp_bottleneck) keeps their fusion")
    if hrda.enabled and cfg.model.decoder == "dlv2red":  # the reference's DLV2 HRDAHead: logits at stride 8
        if cfg.model.encoder.startswith("mit_"):
            raise ValueError(f"model.hrda with decoder dlv2red needs a ResNet-V1c/ResNeSt encoder (logits at "
                             f"stride 8, as the reference's HRDAHead assumes), got {cfg.model.encoder}")
        if hrda.crop_coord_divisible % 8:
            raise ValueError(f"model.hrda.crop_coord_divisible must be a multiple of 8 (dlv2red's output "
                             f"stride), got {hrda.crop_coord_divisible}")
    mic = cfg.uda.mic
    if mic.enabled and cfg.uda.mode != "uda" and mic.mask_mode not in ("separatesrc", "separatesrcaug"):
        raise ValueError(f"uda.mic.mask_mode {mic.mask_mode!r} needs target images; with uda.mode "
                         f"{cfg.uda.mode!r} use 'separatesrc' or 'separatesrcaug' (MIC's source-only study)")
    if mic.enabled and mic.mask_mode in ("separate", "separateaug") and cfg.data.batch_size != 2:
        raise ValueError("uda.mic.mask_mode 'separate' stacks source image 0 and target image 0: "
                         "it needs data.batch_size 2")


def _check_uda_method(cfg: TrainConfig) -> None:
    """MinEnt / AdvSeg are UDA methods (mode 'uda') without DACS's FD term, which they would ignore."""
    method = cfg.uda.method
    if method == "dacs":
        return
    if cfg.uda.mode != "uda":
        raise ValueError(f"uda.method {method!r} is a UDA method: it needs uda.mode 'uda', got {cfg.uda.mode!r}")
    if cfg.uda.fd.enabled:
        raise ValueError(f"uda.fd is a term of the 'dacs' method; uda.method {method!r} has none: "
                         "set uda.fd.enabled: false")
