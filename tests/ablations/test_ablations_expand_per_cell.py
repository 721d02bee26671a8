"""Expansion validates each cell once and varies only the seed within it: every plan must still be
exactly what resolving that trial on its own gives (config JSON and hash), inf values included."""

from __future__ import annotations

from ablations.expand import config_hash, config_json, expand
from ablations.spec import SEED_PATH, AblationSpec, override_items, resolve_config


def test_every_plan_is_what_resolving_the_trial_alone_gives() -> None:
    spec = AblationSpec.model_validate({
        "name": "per-cell",
        "base": {"run": {"iterations": 100}},
        "variants": [{"name": "a"}, {"name": "b", "overrides": {"uda.pseudo_label.threshold": 0.9}}],
        "sweeps": [{"key": "uda.rcs.temperature", "values": [0.01, "inf"]}],
        "seeds": [3, 0, 7],
    })
    plans = expand(spec)
    assert len(plans) == 12 and len({p.config_hash for p in plans}) == 12
    index = 0
    for variant in spec.variants:
        for cell in spec.sweep_cells():
            for seed in spec.seeds:
                layers = [override_items(spec.base), override_items(variant.overrides),
                          [(s.path, v) for s, v in cell], [(SEED_PATH, seed)]]
                alone = resolve_config(layers)
                plan = plans[index]
                assert (plan.variant, plan.seed) == (variant.name, seed)
                assert plan.config == config_json(alone) and plan.config_hash == config_hash(alone)
                index += 1
    first, second = plans[0].config, plans[1].config
    assert first["run"]["seed"] == 3 and second["run"]["seed"] == 0
    assert first["model"] is not second["model"]  # plans share no dicts
