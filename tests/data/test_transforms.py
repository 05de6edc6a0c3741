"""Evaluation crops and training augmentation of uint8 frames."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from timecontrast.data.transforms import (
    EVAL_CROPPINGS,
    Augmentation,
    CropBox,
    EvalTransform,
    TrainTransform,
    eval_crop_box,
)
from timecontrast.errors import ConfigError

MEAN, STD = (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)
IDENTITY = ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0))  # normalisation that leaves x / 255


def position_image(height: int, width: int) -> np.ndarray:
    """Every pixel distinct and non-zero: R = 1 + row, G = 1 + column, B = 7."""
    img = np.zeros((height, width, 3), np.uint8)
    img[..., 0] = 1 + np.arange(height)[:, None]
    img[..., 1] = 1 + np.arange(width)[None, :]
    img[..., 2] = 7
    return img


def expected_crop(img: np.ndarray, box: CropBox) -> np.ndarray:
    """The box cut out of a black-padded image: [size, w, 3]."""
    pad = 600
    padded = np.pad(img, ((pad, pad), (pad, pad), (0, 0)))
    return padded[pad + box.top : pad + box.top + box.size, pad + box.left : pad + box.left + box.w]


def test_eval_crop_boxes_follow_the_original_geometry():
    # Pouring frames are 480 high x 360 wide.
    assert eval_crop_box("crop_center", 480, 360) == CropBox(60, 0, 360)
    assert eval_crop_box("pad", 480, 360) == CropBox(0, -60, 480)
    # 200 px of black each side, then the centred 480 square: still 60 px of black each side.
    assert eval_crop_box("pad200", 480, 360) == CropBox(0, -60, 480)
    # A tall narrow frame: pad200 is limited by the padded width, pad by the height.
    assert eval_crop_box("pad200", 500, 50) == CropBox(25, -200, 450)
    assert eval_crop_box("pad", 500, 50) == CropBox(0, -225, 500)
    # pad to 16, keep the central 0.875 of each side (tf.image.central_crop: start 1, size 14).
    assert eval_crop_box("pad_crop_central", 16, 16) == CropBox(1, 1, 14)
    assert eval_crop_box("pad_crop_central", 16, 8) == CropBox(1, -3, 14)


@pytest.mark.parametrize("cropping", EVAL_CROPPINGS)
def test_eval_transform_cuts_exactly_the_box(cropping):
    img = position_image(12, 8)
    box = eval_crop_box(cropping, 12, 8)
    t = EvalTransform(box.size, box.w, cropping, *IDENTITY)  # no resampling at this size
    out = t.uint8(img)  # [1, 3, s, w]
    assert out.shape == (1, 3, box.size, box.w)
    np.testing.assert_array_equal(out[0].permute(1, 2, 0).numpy(), expected_crop(img, box))
    if cropping == "pad":
        assert (out[0, :, :, :2] == 0).all() and (out[0, :, :, 2:10] > 0).all()  # black bars left/right only


def test_eval_transform_resizes_normalises_and_keeps_leading_shape():
    t = EvalTransform(10, 6, "crop_center", MEAN, STD)
    grey = np.full((20, 30, 3), 51, np.uint8)  # 0.2 after scaling
    single = t(grey)
    assert single.shape == (1, 3, 10, 6) and single.dtype == torch.float32
    torch.testing.assert_close(single, torch.full((1, 3, 10, 6), (0.2 - 0.5) / 0.5))
    clips = np.stack([np.stack([grey] * 4)] * 2)  # [2, 4, H, W, 3]
    assert t(clips).shape == (2, 4, 3, 10, 6)
    assert t(torch.from_numpy(np.stack([grey] * 3))).shape == (3, 3, 10, 6)


def test_unknown_eval_cropping_and_bad_frames_are_errors():
    with pytest.raises(ConfigError, match="eval_cropping.*crop_center"):
        EvalTransform(8, 8, "pad300", MEAN, STD)
    with pytest.raises(ValueError, match="uint8"):
        EvalTransform(8, 8, "pad", MEAN, STD)(np.zeros((4, 4, 3), np.float32))


def draws(t: TrainTransform, n: int, height: int = 48, width: int = 64, seed: int = 0) -> list[Augmentation]:
    g = torch.Generator().manual_seed(seed)
    return [t.sample(height, width, g) for _ in range(n)]


@pytest.mark.parametrize("p_out", [0.2, 0.8])
def test_proportion_scaled_up_is_the_probability_of_zooming_out(p_out):
    t = TrainTransform(16, 16, MEAN, STD, minscale=0.5, maxscale=2.0, proportion_scaled_up=p_out, color=False)
    zooms = [a.zoom for a in draws(t, 2000)]
    assert abs(zooms.count("out") / len(zooms) - p_out) < 0.04
    assert set(zooms) == {"in", "out"}


def test_scale_boxes_zoom_in_inside_and_zoom_out_around_the_central_square():
    height, width, side = 48, 64, 48  # central square: rows 0..47, columns 8..55
    t = TrainTransform(16, 16, MEAN, STD, minscale=0.5, maxscale=3.0, proportion_scaled_up=0.5, color=False)
    outer = int(np.sqrt(3.0) * side)
    for a in draws(t, 500, height, width):
        b = a.box
        if a.zoom == "in":  # a square inside the central square, of [0.5, 1] of its area
            assert b.top >= 0 and b.top + b.size <= 48 and b.left >= 8 and b.left + b.size <= 56
            assert 0.5 - 0.05 <= (b.size / side) ** 2 <= 1.0
        else:  # holds the whole central square, inside the padded outer square
            assert b.top <= 0 and b.top + b.size >= 48 and b.left <= 8 and b.left + b.size >= 56
            assert side <= b.size <= outer
            assert b.top >= -((outer - height) // 2) and b.left >= -((outer - width) // 2)
    only_in = TrainTransform(16, 16, MEAN, STD, minscale=0.7, color=False)
    assert {a.zoom for a in draws(only_in, 50)} == {"in"}
    only_out = TrainTransform(16, 16, MEAN, STD, maxscale=2.0, color=False)
    assert {a.zoom for a in draws(only_out, 50)} == {"out"}
    none = TrainTransform(16, 16, MEAN, STD, color=False)
    assert {a.box for a in draws(none, 20)} == {CropBox(0, 8, 48)}


def test_colour_orders_fast_and_full():
    fast = TrainTransform(16, 16, MEAN, STD, fast_mode=True)
    orders = {a.color_order for a in draws(fast, 200)}
    assert orders == {("brightness", "saturation"), ("saturation", "brightness")}
    full = TrainTransform(16, 16, MEAN, STD, fast_mode=False)
    orders = {a.color_order for a in draws(full, 200)}
    assert len(orders) == 4 and all(sorted(o) == ["brightness", "contrast", "hue", "saturation"] for o in orders)
    off = TrainTransform(16, 16, MEAN, STD, color=False)
    assert {a.color_order for a in draws(off, 20)} == {()}
    for a in draws(full, 200):
        assert abs(a.brightness_delta) <= 32 / 255 and 0.5 <= a.saturation_factor <= 1.5
        assert abs(a.hue_delta) <= 0.2 and 0.5 <= a.contrast_factor <= 1.5


def test_brightness_is_additive_and_output_is_clipped_then_normalised():
    t = TrainTransform(8, 8, MEAN, STD)
    grey = np.full((1, 8, 8, 3), 102, np.uint8)  # 0.4
    aug = Augmentation(CropBox(0, 0, 8), "none", ("brightness",), 0.1, 1.0, 0.0, 1.0)
    torch.testing.assert_close(t.apply(grey, aug), torch.full((1, 3, 8, 8), (0.5 - 0.5) / 0.5))
    aug = Augmentation(CropBox(0, 0, 8), "none", ("brightness",), 0.9, 1.0, 0.0, 1.0)
    torch.testing.assert_close(t.apply(grey, aug), torch.full((1, 3, 8, 8), 1.0))  # clipped at 1


def test_a_clip_gets_one_augmentation_and_items_get_independent_ones():
    t = TrainTransform(16, 16, MEAN, STD, minscale=0.6, maxscale=2.0, fast_mode=False)
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (3, 24, 32, 3), dtype=np.uint8)
    g = torch.Generator().manual_seed(3)
    aug = t.sample(24, 32, g)
    clip = t.apply(frames, aug)  # [3, 3, 16, 16]
    for k in range(3):  # each frame as if alone, with the same draw
        torch.testing.assert_close(clip[k], t.apply(frames[k : k + 1], aug)[0])
    same = t(np.stack([frames[0]] * 3), torch.Generator().manual_seed(5))
    assert torch.equal(same[0], same[1]) and torch.equal(same[1], same[2])
    g = torch.Generator().manual_seed(5)
    first, second = t(frames[:1], g), t(frames[:1], g)  # anchor and positive of one generator
    assert not torch.equal(first, second)
    again = t(frames[:1], torch.Generator().manual_seed(5))
    assert torch.equal(first, again)  # seeded: reproducible


def test_bad_augmentation_settings_name_the_key():
    with pytest.raises(ConfigError, match="minscale"):
        TrainTransform(8, 8, MEAN, STD, minscale=1.5)
    with pytest.raises(ConfigError, match="maxscale"):
        TrainTransform(8, 8, MEAN, STD, maxscale=0.5)
    with pytest.raises(ConfigError, match="proportion_scaled_up"):
        TrainTransform(8, 8, MEAN, STD, proportion_scaled_up=2.0)


def test_batched_augmentation_equals_torchvision_item_by_item():
    from torchvision.transforms.v2 import functional as F

    t = TrainTransform(16, 16, MEAN, STD, minscale=0.7, maxscale=2.0, fast_mode=False)
    rng = np.random.default_rng(0)
    items = [rng.integers(0, 255, (2, 24, 20 + 4 * i, 3), dtype=np.uint8) for i in range(10)]  # sizes differ
    g = torch.Generator().manual_seed(1)
    augs = [t.sample(item.shape[1], item.shape[2], g) for item in items]
    batched = t.apply_many(items, augs)  # [10, 2, 3, 16, 16]
    ops = {
        "brightness": lambda x, a: (x + a.brightness_delta).clamp(0, 1),
        "saturation": lambda x, a: F.adjust_saturation(x, a.saturation_factor),
        "hue": lambda x, a: F.adjust_hue(x, a.hue_delta),
        "contrast": lambda x, a: F.adjust_contrast(x, a.contrast_factor),
    }
    for item, aug, out in zip(items, augs, batched):
        b = aug.box
        x = torch.from_numpy(item).permute(0, 3, 1, 2)
        x = F.resized_crop(x, b.top, b.left, b.size, b.size, [16, 16], antialias=True).float() / 255
        for op in aug.color_order:
            x = ops[op](x, aug)
        torch.testing.assert_close(out, F.normalize(x.clamp(0, 1), list(MEAN), list(STD)), atol=1e-5, rtol=0)


def test_full_frame_keeps_the_whole_frame_for_evaluation_and_training():
    frames = np.zeros((2, 48, 96, 3), np.uint8)
    frames[:, :, :10] = 255  # a white bar at the left edge: outside any central square
    assert eval_crop_box("full", 48, 96) == CropBox(0, 0, 48, 96)
    ev = EvalTransform(24, 48, "full", (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))(frames)  # [2, 3, 24, 48]
    assert ev.shape == (2, 3, 24, 48) and ev[0, :, :, 0].min() > 0.9 and ev[0, :, :, -1].max() < 0.1
    g = torch.Generator().manual_seed(0)
    plain = TrainTransform(24, 48, (0.0,) * 3, (1.0,) * 3, color=False, full_frame=True)
    assert torch.allclose(plain(frames, g), ev)  # no zoom: exactly the evaluation frame
    zoom = TrainTransform(24, 48, (0.0,) * 3, (1.0,) * 3, minscale=0.5, maxscale=2.0, color=False, full_frame=True)
    for _ in range(20):
        aug = zoom.sample(48, 96, g)
        ratio = aug.box.w / aug.box.size
        assert abs(ratio - 2.0) < 0.1, aug.box  # the frame's aspect ratio
        if aug.zoom == "out":  # the whole frame stays inside the box
            assert aug.box.top <= 0 and aug.box.left <= 0
            assert aug.box.top + aug.box.size >= 48 and aug.box.left + aug.box.w >= 96
        else:
            assert aug.box.top >= 0 and aug.box.top + aug.box.size <= 48 and aug.box.left + aug.box.w <= 96
    square = TrainTransform(24, 48, (0.0,) * 3, (1.0,) * 3, color=False)
    assert square.sample(48, 96, g).box == CropBox(0, 24, 48)  # the default stays the central square
