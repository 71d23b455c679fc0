"""The Activation page's batch-normalisation section (ui/norm_view.py), in AppTest: with a
batch-norm model it shows the chosen channel's numbers, equal to the model's, and PyTorch's
training-mode numbers next to its own; without one it says how to get one."""

import numpy as np
import torch

from cnn_core import CNN, ModelConfig, norm
from cnn_core.data import load_bundled
from tests.conftest import open_page
from ui import state

PAGE = "app_pages/page_activation.py"


def _norm_model() -> CNN:
    """A batch-norm model with moved running statistics (two training-mode passes)."""
    model = CNN(ModelConfig(filters=(4, 6), batch_norm=True), seed=1)
    images = torch.from_numpy(load_bundled().train.as_float()[:32]).unsqueeze(1)
    model.train()
    with torch.no_grad():
        model(images[:16])
        model(images[16:])
    return model.eval()


def _texts(at) -> str:
    return "\n".join(m.value for m in [*at.markdown, *at.caption, *at.latex])


def test_the_section_shows_the_chosen_channels_numbers_of_a_batch_norm_model():
    """norm2, channel 3: the running mean and the output of the picked cell appear as the
    model computes them (4 decimals), the training part names PyTorch's difference, and
    nothing raises."""
    model = _norm_model()
    info = state.ModelInfo.own(model, "test digits", None, tuple(str(d) for d in range(10)))
    image = load_bundled().test.as_float()[0]
    at = open_page(PAGE, image=image, source="a test digit", model=info,
                   settings={"norm_layer": "norm2", "norm_channel": 3})  # fmt: skip
    assert [s.value for s in at.subheader if s.value == "Batch normalisation"]
    step = norm.norm_step(model.trace(image), "norm2", 3)
    text = _texts(at)
    assert f"{step.running_mean:.4f}" in text and f"{step.scale:.4f}" in text
    row, col = int(at.session_state["act_row"]), int(at.session_state["act_col"])
    row, col = min(row, 13), min(col, 13)
    assert f"after **{float(step.after[row, col]):.5f}**" in text
    assert "F.batch_norm(training=True)" in text
    assert np.isfinite(step.difference)


def test_without_batch_norm_the_section_says_where_to_switch_it_on():
    """The default model has no norm stage: the section is one caption naming the checkbox."""
    at = open_page(PAGE, digit=3)
    assert any("Batch norm" in c.value for c in at.caption)
    assert "norm_channel" not in [w.key for w in at.number_input]
