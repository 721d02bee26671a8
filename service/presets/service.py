"""Reading presets through `ablations.presets`, with unknown names as 404s."""

from __future__ import annotations

from ablations.presets import PresetOverrides, list_presets, load_preset
from ablations.spec import AblationSpec, SpecError
from service.errors import NotFoundError
from service.presets.schemas import PresetRead, PresetSummary


def load_spec(name: str, overrides: PresetOverrides | None = None) -> AblationSpec:
    """The preset as a spec; `NotFoundError` for an unknown name, `SpecError` for bad overrides."""
    try:
        return load_preset(name, overrides)
    except SpecError as exc:
        if exc.loc == ("preset",):
            raise NotFoundError(exc.message) from None
        raise


def summaries() -> list[PresetSummary]:
    return [
        PresetSummary(
            name=p.name, title=p.title, table=p.table, description=p.description, trial_count=p.n_trials
        )
        for p in list_presets()
    ]


def read(name: str) -> PresetRead:
    info = {p.name: p for p in list_presets()}.get(name)
    if info is None:
        raise NotFoundError(
            f"unknown preset {name!r}; known presets: {', '.join(p.name for p in list_presets())}"
        )
    spec = load_spec(name)
    return PresetRead(
        name=name,
        title=info.title,
        table=info.table,
        description=info.description,
        trial_count=info.n_trials,
        spec=spec.model_dump(mode="json"),
    )
