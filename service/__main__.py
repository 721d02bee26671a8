"""``python -m service ...`` is the ``ablate`` command (for environments without the entry point)."""

from service.cli import main

main()
