"""DAFormer's self-training: EMA teacher, pseudo-labels, ClassMix, strong augmentation, FD.

Spec: /work/shared/spec/daformer.md, "Self-training" and "Thing-Class ImageNet Feature Distance".
The pure functions live one concern per file; ``UDAStep`` (step.py) composes them.
"""

from trainer.uda.step import TrainingDiverged, UDAStep

__all__ = ["TrainingDiverged", "UDAStep"]
