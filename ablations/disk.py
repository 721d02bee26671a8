"""How much of the storage path an experiment's resume checkpoints take, estimated and measured.

A resume checkpoint (`trainer.engine.checkpoint`) holds, in fp32: the student (with HRDA's
scale-attention head when ``model.hrda`` is on), the EMA teacher (DACS-style UDA), MIC's own
teacher (when MIC needs one), the frozen ImageNet encoder of FD (only when it is not the
pretrained file), the optimizer's state per trainable student parameter (AdamW: two moments; SGD
with momentum: one buffer), and AdvSeg's discriminator with its Adam moments; the rest (RNG
states, the data streams' position, the config, the history) is a few kilobytes. Its size follows
from the network's parameter count, which is counted by building the segmentor on PyTorch's ``meta`` device (no
memory, no weights read). The API must answer without importing torch, so the counts of the
networks the presets and the paper use are in ``parameter_counts.json`` (written by
``python -m ablations.disk``; a test checks it against the builder); a network missing there is
counted by the dispatcher, which has torch, before its experiment starts. Tune keeps
``run.keep_checkpoints`` of them per trial, and one more while a newer one is being written, so
the peak of a grid is at most ``sum over trials of (K + 1) x checkpoint size``.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

BYTES_PER_VALUE = 4
"""fp32: weights and optimizer state stay fp32 under bf16/fp16 autocast."""

CHECKPOINT_OVERHEAD_BYTES = 1024 * 1024
"""RNG states, stream positions, config, history and the zip records of each tensor: 0.4 MB for MiT-B0."""

HEADROOM = 1.1
"""The storage must have this much more free space than the estimate (logs, Tune's state)."""


COUNTS_FILE = Path(__file__).with_name("parameter_counts.json")
TABLE_MODELS = [
    *({"encoder": f"mit_b{i}", "decoder": decoder, "decoder_channels": channels, "num_classes": 19}
      for i in range(6) for decoder, channels in (("daformer", 256), ("segformer", 256), ("segformer", 768))),
    {"encoder": "mit_b0", "decoder": "daformer", "decoder_channels": 64, "num_classes": 19},
    {"encoder": "mit_b0", "decoder": "daformer", "decoder_channels": 16, "num_classes": 19},
    # HRDA: the same networks with a scale-attention head (a second head of the decoder's kind)
    *({"encoder": encoder, "decoder": decoder, "decoder_channels": channels, "num_classes": 19, "hrda": hrda}
      for encoder, decoder, channels in (("mit_b5", "daformer", 256), ("mit_b0", "daformer", 64),
                                         ("r101v1c", "dlv2red", 256))
      for hrda in ({"enabled": True}, {"enabled": True, "attention_classwise": False})),
    *({"encoder": encoder, "decoder": decoder, "decoder_channels": channels, "num_classes": 19}
      for encoder, decoder, channels in (
          ("r50v1c", "dlv2red", 256), ("r101v1c", "dlv2red", 256), ("s50", "dlv2red", 256),
          ("s101", "dlv2red", 256), ("s200", "dlv2red", 256), ("r101v1c", "da_nodbn", 512),
          ("r101v1c", "isa_nodbn", 512), ("r101v1c", "dlv3p_nodbn", 512), ("r101v1c", "segformer", 768),
          ("mit_b5", "sfa_dlv3p_nodbn", 512), ("mit_b5", "daformer_conv1", 256), ("mit_b5", "upernet", 512),
          ("mit_b5", "upernet", 256), ("mit_b5", "daformer_isa", 256), ("mit_b5", "daformer_sepaspp_bottleneck", 256),
          ("mit_b5", "daformer_aspp", 256),
      )),
]
"""The networks of the paper's tables and of the presets, demo and tests: the table's rows."""


def _learned_attention(model: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """``model.hrda`` when HRDA is on with a learned scale attention (a head with parameters)."""
    hrda = model.get("hrda") or {}
    return hrda if hrda.get("enabled") and hrda.get("fixed_attention") is None else None


def model_key(model: Mapping[str, Any]) -> str:
    """What the parameter count depends on: ``mit_b5/daformer/256/19``, and with HRDA its scale
    attention: ``.../hrda-19x256`` (classwise, 256-wide) or ``.../hrda-1x256``; a fixed attention adds
    no parameters, so it shares the plain network's key."""
    key = f"{model['encoder']}/{model['decoder']}/{model['decoder_channels']}/{model['num_classes']}"
    hrda = _learned_attention(model)
    if hrda is None:
        return key
    outputs = model["num_classes"] if hrda.get("attention_classwise", True) else 1
    return f"{key}/hrda-{outputs}x{hrda.get('attention_channels', 256)}"


def _count_fields(model: Mapping[str, Any]) -> dict[str, Any]:
    """The model fields the count depends on (HRDA's attention settings only when it has a head)."""
    fields = {k: model[k] for k in ("encoder", "decoder", "decoder_channels", "num_classes")}
    hrda = _learned_attention(model)
    if hrda is not None:
        fields["hrda"] = {k: hrda[k] for k in ("enabled", "attention_classwise", "attention_channels",
                                                 "fixed_attention") if k in hrda}
    return fields


@functools.cache
def _table() -> dict[str, list[int]]:
    return dict(json.loads(COUNTS_FILE.read_text())) if COUNTS_FILE.is_file() else {}


def counts(model: Mapping[str, Any], build: bool = True) -> tuple[int, int, int]:
    """(student values incl. buffers, trainable student parameters, encoder values) of one model.

    From the table when it has the model; else built on the meta device when ``build`` (needs
    torch), else LookupError."""
    known = _table().get(model_key(model))
    if known is not None:
        return known[0], known[1], known[2]
    if not build:
        raise LookupError(f"no parameter count of {model_key(model)} without torch")
    return _build_counts(json.dumps(_count_fields(model), sort_keys=True))


@functools.lru_cache(maxsize=64)
def _build_counts(model_json: str) -> tuple[int, int, int]:
    import torch

    from trainer.config.schema import ModelConfig
    from trainer.models.network import build_network_from_config

    model = ModelConfig.model_validate(json.loads(model_json))
    with torch.device("meta"):
        segmentor = build_network_from_config(model)

    def values(module: torch.nn.Module) -> int:
        return sum(t.numel() for t in module.state_dict().values())

    trainable = sum(p.numel() for p in segmentor.parameters() if p.requires_grad)
    return values(segmentor), trainable, values(segmentor.encoder)


def discriminator_parameters(num_classes: int, ndf: int = 64) -> int:
    """AdvSeg's FCDiscriminator: five 4x4 convolutions K -> ndf -> 2ndf -> 4ndf -> 8ndf -> 1, with biases
    (2,781,121 for 19 classes and ndf 64; ``trainer.uda.advseg``)."""
    widths = (num_classes, ndf, 2 * ndf, 4 * ndf, 8 * ndf, 1)
    return sum(16 * c_in * c_out + c_out for c_in, c_out in zip(widths, widths[1:], strict=False))


def checkpoint_bytes(config: Mapping[str, Any], build: bool = True) -> int:
    """Estimated size of one resume checkpoint of a resolved trial config (``TrialPlan.config``)."""
    student, trainable, encoder = counts(config["model"], build)
    uda, optim = config["uda"], config.get("optim", {})
    in_uda = uda.get("mode", "uda") == "uda"
    method = uda.get("method", "dacs") if in_uda else None
    teacher = student if method == "dacs" else 0
    mic = uda.get("mic") or {}
    own_settings = mic.get("mask_alpha", "same") != "same" or mic.get("mask_pseudo_threshold", "same") != "same"
    mic_own_teacher = in_uda and mic.get("enabled") and (method != "dacs" or own_settings)
    frozen = encoder if method == "dacs" and uda["fd"]["enabled"] and not config["model"].get("pretrained") else 0
    moments = 2 if optim.get("kind", "adamw") == "adamw" else (1 if optim.get("momentum", 0.9) > 0 else 0)
    adversary = 0
    if method == "advseg":
        ndf = (uda.get("advseg") or {}).get("ndf", 64)
        adversary = 3 * discriminator_parameters(config["model"]["num_classes"], ndf)  # weights + Adam's 2 moments
    values = student + teacher + (student if mic_own_teacher else 0) + frozen + moments * trainable + adversary
    return BYTES_PER_VALUE * values + CHECKPOINT_OVERHEAD_BYTES


def peak_bytes(configs: Iterable[Mapping[str, Any]], build: bool = True) -> int | None:
    """Upper bound of the storage the grid's resume checkpoints take at once: (K + 1) per trial.

    None when a network is not in the table and ``build`` is off, or cannot be built (an encoder
    the model zoo does not have yet: its trials fail on their own)."""
    try:
        return sum(checkpoint_bytes(c, build) * (int(c["run"]["keep_checkpoints"]) + 1) for c in configs)
    except (LookupError, ValueError):
        return None


def used_bytes(path: str | os.PathLike[str]) -> int | None:
    """Bytes of the files under ``path`` (None when it does not exist here)."""
    root = Path(path)
    if not root.is_dir():
        return None
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def free_bytes(path: str | os.PathLike[str]) -> int | None:
    """Free bytes of the filesystem holding ``path`` or its nearest existing parent (None: none here)."""
    probe = Path(path).resolve()
    while not probe.exists():
        if probe.parent == probe:
            return None
        probe = probe.parent
    return shutil.disk_usage(probe).free


def human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def storage_shortfall(storage_path: str, estimate: int | None) -> str | None:
    """Why the storage path cannot hold ``estimate`` bytes (with headroom), or None when it can
    (or cannot be checked from here: no estimate, or no existing parent of the path)."""
    free = free_bytes(storage_path)
    if estimate is None or free is None or free >= estimate * HEADROOM:
        return None
    return (
        f"the storage path {storage_path} has {human(free)} free but the experiment's resume checkpoints "
        f"need up to {human(estimate)} (+{HEADROOM - 1:.0%} headroom); free space, lower "
        f"run.keep_checkpoints, or run fewer trials"
    )


def write_table(path: Path = COUNTS_FILE) -> dict[str, list[int]]:
    """Count every network of ``TABLE_MODELS`` with the builder and write the table."""
    table = {model_key(m): list(_build_counts(json.dumps(m, sort_keys=True))) for m in TABLE_MODELS}
    path.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")
    return table


if __name__ == "__main__":
    write_table()
