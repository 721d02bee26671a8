"""Pretraining of the demo's encoder on the ImageNet stand-in (a procedural classification set).

``standin`` draws the set, ``classifier`` is SegFormer's ImageNet classifier around our MiT and
its ``mit_b*.pth`` export, ``train`` the recipe; ``python -m trainer.pretrain OUT`` is the CLI.
"""
