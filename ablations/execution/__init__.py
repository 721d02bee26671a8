"""Running resolved trials as Ray Tune trials of the DAFormer trainer (ARCHITECTURE: execution).

`runner.run_trials` builds (or restores) one Tune experiment per service experiment; the
trainable in `trainable.py` is a thin adapter from a trial payload to `trainer.engine.train`.
Nothing here knows the database: the service passes in a `TrialEventSink` (driver side) and a
cancel poll, so this package stays usable as a library.
"""
