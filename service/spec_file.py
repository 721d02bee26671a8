"""Reading the spec file of `ablate submit FILE`: a bare spec, or a preset file that wraps one.

Two formats are accepted, so a researcher can copy a preset and edit it:
- a spec: ``name``, ``variants``, ``seeds``, ... at the top level (see the README's example);
- a preset file (``ablations/presets/*.yaml``): ``title``, ``description`` and ``spec``, with
  optional ``benchmarks`` that each add base overrides and published figures. The experiment is
  named after the file (or ``--name``); a file with several benchmarks needs ``--benchmark``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ablations.presets import nest
from ablations.spec import override_items


class SpecFileError(ValueError):
    """The file cannot be read as a spec; the message names the file and what was expected."""


def read_spec_file(path: Path, benchmark: str | None = None) -> dict[str, Any]:
    """The POST body for the spec in ``path`` (either format; see the module docstring)."""
    if not path.is_file():
        raise SpecFileError(f"spec file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise SpecFileError(f"spec file {path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise SpecFileError(f"spec file {path}: expected a mapping (name, variants, seeds, ...) at the top level")
    if "spec" not in data:
        if benchmark is not None:
            raise SpecFileError(f"spec file {path}: --benchmark applies to preset files (with 'spec:'), not specs")
        return data
    return _unwrap(path, data, benchmark)


def _unwrap(path: Path, data: dict[str, Any], benchmark: str | None) -> dict[str, Any]:
    spec = data["spec"]
    if not isinstance(spec, dict):
        raise SpecFileError(f"spec file {path}: 'spec' must be a mapping (variants, seeds, ...)")
    body = dict(spec)
    body.setdefault("name", path.stem)
    description = str(data.get("description", "")).strip()
    benchmarks = data.get("benchmarks") or {}
    if not isinstance(benchmarks, dict):
        raise SpecFileError(f"spec file {path}: 'benchmarks' must be a mapping of name -> overrides")
    if benchmarks:
        if benchmark is None:
            raise SpecFileError(
                f"spec file {path} holds several benchmarks ({', '.join(benchmarks)}): choose one with --benchmark"
            )
        if benchmark not in benchmarks:
            raise SpecFileError(f"spec file {path}: unknown benchmark {benchmark!r}; expected one of "
                                f"{', '.join(benchmarks)}")
        bench = benchmarks[benchmark] or {}
        body["base"] = nest(override_items(spec.get("base", {})) + override_items(bench.get("base", {})))
        if bench.get("published") is not None:
            body["published"] = bench["published"]
        body["name"] = f"{body['name']}_{benchmark}"
        description = f"{description} ({bench.get('title', benchmark)})"
    elif benchmark is not None:
        raise SpecFileError(f"spec file {path} has no benchmarks; drop --benchmark")
    if description and "description" not in spec:
        body["description"] = description
    return body
