"""How long the result tables take for a large experiment: 1,000 trials, every kind and format.

1,000 trials = 48 variants x 7 sweep values x 3 seeds (1,008), each with a 10-point per-class
curve. Each (kind, format) is rendered from the records as the API does (grouping, statistics
and Welch tests included) and the fastest of ``--repeats`` runs is printed, with the total.
Run: ``.venv/bin/python bench/bench_tables.py`` (CPU only; one thread is plenty).
"""

from __future__ import annotations

import argparse
import random
import time

from ablations.results import TABLE_FORMATS, TABLE_KINDS, ExperimentInfo, TrialRecord, render_table
from ablations.results.records import CurvePoint
from trainer.config import CITYSCAPES_CLASSES


def make_records(variants: int, sweeps: int, seeds: int, evals: int, rng: random.Random) -> list[TrialRecord]:
    """Synthetic trials with plausible IoUs; the first variant is the baseline, some trials still run."""
    records = []
    for v in range(variants):
        for t in range(sweeps):
            for seed in range(seeds):
                base = rng.uniform(40.0, 70.0)
                curve = []
                for e in range(1, evals + 1):
                    values = {
                        c: min(100.0, max(0.0, base * e / evals + rng.gauss(0, 5)))
                        for c in CITYSCAPES_CLASSES
                    }
                    curve.append(CurvePoint(4000 * e, values, sum(values.values()) / len(values)))
                running = rng.random() < 0.05
                records.append(
                    TrialRecord(
                        trial_id=len(records) + 1,
                        name=f"v{v}-t{t}-s{seed}",
                        variant="baseline" if v == 0 else f"variant_{v}",
                        sweep={"uda.rcs.temperature": 0.01 * (t + 1)},
                        seed=seed,
                        status="running" if running else "succeeded",
                        final_miou=None if running else curve[-1].miou,
                        final_per_class=None if running else curve[-1].per_class,
                        best_miou=None if running else max(p.miou for p in curve),
                        best_step=None if running else max(curve, key=lambda p: p.miou).step,
                        final_step=None if running else curve[-1].step,
                        curve=curve[: evals // 2] if running else curve,
                        total_steps=4000 * evals,
                    )
                )
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    records = make_records(variants=48, sweeps=7, seeds=3, evals=10, rng=random.Random(0))
    info = ExperimentInfo(
        id=1,
        name="bench",
        status="running",
        baseline="baseline (temperature=0.01)",
        seeds_planned=[0, 1, 2],
        published={"baseline (temperature=0.01)": 68.3},
    )
    print(f"{len(records)} trials")
    total = 0.0
    for kind in TABLE_KINDS:
        for fmt in TABLE_FORMATS:
            times = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                render_table(kind, fmt, info, records)
                times.append(time.perf_counter() - start)
            total += min(times)
            print(f"{kind:>12} {fmt:>8}: {1000 * min(times):7.1f} ms")
    print(f"all {len(TABLE_KINDS) * len(TABLE_FORMATS)} renderings: {1000 * total:.1f} ms")


if __name__ == "__main__":
    main()
