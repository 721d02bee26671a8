"""How MLflow's own UI opens an ablation, checked in headless Chromium against a real MLflow server:
model-training mode (not GenAI), the trial runs with variant, seed and final mIoU as columns (best
first), and the chart view starting with val/mIoU and holding no training-loss charts."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from mlflow.entities import Metric

from ablations.results.mlflow_links import EXPERIMENT_KIND_TAG, SHARED_VIEW_TAG_PREFIX, trials_view_url
from ablations.tracking import (
    MlflowServer,
    create_parent_run,
    create_trial_run,
    ensure_experiment,
    make_client,
    start_mlflow_server,
)


@dataclass(frozen=True)
class Trial:
    name: str
    variant: str
    seed: int
    sweep: Mapping[str, Any] = field(default_factory=dict)
    config: Mapping[str, Any] = field(default_factory=lambda: {"run": {"iterations": 200}})
    config_hash: str = "abc"


@pytest.fixture(scope="module")
def populated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[MlflowServer, str]]:
    root = tmp_path_factory.mktemp("mlflow-ui")
    server = start_mlflow_server(f"sqlite:///{root}/mlflow.db", root / "artifacts", log_path=root / "server.log")
    client = make_client(server.url, timeout_s=10)
    experiment_id = ensure_experiment(client, "ablate-1-quickstart")
    parent = create_parent_run(client, experiment_id, "quickstart")
    for variant, final in (("source_only", 14.0), ("dacs", 17.7), ("daformer", 16.9)):
        run_id = create_trial_run(client, experiment_id, parent, Trial(f"{variant}/seed=0", variant, 0),
                                  service_experiment_id="1", revision="test")
        now = int(time.time() * 1000)
        metrics = [Metric("train/src_ce", 2.0 / step, now, step) for step in (100, 200)]
        metrics += [Metric("val/mIoU", final * step / 200, now, step) for step in (100, 200)]
        metrics += [Metric("val/iou/road", 3 * final * step / 200, now, step) for step in (100, 200)]
        metrics += [Metric("final/mIoU", final, now, 200)]
        client.log_batch(run_id, metrics=metrics, synchronous=True)
        client.set_terminated(run_id)
    yield server, experiment_id
    server.stop()


@pytest.mark.slow  # starts an MLflow server (~25 s on a shared 2-core machine)
def test_experiment_is_tagged_for_model_training(populated: tuple[MlflowServer, str]) -> None:
    server, experiment_id = populated
    tags = make_client(server.url).get_experiment(experiment_id).tags
    assert tags[EXPERIMENT_KIND_TAG] == "custom_model_development"
    view = json.loads(tags[SHARED_VIEW_TAG_PREFIX + "trials"])
    assert view["orderByKey"] == "metrics.`final/mIoU`" and "tags.`ablation.variant`" in view["selectedColumns"]


@pytest.mark.browser
@pytest.mark.slow
def test_mlflow_ui_opens_the_trials_view(populated: tuple[MlflowServer, str], chromium_page: tuple[Any, list[str]],
                                         artifacts_dir: Path) -> None:
    server, experiment_id = populated
    page, _errors = chromium_page  # MLflow's own console errors (assistant, telemetry) are not ours
    page.set_viewport_size({"width": 1600, "height": 1000})

    page.goto(trials_view_url(server.url, experiment_id), wait_until="load")
    page.wait_for_selector("text=final/mIoU", timeout=30_000)
    # model training's runs page, not GenAI's overview (a bare experiment URL follows the UI's global
    # GenAI / Model training switch in MLflow 3.17, so the links carry workflowType themselves)
    assert "/runs?" in page.url and "workflowType=machine_learning" in page.url, page.url
    page.screenshot(path=str(artifacts_dir / "mlflow_trials_view.png"))
    headers = page.eval_on_selector_all("[role=columnheader]", "hs => hs.map(h => h.innerText.trim())")
    for column in ("ablation.variant", "ablation.seed", "final/mIoU", "val/mIoU"):
        assert column in headers, headers
    names = page.locator("a", has_text="/seed=0").all_inner_texts()
    assert names[:3] == ["dacs/seed=0", "daformer/seed=0", "source_only/seed=0"]  # best final mIoU first


    page.goto(trials_view_url(server.url, experiment_id, charts=True), wait_until="load")
    page.wait_for_selector("text=val/iou/road", timeout=30_000)
    titles = [t for t in page.locator("text=/^(val|train)\\//").all_inner_texts() if t.count("/") >= 1]
    assert titles and titles[0] == "val/mIoU", titles
    assert not any(t.startswith("train/") for t in titles), titles
    page.screenshot(path=str(artifacts_dir / "mlflow_charts_view.png"))
