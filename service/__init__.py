"""The control plane: settings, database, REST API, dispatcher and the ``ablate`` command line.

Imports go one way (service -> ablations -> trainer); nothing here imports torch, so the API
runs in a slim image. Entry points: ``ablate`` (``service.cli``) and ``create_app(settings)``.
"""
