"""The OpenAPI examples name presets that exist, with their real title and trial count."""

from __future__ import annotations

from ablations.presets import list_presets
from service.api import examples as ex
from service.presets.schemas import PresetSummary


def test_example_presets_exist() -> None:
    presets = {p.name: p for p in list_presets()}
    assert ex.PRESET_BODY["preset"] in presets
    summary = PresetSummary.model_validate(ex.PRESET_SUMMARY)
    assert summary.name in presets
    assert (summary.title, summary.trial_count) == (presets[summary.name].title, presets[summary.name].n_trials)
