"""Disk use of an experiment's storage path: resume checkpoints kept per trial, temporary files.

Runs N trials of the real trainer (MiT-B0 with a narrow head on a tiny synthetic benchmark,
as the execution tests do) as one Tune experiment on a local Ray, checkpointing every
``--checkpoint-interval`` iterations with ``run.keep_checkpoints = --keep``, then lists what the
storage path holds: ``iter_*.pt`` per trial, ``*.tmp`` files, total bytes, and the estimate of
`ablations.disk`. Point PYTHONPATH at another checkout to measure its code the same way.

    .venv/bin/python bench/bench_disk.py --trials 3 --iterations 12 --checkpoint-interval 2
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "execution"))

from execution_helpers import tiny_spec  # noqa: E402

from ablations.execution.payload import TrialPayload  # noqa: E402
from ablations.execution.ray_runtime import connect  # noqa: E402
from ablations.execution.runner import ExperimentRun, TrialResources, run_experiment  # noqa: E402
from ablations.expand import expand  # noqa: E402
from ablations.spec import AblationSpec  # noqa: E402


class _NoSink:
    def __getattr__(self, name: str) -> Any:
        return lambda *args: None


def _bench_data(root: Path) -> Path:
    from trainer.data.prepare import prepare
    from trainer.data.synthetic.writer import write_dataset

    if not (root / "gta" / "sample_class_stats.json").is_file():
        write_dataset(root, (12, 8, 3), (64, 128), seed=0)
        prepare("gta", root / "gta", workers=1)
        prepare("cityscapes", root / "cityscapes", workers=1)
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=12)
    parser.add_argument("--checkpoint-interval", type=int, default=2)
    parser.add_argument("--keep", type=int, default=1)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-disk-"))
    spec = tiny_spec(_bench_data(work / "data"), name="disk", iterations=args.iterations,
                     variants=[{"name": "full"}], seeds=tuple(range(args.trials)))
    spec["base"]["run"].update(checkpoint_interval=args.checkpoint_interval, keep_checkpoints=args.keep,
                               eval_interval=args.iterations)
    plans = expand(AblationSpec.model_validate(spec))
    connect(num_cpus=os.cpu_count() or 2)
    run = ExperimentRun(name="disk", payloads=[TrialPayload(i + 1, p.name, p.config) for i, p in enumerate(plans)],
                        resources=TrialResources(1, 0), storage_path=str(work / "tune"))
    run_experiment(run, _NoSink(), lambda: (set(), False))  # type: ignore[arg-type]
    trial_dirs = sorted(p for p in run.path.iterdir() if p.is_dir() and p.name.startswith("run_trial"))
    per_trial = [len(list(t.rglob("iter_*.pt"))) for t in trial_dirs]
    tmp = [p for p in run.path.rglob("*.tmp")]
    total = sum(p.stat().st_size for p in run.path.rglob("*") if p.is_file())
    sizes = sorted({p.stat().st_size for p in run.path.rglob("iter_*.pt")})
    print(f"trials {len(trial_dirs)}, checkpoints written per trial {args.iterations // args.checkpoint_interval}, "
          f"keep {args.keep}")
    print(f"iter_*.pt kept per trial: {per_trial} (one is {sizes[-1] / 1e6:.1f} MB)")
    print(f"*.tmp files: {len(tmp)} {[p.name for p in tmp]}")
    print(f"storage path total: {total / 1e6:.1f} MB")
    try:
        from ablations.disk import peak_bytes

        print(f"estimated peak (ablations.disk): {peak_bytes(p.config for p in plans) / 1e6:.1f} MB")  # type: ignore[operator]
    except ImportError:
        print("estimated peak: (this checkout has no ablations.disk)")


if __name__ == "__main__":
    main()
