"""The dispatcher: claims queued experiments and runs their trials on Ray Tune (ARCHITECTURE).

`loop.Dispatcher` claims experiments (and reclaims those whose dispatcher stopped heartbeating),
`experiment_run.run_claimed_experiment` prepares one (deduplication, MLflow runs) and runs it
through `ablations.execution`, and `sink.DatabaseTrialSink` keeps the database's trial rows true
from Tune's events. `tracking_sync` replays an experiment into MLflow from the database (the
outbox, `tracking_state`) whenever MLflow was unreachable, and `watchdog` ends a runner whose
dispatcher or lease is gone.
"""
