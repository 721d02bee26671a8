"""torch.compile of the segmentor (inductor on CPU) matches eager on a tiny model."""

from __future__ import annotations

import pytest
import torch

from trainer.models import DAFormerHead, MixVisionTransformer, Segmentor, SegmentorSpec

torch.set_num_threads(1)


@pytest.mark.slow
def test_compiled_forward_and_backward_match_eager() -> None:
    """About 90 s on 2 CPU cores, almost all of it inductor's compilation: hence ``slow``."""
    torch.manual_seed(0)
    encoder = MixVisionTransformer(embed_dims=(8, 16, 24, 32), num_heads=(1, 2, 3, 4), depths=(1, 1, 1, 1))
    head = DAFormerHead(encoder.embed_dims, 3, channels=8)
    model = Segmentor(encoder, head, SegmentorSpec("custom", "daformer", 3, 8))
    model.eval()
    x = torch.randn(1, 3, 32, 32)
    compiled = torch.compile(model)
    with torch.no_grad():
        assert torch.allclose(compiled(x), model(x), atol=1e-4)
    model.train()
    compiled(x).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
