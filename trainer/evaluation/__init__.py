"""Target-domain evaluation: confusion matrix, per-class IoU and mIoU (mmseg semantics)."""

from trainer.evaluation.evaluate import EvalResult, class_names, evaluate_segmentor, predict, summarise
from trainer.evaluation.metrics import confusion_matrix, iou_per_class, mean_iou

__all__ = [
    "EvalResult",
    "class_names",
    "confusion_matrix",
    "evaluate_segmentor",
    "iou_per_class",
    "mean_iou",
    "predict",
    "summarise",
]
