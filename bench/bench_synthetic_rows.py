"""A synthetic preset's rows trained directly with the trainer, with FD's and the teacher's diagnostics.

The service's table (``make demo ARGS="--preset synthetic_strategies --exit"``) gives mIoU, deltas and
Welch p; this adds what explains them, read from each run's ``metrics.jsonl``: how often FD's thing mask
was empty (``fd_mask_empty``, L_FD exactly 0), the share of stride-32 cells it kept (``fd_mask_share``),
and the teacher's pseudo-label confidence share (``pseudo_confidence``) early and late. Trials run as
``python -m trainer train`` subprocesses (``--jobs`` at a time, one thread each); a finished trial
(``summary.json`` present) is reused, so an interrupted measurement resumes.

    .venv/bin/python bench/bench_synthetic_rows.py --preset synthetic_strategies --jobs 2
    .venv/bin/python bench/bench_synthetic_rows.py --preset quickstart --variants dacs daformer --seeds 0
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from statistics import fmean
from typing import Any

import yaml

from ablations.expand import expand
from ablations.presets import PresetOverrides, load_preset
from ablations.results.stats import mean_std, welch_p_value
from trainer.engine import read_metrics


def _run(config: dict[str, Any], out: Path) -> Path:
    if (out / "summary.json").is_file():
        return out
    out.mkdir(parents=True, exist_ok=True)
    config["run"] = {**config["run"], "output_dir": str(out), "device": "cpu"}
    (out / "config.yaml").write_text(yaml.safe_dump(config))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with (out / "train.log").open("w") as log:
        cmd = [sys.executable, "-m", "trainer", "train", "--config", str(out / "config.yaml"), "--no-progress"]
        subprocess.run(cmd, check=True, env=env, stdout=log, stderr=subprocess.STDOUT)
    return out


def _diagnostics(run_dir: Path) -> dict[str, float]:
    records = read_metrics(run_dir / "metrics.jsonl")
    train = [r for r in records if r["kind"] == "train"]
    evals = [r for r in records if r["kind"] == "eval"]
    out = {"miou": float(evals[-1]["miou"])}  # percent (EvalResult)
    for key in ("fd_mask_empty", "fd_mask_share"):
        values = [r["losses"][key] for r in train if key in r["losses"]]
        if values:
            out[key] = fmean(values)
    for r in train:
        if "pseudo_confidence" in r["losses"] and r["step"] in (50, 100, train[-1]["step"]):
            out[f"pl@{r['step']}"] = r["losses"]["pseudo_confidence"]
    return out


def _p(value: float | None) -> str:
    return "—" if value is None else ("< 0.001" if value < 0.001 else f"{value:.3f}")


def _cell(values: list[float], digits: int = 2) -> str:
    return f"{fmean(values):.{digits}f}" if values else "—"


def table(rows: dict[str, list[dict[str, float]]], baseline: str) -> str:
    base = [d["miou"] for d in rows.get(baseline, [])]
    lines = [
        "| row | mIoU (mean ± std, n) | Δ vs " + baseline + " | Welch p | FD mask empty | FD cells kept "
        "| PL confidence @50 / @100 / final |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, runs in rows.items():
        mious = [d["miou"] for d in runs]
        stats = mean_std(mious)
        std = "" if stats.std is None else f" ± {stats.std:.1f}"
        p = welch_p_value(mious, base) if name != baseline else None
        delta = "baseline" if name == baseline else (f"{fmean(mious) - fmean(base):+.1f}" if base else "—")
        last = [v for d in runs for k, v in d.items() if k.startswith("pl@") and k not in ("pl@50", "pl@100")]
        pl = " / ".join(
            [
                _cell([d["pl@50"] for d in runs if "pl@50" in d]),
                _cell([d["pl@100"] for d in runs if "pl@100" in d]),
                _cell(last),
            ]
        )
        lines.append(
            f"| {name} | {fmean(mious):.1f}{std} (n={stats.n}) | {delta} | {_p(p)} "
            f"| {_cell([d['fd_mask_empty'] for d in runs if 'fd_mask_empty' in d])} "
            f"| {_cell([d['fd_mask_share'] for d in runs if 'fd_mask_share' in d], 3)} | {pl} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="synthetic_strategies")
    parser.add_argument("--variants", nargs="*", help="rows to run (default: all)")
    parser.add_argument("--seeds", nargs="*", type=int, help="seeds to run (default: the preset's)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--iterations", type=int, help="smoke runs only: breaks the presets' scaling rules")
    parser.add_argument("--out", type=Path, default=Path("runs/bench_synthetic_rows"))
    args = parser.parse_args(argv)
    spec = load_preset(args.preset, PresetOverrides(iterations=args.iterations) if args.iterations else None)
    plans = [
        p
        for p in expand(spec)
        if (not args.variants or p.variant in args.variants) and (args.seeds is None or p.seed in args.seeds)
    ]
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        dirs = list(pool.map(lambda p: _run(dict(p.config), args.out / args.preset / f"{p.variant}_s{p.seed}"), plans))
    rows: dict[str, list[dict[str, float]]] = {}
    for plan, run_dir in zip(plans, dirs, strict=True):
        rows.setdefault(plan.variant, []).append(_diagnostics(run_dir))
    print(table(rows, spec.baseline or next(iter(rows))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
