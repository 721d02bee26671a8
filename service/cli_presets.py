"""``ablate presets`` (list them, with the paper table each reproduces and its trial count) and
``ablate presets NAME`` (one preset: its rows, seeds, sweeps and the spec to copy and edit)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import yaml


def add_presets(subparsers: Any) -> None:
    parser = subparsers.add_parser("presets", help="list the presets (paper tables), or show one")
    parser.add_argument("name", nargs="?", help="a preset to show in full")
    parser.add_argument("--spec", action="store_true", help="with NAME: print only its spec as YAML (to edit "
                        "and submit with `ablate submit FILE`)")
    parser.set_defaults(func=_presets)


def _presets(args: argparse.Namespace) -> int:
    from service.client import ApiClient

    client = ApiClient()
    try:
        if args.name is None:
            sys.stdout.write(list_text(client.presets()))
        else:
            preset = client.preset(args.name)
            sys.stdout.write(spec_yaml(preset) if args.spec else show_text(preset))
    finally:
        client.close()
    return 0


def list_text(presets: list[dict[str, Any]]) -> str:
    """One line per preset: name, trials, the table it reproduces."""
    width = max((len(p["name"]) for p in presets), default=4)
    lines = [f"{'NAME':<{width}}  {'TRIALS':>6}  TABLE"]
    lines += [f"{p['name']:<{width}}  {p['trial_count']:>6}  {p['title']}" for p in presets]
    return "\n".join(lines) + "\n"


def show_text(preset: dict[str, Any]) -> str:
    """The preset as a reader wants it: title, description, trials, then its rows and factors."""
    spec = preset["spec"]
    published = spec.get("published") or {}
    lines = [
        f"{preset['name']}: {preset['title']}",
        f"  {preset['description']}",
        f"  trials: {preset['trial_count']}   seeds: {', '.join(str(s) for s in spec.get('seeds', []))}"
        f"   baseline: {spec.get('baseline') or '-'}",
        "  rows (variants):",
    ]
    for variant in spec.get("variants", []):
        overrides = ", ".join(f"{k}={v}" for k, v in _flat(variant.get("overrides") or {}))
        paper = f"  [paper {published[variant['name']]}]" if variant["name"] in published else ""
        lines.append(f"    {variant['name']:<24} {overrides or '(the base)'}{paper}")
    for sweep in spec.get("sweeps") or []:
        lines.append(f"  sweep {sweep['key']}: {', '.join(str(v) for v in sweep['values'])}")
    lines.append(f"  the full spec: ablate presets {preset['name']} --spec > my_grid.yaml")
    return "\n".join(lines) + "\n"


def spec_yaml(preset: dict[str, Any]) -> str:
    """The preset's spec as a YAML file that ``ablate submit FILE`` accepts as it is."""
    return str(yaml.safe_dump(preset["spec"], sort_keys=False))


def _flat(data: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    items: list[tuple[str, Any]] = []
    for key, value in data.items():
        if isinstance(value, dict):
            items += _flat(value, f"{prefix}{key}.")
        else:
            items.append((f"{prefix}{key}", value))
    return items
