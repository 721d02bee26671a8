"""The DAFormer trainer: model, data, UDA self-training and evaluation, in PyTorch alone.

It runs on its own (`python -m trainer train --config run.yaml`) on a CPU or a GPU machine that
has nothing but PyTorch; it never imports Ray, MLflow, HTTP or database code. Progress leaves the
loop through the narrow `trainer.engine.Reporter` interface.
"""
