"""FD's logged mask diagnostics (``fd_mask_share``, ``fd_mask_empty``) against hand-computed cells."""

import pytest
import torch

from trainer.uda.feature_distance import fd_mask_stats, feature_distance_loss

# 4x4 label, cells of 2x2: {0,0,0,1} -> 0 (share 0.75); {1,1,2,2} -> tie -> 255; {255x3,0} -> 255; {2x4} -> 2
LABEL = torch.tensor([[[0, 0, 1, 1], [0, 1, 2, 2], [255, 255, 2, 2], [255, 0, 2, 2]]])


def test_share_of_masked_cells_and_empty_flag() -> None:
    share, empty = fd_mask_stats(LABEL, (2, 2), 3, [0, 2], 0.75)
    assert share.item() == pytest.approx(0.5) and empty.item() == 0.0  # cells 0 and 2 of 4
    share, empty = fd_mask_stats(LABEL, (2, 2), 3, [2], 0.75)
    assert share.item() == pytest.approx(0.25) and empty.item() == 0.0
    share, empty = fd_mask_stats(LABEL, (2, 2), 3, [1], 0.75)
    assert share.item() == 0.0 and empty.item() == 1.0


def test_empty_flag_is_exactly_when_the_loss_is_zero() -> None:
    student = torch.ones(1, 2, 2, 2)
    frozen = torch.zeros_like(student)  # every cell at distance sqrt(2)
    for classes in ([0, 2], [1]):
        _, empty = fd_mask_stats(LABEL, (2, 2), 3, classes, 0.75)
        loss = feature_distance_loss(student, frozen, LABEL, 3, classes, 0.75)
        assert (loss.item() == 0.0) == (empty.item() == 1.0)


def test_a_batch_is_empty_only_when_every_image_is() -> None:
    batch = torch.stack([LABEL[0], torch.full((4, 4), 1)])  # image 2: all class 1
    share, empty = fd_mask_stats(batch, (2, 2), 3, [2], 0.75)
    assert share.item() == pytest.approx(1 / 8) and empty.item() == 0.0


def test_the_uda_step_logs_the_mask_diagnostics_with_fd() -> None:
    from trainer.config import load_config
    from trainer.models import build_segmentor_from_config
    from trainer.uda.step import UDAStep

    torch.manual_seed(0)
    cfg = load_config(
        None,
        [
            "model.encoder=mit_b0",
            "model.decoder_channels=32",
            "run.device=cpu",
            "optim.warmup_iters=1",
            "run.iterations=2",
        ],
    )
    step = UDAStep(cfg, build_segmentor_from_config(cfg.model), torch.device("cpu"))
    label = torch.zeros(2, 64, 64, dtype=torch.long)  # road; 2x2 stride-32 cells per image
    label[0, :32, :32] = 13  # one car cell of the batch's 8
    losses = step(0, {"img": torch.randn(2, 3, 64, 64), "label": label}, {"img": torch.randn(2, 3, 64, 64)})
    assert losses["fd_mask_share"].item() == pytest.approx(1 / 8) and losses["fd_mask_empty"].item() == 0.0
    losses = step(
        1, {"img": torch.randn(2, 3, 64, 64), "label": torch.zeros_like(label)}, {"img": torch.randn(2, 3, 64, 64)}
    )
    assert losses["fd_mask_empty"].item() == 1.0 and losses["fd"].item() == 0.0


def test_the_hrda_step_logs_the_context_fd_diagnostics() -> None:
    """HRDA's FD runs on the context features (the crop at half size, stride 32): 128 crops give 2x2
    context cells per image; a car filling one 64x64 quadrant of one image is 1 kept cell of 8."""
    from trainer.config import load_config
    from trainer.models.network import build_network_from_config
    from trainer.uda.step import UDAStep

    torch.manual_seed(0)
    cfg = load_config(
        None,
        [
            "model.encoder=mit_b0",
            "model.decoder_channels=32",
            "model.hrda.enabled=true",
            "model.hrda.hr_crop_size=[64,64]",
            "data.crop_size=[128,128]",
            "uda.pseudo_label.crop_top=0",
            "uda.pseudo_label.crop_bottom=0",
            "run.device=cpu",
            "optim.warmup_iters=1",
            "run.iterations=2",
        ],
    )
    step = UDAStep(cfg, build_network_from_config(cfg.model), torch.device("cpu"))
    label = torch.zeros(2, 128, 128, dtype=torch.long)
    label[0, :64, :64] = 13
    losses = step(0, {"img": torch.randn(2, 3, 128, 128), "label": label}, {"img": torch.randn(2, 3, 128, 128)})
    assert losses["fd_mask_share"].item() == pytest.approx(1 / 8) and losses["fd_mask_empty"].item() == 0.0
