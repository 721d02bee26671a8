"""Orchestration overhead: N short trials through the service vs the same trainable in plain Ray Tune.

Both sides run the same Tune function trainable (`ablations.execution.trainable.run_trial`:
the real DAFormer trainer, MiT-B0 with a narrow head on a tiny synthetic benchmark) on the same
local Ray, in one process, alternating order to share warm caches fairly:
- "service": an experiment stored in a SQLite database as POST /experiments stores it, claimed as
  a dispatcher claims it, run by `run_claimed_experiment` (database sink, cancel stopper, MLflow
  run creation against a real local MLflow server, dedup check, final tables to MLflow);
- "plain Tune": `tune.Tuner` over the same payloads with no callbacks, stopper or MLflow.

    .venv/bin/python bench/bench_orchestration.py --trials 4 --iterations 20 --repeats 2
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "execution"))

from execution_helpers import claim, submit, tiny_spec  # noqa: E402

from ablations.execution.payload import PAYLOAD_KEY, TrialPayload  # noqa: E402
from ablations.execution.ray_runtime import connect  # noqa: E402
from ablations.expand import expand  # noqa: E402
from ablations.spec import AblationSpec  # noqa: E402
from ablations.tracking import start_mlflow_server  # noqa: E402
from service.db.migrate import upgrade_head  # noqa: E402
from service.dispatcher.experiment_run import publish_results, resolve_paths, run_claimed_experiment  # noqa: E402
from service.settings import Settings  # noqa: E402


def _spec(bench: Path, trials: int, iterations: int, tag: str) -> dict:
    spec = tiny_spec(bench, name=f"overhead-{tag}", iterations=iterations,
                     variants=[{"name": "full"}], seeds=tuple(range(trials)))
    spec["base"]["run"].update(eval_interval=iterations, checkpoint_interval=iterations)
    return spec


def run_service(root: Path, bench: Path, mlflow_url: str, trials: int, iterations: int, tag: str) -> float:
    url = f"sqlite:///{root / f'service-{tag}.db'}"
    upgrade_head(url)
    settings = Settings(database_url=url, mlflow_tracking_uri=mlflow_url, storage_path=str(root / "tune"))
    experiment_id = submit(settings, _spec(bench, trials, iterations, tag), reuse_results=False)
    started = time.perf_counter()
    claim(settings, experiment_id)
    status = run_claimed_experiment(settings, experiment_id, f"bench-{tag}")
    elapsed = time.perf_counter() - started
    assert status.value == "succeeded", status
    published = time.perf_counter()
    publish_results(settings, experiment_id)
    print(f"  (then tables and figures to MLflow: {time.perf_counter() - published:.1f} s)")
    return elapsed


def run_plain(root: Path, bench: Path, trials: int, iterations: int, tag: str) -> float:
    from ray import tune

    from ablations.execution.trainable import run_trial

    plans = expand(AblationSpec.model_validate(_spec(bench, trials, iterations, tag)))
    payloads = [TrialPayload(trial_id=i, name=p.name, train_config=resolve_paths(p.config, Path.cwd())).to_dict()
                for i, p in enumerate(plans)]
    started = time.perf_counter()
    tuner = tune.Tuner(tune.with_resources(run_trial, {"cpu": 1}),
                       param_space={PAYLOAD_KEY: tune.grid_search(payloads)},
                       tune_config=tune.TuneConfig(reuse_actors=True),
                       run_config=tune.RunConfig(name=f"plain-{tag}", storage_path=str(root / "tune"), verbose=0))
    results = tuner.fit()
    elapsed = time.perf_counter() - started
    assert not results.errors, results.errors
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    from trainer.data.prepare import prepare
    from trainer.data.synthetic.writer import write_dataset

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        write_dataset(root / "bench", (12, 8, 3), (64, 128), seed=0)
        prepare("gta", root / "bench" / "gta", workers=1)
        prepare("cityscapes", root / "bench" / "cityscapes", workers=1)
        connect(num_cpus=os.cpu_count() or 2)
        service, plain = [], []
        with start_mlflow_server(f"sqlite:///{root / 'mlflow.db'}", root / "mlartifacts") as server:
            for r in range(args.repeats):
                order = [("service", service), ("plain", plain)]
                for name, times in order if r % 2 == 0 else reversed(order):
                    tag = f"{name}-{r}"
                    if name == "service":
                        times.append(run_service(root, root / "bench", server.url, args.trials, args.iterations, tag))
                    else:
                        times.append(run_plain(root, root / "bench", args.trials, args.iterations, tag))
                    print(f"{tag}: {times[-1]:.1f} s", flush=True)
        s, p = statistics.median(service), statistics.median(plain)
        print(f"\n{args.trials} trials x {args.iterations} iterations, {args.repeats} repeats (median):")
        print(f"  through the service: {s:.1f} s   plain Ray Tune: {p:.1f} s   ratio {s / p:.3f}x")


if __name__ == "__main__":
    main()
