"""cnn_core.conv_lab: the convolution page's playground, kernel preview and filter edit."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnn_core import CNN, ModelConfig, conv_lab, ops, toy

ATOL = 1e-5  # float64 NumPy against float32 PyTorch on sums of at most 49 small products


def test_output_size_terms_for_the_toy():
    """7x7, kernel 3, stride 2, padding 0: (7 + 0 - 3) / 2 = 2, plus 1 = 3; nothing left over."""
    s = conv_lab.output_size(7, 3, stride=2, padding=0)
    assert (s.span, s.numerator, s.out, s.leftover) == (3, 4, 3, 0)


def test_output_size_counts_the_cells_a_stride_skips():
    """Stride 3 on 7 cells with kernel 3: windows start at 0 and 3, cell 6 is never reached."""
    s = conv_lab.output_size(7, 3, stride=3)
    assert (s.out, s.leftover) == (2, 1)
    assert (s.out - 1) * s.stride + s.span + s.leftover == 7


def test_output_size_with_dilation_and_padding_matches_torch():
    """The formula's answer equals the length of PyTorch's output."""
    for size, k, s, p, d in [(7, 3, 1, 1, 2), (9, 5, 2, 2, 1), (6, 2, 3, 0, 2)]:
        got = conv_lab.output_size(size, k, s, p, d).out
        out = F.conv2d(torch.zeros(1, 1, size, size), torch.zeros(1, 1, k, k), None, s, p, d)
        assert got == out.shape[-1]


def test_output_size_with_ceil_mode_matches_torch_pooling_and_keeps_the_formula_value():
    """With ceil_mode, out is the length of torch's max pooling output; by_formula is the
    rounded-up formula, one more than out exactly when torch drops a window that would start
    past the input (size 5, window 1, stride 3: ceil(4/3) + 1 = 3, torch keeps 2)."""
    for size in range(1, 10):
        for k in range(1, min(size, 4) + 1):
            for s in range(1, 5):
                got = conv_lab.output_size(size, k, s, ceil_mode=True)
                x = torch.zeros(1, 1, size, size)
                want = F.max_pool2d(x, k, s, ceil_mode=True).shape[-1]
                assert got.out == want, (size, k, s)
                assert got.by_formula - got.out in (0, 1)
                assert got.by_formula == math.ceil((size - k) / s) + 1
    dropped = conv_lab.output_size(5, 1, 3, ceil_mode=True)
    assert (dropped.out, dropped.by_formula) == (2, 3)
    floor = conv_lab.output_size(5, 2, 2)
    assert (floor.out, floor.by_formula, floor.ceil_mode) == (2, 2, False)


def test_output_size_refuses_a_kernel_larger_than_the_padded_input():
    """output_size refuses a 9-wide kernel on a 7-wide unpadded input, saying it is larger than
    the padded input."""
    with pytest.raises(ValueError, match="larger than the padded input"):
        conv_lab.output_size(7, 9)


def test_pad_map_puts_zeros_around_2d_and_3d_maps():
    """pad_map adds a zero border to 2-D and (C, H, W) maps, keeps the values inside, and
    padding 0 changes nothing."""
    x = np.ones((2, 3), np.float32)
    padded = conv_lab.pad_map(x, 1)
    assert padded.shape == (4, 5) and padded.sum() == 6 and padded[1:-1, 1:-1].all()
    assert conv_lab.pad_map(np.ones((3, 2, 2)), 2).shape == (3, 6, 6)
    assert conv_lab.pad_map(x, 0).shape == (2, 3)


def test_playground_equals_torch_and_steps_equal_the_output():
    """The toy playground equals F.conv2d, and every step's value equals its output cell."""
    pg = conv_lab.playground(toy.TOY_IMAGE, toy.TOY_KERNEL, stride=2, padding=1, dilation=1)
    expected = F.conv2d(
        torch.from_numpy(toy.TOY_IMAGE)[None, None],
        torch.from_numpy(toy.TOY_KERNEL)[None, None],
        stride=2,
        padding=1,
    )[0, 0].numpy()
    np.testing.assert_allclose(pg.output, expected, atol=ATOL)
    assert pg.padded.shape == (9, 9) and pg.output.shape == (pg.rows.out, pg.cols.out)
    for i in range(pg.rows.out):
        for j in range(pg.cols.out):
            assert pg.step(i, j).value == pytest.approx(pg.output[i, j])


def test_playground_toy_stride_2_gives_3x3():
    """The 7x7 toy image with the 3x3 toy kernel at stride 2 gives a 3x3 output."""
    pg = conv_lab.playground(toy.TOY_IMAGE, toy.TOY_KERNEL, stride=2)
    assert pg.output.shape == (3, 3)


def test_playground_explains_invalid_choices():
    """playground refuses a kernel larger than the input and stride 0 with sentences saying so."""
    with pytest.raises(ValueError, match="larger than the padded input"):
        conv_lab.playground(toy.TOY_IMAGE, np.ones((9, 9)))
    with pytest.raises(ValueError, match="stride must be a positive integer"):
        conv_lab.playground(toy.TOY_IMAGE, toy.TOY_KERNEL, stride=0)


@pytest.mark.parametrize("name", ["Sobel x", "box blur", "identity"])
def test_apply_kernel_is_same_padded_conv2d(name):
    """A preset on a 28x28 image: same size out, equal to torch with padding 1."""
    image = np.random.default_rng(0).random((28, 28), dtype=np.float32)
    kernel = toy.KERNEL_PRESETS[name]
    out = conv_lab.apply_kernel(image, kernel)
    expected = F.conv2d(
        torch.from_numpy(image)[None, None], torch.from_numpy(kernel)[None, None], padding=1
    )[0, 0].numpy()
    assert out.shape == (28, 28)
    np.testing.assert_allclose(out, expected, atol=ATOL)
    if name == "identity":
        np.testing.assert_allclose(out, image, atol=1e-7)


def test_replace_filter_changes_one_filter_of_a_copy_only():
    """The copy has the new kernel in one filter, the rest equal; the original is untouched."""
    model = CNN(ModelConfig(), seed=0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    kernel = toy.KERNEL_PRESETS["Sobel y"]
    edited = conv_lab.replace_filter(model, 5, kernel)
    assert edited is not model
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key])
    weights = edited.layer_weights("conv1")
    np.testing.assert_array_equal(weights[5, 0], kernel)
    np.testing.assert_array_equal(
        np.delete(weights, 5, 0), np.delete(before["stages.conv1.weight"].numpy(), 5, 0)
    )
    assert torch.equal(edited.stages["conv1"].bias, model.stages["conv1"].bias)
    assert edited.fingerprint() != model.fingerprint()
    image = np.random.default_rng(1).random((28, 28), dtype=np.float32)
    assert not np.allclose(edited.trace(image).logits, model.trace(image).logits)


def test_replace_filter_refuses_what_does_not_fit():
    """Wrong kernel size, a multi-channel layer, a bad channel or NaN: ValueError with a reason."""
    model = CNN(ModelConfig(), seed=0)
    with pytest.raises(ValueError, match="3x3 but the edited kernel is 5x5"):
        conv_lab.replace_filter(model, 0, np.ones((5, 5)))
    with pytest.raises(ValueError, match="reads 8 input channels"):
        conv_lab.replace_filter(model, 0, np.ones((3, 3)), layer="conv2")
    with pytest.raises(ValueError, match="out_channel must be between 0 and 7"):
        conv_lab.replace_filter(model, 8, np.ones((3, 3)))
    with pytest.raises(ValueError, match="NaN"):
        conv_lab.replace_filter(model, 0, np.full((3, 3), np.nan))
    big = CNN(ModelConfig(kernel_size=5, padding=2), seed=0)
    assert "5x5" in conv_lab.filter_edit_problem(big, (3, 3))
    assert conv_lab.filter_edit_problem(model, (3, 3)) is None


def test_replace_filter_result_matches_ops_on_the_edited_channel():
    """The edited model's conv1 channel equals ops.conv2d with the new kernel and the old bias."""
    model = CNN(ModelConfig(), seed=2)
    kernel = toy.KERNEL_PRESETS["sharpen"]
    edited = conv_lab.replace_filter(model, 3, kernel)
    image = np.random.default_rng(3).random((28, 28), dtype=np.float32)
    conv1 = edited.trace(image).stage("conv1")
    bias = model.stages["conv1"].bias.detach().numpy()[3:4]
    expected = ops.conv2d(image[None], kernel[None, None], bias, 1, 1)[0]
    np.testing.assert_allclose(conv1.output[3], expected, atol=ATOL)


def test_toy_kernel_defaults():
    """Side 3 is the shared toy X; other sides have 1s on both diagonals."""
    np.testing.assert_array_equal(conv_lab.toy_kernel(3), toy.TOY_KERNEL)
    five = conv_lab.toy_kernel(5)
    assert five.shape == (5, 5) and five[0, 0] == five[0, 4] == five[2, 2] == 1 and five.sum() == 9
    assert conv_lab.toy_kernel(1).tolist() == [[1.0]]


def test_stage_changes_are_zero_before_the_edited_layer_only():
    """After a conv1 edit the input is unchanged, conv1 and every later stage change."""
    model = CNN(ModelConfig(), seed=0)
    edited = conv_lab.replace_filter(model, 0, toy.KERNEL_PRESETS["emboss"])
    image = np.random.default_rng(4).random((28, 28), dtype=np.float32)
    changes = conv_lab.stage_changes(model.trace(image), edited.trace(image))
    assert [name for name, _, _ in changes] == model.trace(image).names[1:]
    assert all(change > 0 for _, _, change in changes)
    same = conv_lab.stage_changes(model.trace(image), model.trace(image))
    assert all(change == 0 for _, _, change in same)
