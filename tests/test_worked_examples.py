"""The classic worked examples (cnn_core.worked_examples): exact numbers, worked out by hand here,
and the RGB toy against torch.nn.functional.conv2d."""

import numpy as np
import torch
import torch.nn.functional as F

from cnn_core import worked_examples as wx


def test_the_smiley_feature_map_is_the_count_of_matching_ones():
    """The 7x7 image with the 3x3 detector gives this 5x5 map (each cell counts the image's 1s
    under the detector's 1s; the often-printed 1 at (2, 2) is a slip: the patch there is
    [[0,0,0],[0,1,0],[0,0,0]] and the detector's centre is 0)."""
    expected = [
        [0, 1, 0, 0, 0],
        [0, 1, 1, 1, 0],
        [1, 0, 0, 2, 1],
        [1, 4, 2, 1, 0],
        [0, 0, 1, 2, 1],
    ]
    example = wx.smiley()
    np.testing.assert_array_equal(example.feature_map, expected)
    assert wx.SMILEY[2:5, 2:5].tolist() == [[0, 0, 0], [0, 1, 0], [0, 0, 0]]


def test_max_pooling_keeps_the_partial_windows_and_flattens_by_rows():
    """2x2 max pooling at stride 2 with partial windows makes the 5x5 map 3x3 (the last row and
    column come from windows of 2 and 1 cells), flattened by rows into 9 values."""
    example = wx.smiley()
    expected = [[1, 1, 0], [4, 2, 1], [0, 2, 1]]
    np.testing.assert_array_equal(example.pooled, expected)
    np.testing.assert_array_equal(example.flat, [1, 1, 0, 4, 2, 1, 0, 2, 1])


def test_the_smiley_pipeline_matches_torch():
    """The same three steps in PyTorch (conv2d, max_pool2d with ceil_mode, flatten) agree."""
    x = torch.tensor(wx.SMILEY)[None, None]
    feature = F.conv2d(x, torch.tensor(wx.DETECTOR)[None, None])
    pooled = F.max_pool2d(feature, 2, 2, ceil_mode=True)
    np.testing.assert_array_equal(wx.smiley().flat, torch.flatten(pooled).numpy())


def test_a_28x28_input_with_kernel_5_and_padding_1_gives_26x26():
    """(28 + 2 - 5) / 1 + 1 = 26, as torch's output shape says."""
    out = F.conv2d(torch.zeros(1, 1, 28, 28), torch.zeros(1, 1, 5, 5), padding=1)
    assert wx.mnist_size() == (26, 26) == tuple(out.shape[2:])


def test_the_rgb_toy_matches_torch_conv2d():
    """Both 4x4 maps of the 6x6x3 image and two 3x3x3 filters equal F.conv2d's (exact: whole
    numbers), and every cell's step adds the three channel sums and the bias."""
    toy = wx.rgb_toy()
    want = F.conv2d(
        torch.tensor(wx.RGB_IMAGE)[None], torch.tensor(wx.RGB_FILTERS), torch.tensor(wx.RGB_BIAS)
    )[0].numpy()
    assert toy.output.shape == (2, 4, 4)
    np.testing.assert_array_equal(toy.output, want)
    for o, r, c in [(0, 0, 0), (1, 2, 3), (0, 3, 1)]:
        step = wx.rgb_toy(o, r, c).step
        assert step.channel_sums.shape == (3,)
        assert step.channel_sums.sum() + step.bias == want[o, r, c]


def test_the_first_rgb_cell_by_hand():
    """Cell (0, 0) of map 0 by hand: R slice (vertical edge) (1+0+2) - (2+1+0) = 0, G centre 0,
    B diagonal 2+2+2 = 6, bias 1: 7."""
    r, g, b = (wx.RGB_IMAGE[c, :3, :3] for c in range(3))
    by_hand = (r[:, 0].sum() - r[:, 2].sum()) + g[1, 1] + np.trace(b) + wx.RGB_BIAS[0]
    assert wx.rgb_toy(0, 0, 0).step.value == by_hand == 7
