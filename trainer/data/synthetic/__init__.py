"""The synthetic GTA5 -> Cityscapes benchmark: small, fast, deterministic, with a real domain gap.

Scenes share one road layout model (``scene.py``, over ``camera.py``) with per-domain camera
heights and class mixes; each domain paints them in its own style (``styles.py``); ``writer.py``
stores them in the real datasets' layouts; ``python -m trainer.data.synthetic`` is the CLI.
"""

from trainer.data.synthetic.writer import write_dataset

__all__ = ["write_dataset"]
