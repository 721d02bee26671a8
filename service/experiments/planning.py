"""From a request body to the list of trials: preset resolution, expansion and its limits.

Every refusal names the field it is about (``body.seeds``, ``body.variants.2.overrides``), so a
client can point at the line of its YAML that is wrong.
"""

from __future__ import annotations

from typing import Any

from ablations.disk import peak_bytes, storage_shortfall
from ablations.expand import TrialPlan, expand
from ablations.presets import PresetOverrides
from ablations.spec import AblationSpec, SpecError
from service.errors import FieldProblem, InvalidRequestError, NotFoundError
from service.experiments.schemas import PresetRequest
from service.presets.service import load_spec


def resolve_spec(body: AblationSpec | PresetRequest) -> AblationSpec:
    """The ablation spec a request asks for: the body itself, or a preset with its overrides."""
    if isinstance(body, AblationSpec):
        return body
    overrides = PresetOverrides.model_validate(body.model_dump(exclude={"preset", "name"}))
    try:
        spec = load_spec(body.preset, overrides)
    except NotFoundError as exc:
        raise InvalidRequestError(
            exc.message, [FieldProblem(path="body.preset", message=exc.message)]
        ) from None
    except SpecError as exc:
        raise InvalidRequestError(
            exc.message, [FieldProblem(path=_path("body", exc.loc[1:]), message=exc.message)]
        ) from None
    if body.name is None:
        return spec
    return AblationSpec.model_validate({**spec.model_dump(mode="json"), "name": body.name})


def plan(spec: AblationSpec, max_trials: int) -> list[TrialPlan]:
    """Expand the grid; refuse grids above the server's ``max_trials`` and cells that do not resolve."""
    if spec.n_trials > max_trials:
        raise InvalidRequestError(
            f"the grid has {spec.n_trials} trials; this server accepts at most {max_trials} "
            "(fewer variants, sweep values or seeds, or raise ABLATE_MAX_TRIALS)",
            [FieldProblem(path="body", message=f"{spec.n_trials} trials > max_trials {max_trials}")],
        )
    try:
        return expand(spec, max_trials=max_trials)
    except SpecError as exc:
        path = _path("body", exc.loc)
        raise InvalidRequestError(
            f"the grid does not expand to valid configs: {exc}",
            [FieldProblem(path=path, message=exc.message)],
        ) from None


def _path(prefix: str, loc: Any) -> str:
    return ".".join([prefix, *(str(p) for p in loc)])


def disk_estimate(plans: list[TrialPlan], storage_path: str) -> int | None:
    """The grid's peak checkpoint bytes; refuses the grid when the storage path cannot hold them.

    Checked here only when the storage path (or a parent) exists on this machine and every
    network's parameter count is in `ablations.disk`'s table (the API never imports torch); the
    dispatcher estimates what is missing and checks again where it runs, before Tune starts
    (`service.dispatcher.preflight`).
    """
    estimate = peak_bytes((p.config for p in plans), build=False)
    problem = storage_shortfall(storage_path, estimate)
    if problem:
        raise InvalidRequestError(problem, [FieldProblem(path="body", message=problem)])
    return estimate
