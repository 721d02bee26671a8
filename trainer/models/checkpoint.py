"""Load published weights into our modules, and save/load our own segmentor checkpoints.

Understood layouts (conversion happens here, on load; encoder keys per family in ``encoder_keys``):
- SegFormer ImageNet ``mit_b*.pth``: flat MiT keys (``patch_embed1.proj.weight``, ``block1.0.attn.q.weight``,
  ``norm1.weight`` ...) plus a ``head.*`` classifier, which is dropped.
- open-mmlab ImageNet ``resnet*_v1c`` / ``resnest*_d2`` files: mmcv ResNet keys (``stem.N``, ``layer*``)
  plus an ``fc.*`` classifier, which is dropped. Missing BN ``num_batches_tracked`` counters are
  tolerated (they are not weights and train nothing: BN momentum is set), as mmcv's loader does.
- mmseg checkpoints ``{"state_dict": ...}`` with ``backbone.*`` (encoder, the layouts above) and
  ``decode_head.*`` (head keys equal ours, including the reference SegFormer head's unused ``conv_seg``).
- UDA checkpoints of the reference (DACS), whose keys carry ``model.`` / ``ema_model.`` /
  ``imnet_model.`` prefixes: ``prefix`` chooses which network to load.
- Ours: ``{"format": OWN_FORMAT, "version", "meta": SegmentorSpec fields, "state_dict", "extra"}``.

Every loader refuses a shape mismatch naming the key, refuses weights of another encoder size or family
or another head naming both, and reports (or, with ``strict``, refuses) missing and unexpected keys.
"""

from __future__ import annotations

import logging
import os
import pickle
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from trainer.models.encoder_keys import check_encoder_architecture, convert_encoder_key
from trainer.models.mix_transformer import MixVisionTransformer
from trainer.models.resnet import DilatedResNet
from trainer.models.segmentor import Segmentor, SegmentorSpec

if TYPE_CHECKING:
    from trainer.models.hrda import HRDASegmentor

logger = logging.getLogger(__name__)

OWN_FORMAT = "daformer-ablate/segmentor"
OWN_VERSION = 1
UDA_PREFIXES: tuple[str, ...] = ("model", "ema_model", "imnet_model")
_ENCODER_TYPES = (MixVisionTransformer, DilatedResNet)


@dataclass(frozen=True)
class LoadReport:
    """Keys the module expected but the file lacked, and keys the file held that the module has not."""

    missing: tuple[str, ...]
    unexpected: tuple[str, ...]

    @property
    def complete(self) -> bool:
        return not self.missing and not self.unexpected


def read_checkpoint(path: str | Path, allow_pickle: bool = False) -> Mapping[str, Any]:
    """``torch.load`` on CPU with clear errors; arbitrary pickles only with ``allow_pickle`` (trusted)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        raw = torch.load(path, map_location="cpu", weights_only=not allow_pickle)
    except pickle.UnpicklingError as exc:
        if "weights_only" not in str(exc):  # not a torch file at all
            raise ValueError(f"{path} is not a PyTorch checkpoint: {exc}") from exc
        raise ValueError(
            f"{path} holds more than plain tensors ({exc}); pass allow_pickle=True only if you trust it"
        ) from exc
    except Exception as exc:  # torch.load fails with KeyError, EOFError, RuntimeError... on foreign bytes
        raise ValueError(f"{path} is not a PyTorch checkpoint: {type(exc).__name__}: {exc}") from exc
    if not isinstance(raw, Mapping):
        raise ValueError(f"{path} is not a checkpoint: it holds a {type(raw).__name__}, not a dict")
    return raw


def extract_state_dict(
    raw: Mapping[str, Any], path: str | Path, prefix: str = "model"
) -> dict[str, torch.Tensor]:
    """The tensors of a checkpoint, unwrapped (``state_dict`` / ``model``) and UDA-prefix selected."""
    state: Any = raw
    if raw.get("format") == OWN_FORMAT:
        state = raw["state_dict"]
    else:
        for wrapper in ("state_dict", "model"):
            if isinstance(raw.get(wrapper), Mapping):
                state = raw[wrapper]
                break
    if not state:
        raise ValueError(f"{path} is not a checkpoint: it holds no weights")
    for key, value in state.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            kind = type(value).__name__
            raise ValueError(f"{path} is not a checkpoint: entry {key!r} is a {kind}, not a tensor")
    state = {key.removeprefix("module."): value for key, value in state.items()}
    return _select_uda_prefix(state, prefix, path)


def _select_uda_prefix(
    state: dict[str, torch.Tensor], prefix: str, path: str | Path
) -> dict[str, torch.Tensor]:
    present = sorted({key.split(".", 1)[0] for key in state} & set(UDA_PREFIXES))
    if not present:
        return state
    if prefix not in present:
        raise ValueError(f"{path} is a UDA checkpoint holding {present}; prefix {prefix!r} is none of them")
    return {key[len(prefix) + 1 :]: value for key, value in state.items() if key.startswith(prefix + ".")}


def to_segmentor_keys(state: Mapping[str, torch.Tensor], segmentor: Segmentor) -> dict[str, torch.Tensor]:
    """mmseg names (``backbone.``, ``decode_head.``, reference encoder keys) -> ours (``encoder.``, ``decoder.``)."""
    has_conv_seg = hasattr(segmentor.decoder, "conv_seg")
    converted: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key.startswith("backbone."):
            key = "encoder." + key.removeprefix("backbone.")
        elif key.startswith("decode_head."):
            key = "decoder." + key.removeprefix("decode_head.")
        if key.startswith("encoder."):
            sub = convert_encoder_key(segmentor.encoder, key.removeprefix("encoder."))
            if sub is None:
                continue
            key = "encoder." + sub
        if key.startswith("decoder.conv_seg.") and not has_conv_seg:
            continue  # a head without a classifier conv_seg (DLV2) ignores one in the file
        converted[key] = value
    return converted


def to_encoder_keys(state: Mapping[str, torch.Tensor], encoder: nn.Module) -> dict[str, torch.Tensor]:
    """``encoder``'s weights from a flat ImageNet file, an mmseg (``backbone.``) or our (``encoder.``) file."""
    for wrapper in ("backbone.", "encoder."):
        if any(key.startswith(wrapper) for key in state):
            state = {key.removeprefix(wrapper): v for key, v in state.items() if key.startswith(wrapper)}
            break
    converted = {}
    for key, value in state.items():
        new_key = convert_encoder_key(encoder, key)
        if new_key is not None:
            converted[new_key] = value
    return converted


def _check_shapes(module: nn.Module, state: Mapping[str, torch.Tensor], path: str | Path) -> None:
    own = module.state_dict()
    for key, value in state.items():
        if key in own and own[key].shape != value.shape:
            raise ValueError(
                f"{path}: shape mismatch for {key}: checkpoint {tuple(value.shape)}, "
                f"model {tuple(own[key].shape)}"
            )


def _load(module: nn.Module, state: dict[str, torch.Tensor], strict: bool, path: str | Path) -> LoadReport:
    _check_shapes(module, state, path)
    result = module.load_state_dict(state, strict=False)
    missing = tuple(key for key in result.missing_keys if not key.endswith(".num_batches_tracked"))
    report = LoadReport(missing, tuple(result.unexpected_keys))
    if not report.complete:
        message = (
            f"{path} into {type(module).__name__}: {len(report.missing)} missing keys "
            f"{list(report.missing[:8])}, {len(report.unexpected)} unexpected keys "
            f"{list(report.unexpected[:8])}"
        )
        if strict:
            raise ValueError(message)
        logger.warning(message)
    return report


def load_pretrained_encoder(
    encoder: nn.Module,
    path: str | Path,
    prefix: str = "model",
    strict: bool = True,
    allow_pickle: bool = False,
) -> LoadReport:
    """Load encoder weights (ImageNet ``mit_b*.pth`` / open-mmlab ResNet file, or the encoder of an
    mmseg/UDA/our checkpoint; ``prefix="imnet_model"`` picks a UDA file's frozen FD encoder)."""
    state = to_encoder_keys(extract_state_dict(read_checkpoint(path, allow_pickle), path, prefix), encoder)
    check_encoder_architecture(encoder, state, path)
    return _load(encoder, state, strict, path)


def load_segmentor_checkpoint(
    segmentor: Segmentor,
    path: str | Path,
    prefix: str = "model",
    strict: bool = True,
    allow_pickle: bool = False,
) -> LoadReport:
    """Load a whole segmentor from an mmseg, a reference UDA (``prefix``) or our own checkpoint."""
    state = checked_segmentor_state(
        segmentor, path, prefix, allow_pickle, lambda raw: to_segmentor_keys(raw, segmentor)
    )
    return _load(segmentor, state, strict, path)


def checked_segmentor_state(
    segmentor: Segmentor | HRDASegmentor,
    path: str | Path,
    prefix: str,
    allow_pickle: bool,
    to_ours: Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]],
) -> dict[str, torch.Tensor]:
    """The file's state in our key names (``to_ours``), refused when it is another network: another
    spec (our format), another encoder size or family, or the weights of another decoder head."""
    raw = read_checkpoint(path, allow_pickle)
    if raw.get("format") == OWN_FORMAT:
        _check_spec(_spec_from_meta(raw, path), segmentor.spec, path)
    state = to_ours(extract_state_dict(raw, path, prefix))
    encoder_state = {k.removeprefix("encoder."): v for k, v in state.items() if k.startswith("encoder.")}
    check_encoder_architecture(segmentor.encoder, encoder_state, path)
    decoder_keys = {key for key in state if key.startswith("decoder.")}
    own_decoder = {"decoder." + key for key in segmentor.decoder.state_dict()}
    shared = {key for key in decoder_keys & own_decoder if not key.startswith("decoder.conv_seg.")}
    if decoder_keys and not shared:  # every mmseg head has a conv_seg: sharing only it means another head
        raise ValueError(
            f"{path} holds decoder weights of another head (e.g. {sorted(decoder_keys)[0]}); the model's "
            f"decoder is {type(segmentor.decoder).__name__} ({segmentor.spec.decoder})"
        )
    return state


def load_checkpoint_into(
    module: nn.Module,
    path: str | Path,
    prefix: str = "model",
    strict: bool = True,
    allow_pickle: bool = False,
) -> LoadReport:
    """Load into a ``Segmentor`` or a bare encoder (MiT, ResNet-V1c, ResNeSt), whichever ``module`` is."""
    if isinstance(module, Segmentor):
        return load_segmentor_checkpoint(module, path, prefix, strict, allow_pickle)
    if isinstance(module, _ENCODER_TYPES):
        return load_pretrained_encoder(module, path, prefix, strict, allow_pickle)
    kind = type(module).__name__
    raise TypeError(f"checkpoints load into a Segmentor or an encoder (MiT, ResNet, ResNeSt), not {kind}")


def save_segmentor_checkpoint(
    segmentor: Segmentor | HRDASegmentor, path: str | Path, extra: Mapping[str, Any] | None = None
) -> None:
    """Write weights plus the spec that rebuilds them; written to a temporary file then renamed (atomic)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": OWN_FORMAT,
        "version": OWN_VERSION,
        "meta": segmentor.spec.to_dict(),
        "state_dict": {key: value.detach().cpu() for key, value in segmentor.state_dict().items()},
        "extra": dict(extra or {}),
    }
    tmp = path.with_name(path.name + ".tmp")
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    except BaseException:  # never leave a half-written file (a full disk, an interrupt)
        tmp.unlink(missing_ok=True)
        raise


def read_segmentor_spec(path: str | Path) -> SegmentorSpec:
    """The spec stored in one of our checkpoints; ValueError for files of other formats."""
    raw = read_checkpoint(path)
    if raw.get("format") != OWN_FORMAT:
        raise ValueError(f"{path} is not a {OWN_FORMAT} checkpoint (no metadata); build a model to load it")
    return _spec_from_meta(raw, path)


def _spec_from_meta(raw: Mapping[str, Any], path: str | Path) -> SegmentorSpec:
    if raw.get("version") != OWN_VERSION:
        found = raw.get("version")
        raise ValueError(f"{path}: unsupported checkpoint version {found!r}, expected {OWN_VERSION}")
    meta = raw.get("meta")
    try:
        return SegmentorSpec(**meta)  # type: ignore[arg-type]
    except TypeError as exc:
        raise ValueError(f"{path}: malformed metadata {meta!r}: {exc}") from exc


def _check_spec(found: SegmentorSpec, expected: SegmentorSpec, path: str | Path) -> None:
    for field in ("encoder", "decoder", "num_classes", "decoder_channels"):
        if getattr(found, field) != getattr(expected, field):
            raise ValueError(
                f"{path} holds a segmentor with {field}={getattr(found, field)!r}, "
                f"the model has {field}={getattr(expected, field)!r}"
            )
