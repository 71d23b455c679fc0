"""AppTest of the Training page: curves per epoch, the confusion matrix of the current model and
its examples (opened as the current input), the epoch scrubber, and the default model's view.
One tiny training run (200 digits, 2 epochs) is shared by the module's tests."""

import base64
import json
import re

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from cnn_core import load_default_model
from cnn_core.checkpoint import DEFAULT_MODEL_PATH, load_checkpoint, metadata_accuracy
from cnn_core.data import load_bundled
from cnn_core.model import CNN, ModelConfig
from cnn_core.snapshots import (
    DEFAULT_HISTORY_PATH,
    SnapshotLog,
    TrainingHistory,
    load_history,
    save_history,
)
from tests import html_grids
from tests.conftest import open_page, wait_until
from ui import state
from ui import training_view as tv

PAGE = "app_pages/page_training.py"
INPUT_INDEX = 3  # a held-out digit used as the current input
NO_HISTORY = pytest.mark.skipif(
    not DEFAULT_HISTORY_PATH.is_file(),
    reason="assets/default_history.safetensors is not built: run scripts/train_default_model.py",
)


def _chart(at: AppTest, key: str) -> dict:
    """The Plotly figure (as JSON) of the chart with this key."""
    found = [c for c in at.get("plotly_chart") if c.proto.id.endswith(f"-{key}")]
    assert len(found) == 1, [c.proto.id for c in at.get("plotly_chart")]
    return json.loads(found[0].proto.spec)


def _array(value) -> np.ndarray:
    """A Plotly array, plain list or typed array ({"dtype", "bdata", "shape"})."""
    if isinstance(value, dict) and "bdata" in value:
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        shape = value.get("shape")
        if isinstance(shape, str):
            shape = [int(n) for n in shape.split(",")]
        return flat.reshape(shape) if shape else flat
    return np.asarray(value)


def _markdown(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def _scrubbed(at: AppTest, epoch: int) -> tuple[str, np.ndarray]:
    """The scrubber's sentence and probabilities at ``epoch``."""
    at.session_state["train_epoch"] = epoch
    at.run()
    assert not at.exception, at.exception
    sentence = re.search(r"(With its random|After epoch).* the model predicts .*", _markdown(at))
    bars = _chart(at, "train_snapshot_probs")["data"][0]
    return sentence.group(0), _array(bars["y"])


@pytest.fixture(scope="module")
def trained() -> AppTest:
    """A session with a held-out digit as input that trained 2 epochs on 200 digits, on the
    Training page."""
    settings = {"cfg_images_digits": 200, "cfg_epochs": 2, "cfg_batch": 32, "cfg_lr": 3e-3}
    at = open_page(PAGE, digit=INPUT_INDEX, settings=settings)
    at.sidebar.button(key="train_button").click().run()
    assert not at.exception, at.exception
    assert at.session_state[state.TRAINING].join(120)  # the run's background job has ended
    at.run()  # AppTest never fires the polling fragment: this run adopts the model
    assert not at.exception, at.exception
    return at


def test_a_stepped_batch_is_shown_with_its_numbers():
    """A long run, paused, then Step one batch: the page's step section shows that step's loss
    before and after, and the conv1 filter grids hold exactly the step's weights, gradient,
    update and new weights (float32, as the job published them)."""
    at = open_page(PAGE, settings={"cfg_epochs": 20})
    at.sidebar.button(key="train_button").click().run()
    job = at.session_state[state.TRAINING]
    try:
        job.pause()
        wait_until(lambda: job.status == "paused")
        at.run()
        at.sidebar.button(key="step_button").click().run()
        wait_until(lambda: job.last_step is not None and job.status == "paused")
        at.run()
        assert not at.exception, at.exception
        step = job.last_step
        text = _markdown(at)
        assert f"**{step.loss_before:.4f}** to **{step.loss_after:.4f}**" in text
        for part in ("weights_before", "gradients", "update", "weights_after"):
            z = _array(_chart(at, f"step_filter_{part}")["data"][0]["z"])
            expected = getattr(step, part)["stages.conv1.weight"][0, 0]
            assert np.array_equal(z.astype(np.float32), expected), part
    finally:
        job.stop()
        assert job.join(60)


def test_curves_have_one_point_per_epoch(trained):
    """The curves show train and held-out loss and accuracy at epochs 1 and 2."""
    traces = {t["name"]: t for t in _chart(trained, "train_curves")["data"]}
    for name in ("train loss", "held-out loss", "train accuracy", "held-out accuracy"):
        assert list(_array(traces[name]["x"])) == [1, 2], name
    run = trained.session_state[state.TRAINING]
    assert list(_array(traces["held-out accuracy"]["y"])) == [
        pytest.approx(r["test_accuracy"]) for r in run.rows
    ]


def test_confusion_counts_sum_to_the_held_out_size(trained):
    """The confusion matrix of the trained model counts every held-out digit once, and its
    diagonal matches the run's last held-out accuracy."""
    figure = _chart(trained, "train_confusion")
    z = _array(figure["data"][0]["z"])
    held_out = len(load_bundled().test)
    assert z.shape == (10, 10) and z.sum() == held_out
    run = trained.session_state[state.TRAINING]
    assert np.trace(z) / held_out == pytest.approx(run.rows[-1]["test_accuracy"])
    assert f"({held_out:,} images)" in "\n".join(s.value for s in trained.subheader)
    assert len(_array(figure["data"][1]["x"])) == 100  # one selectable marker per cell


def test_scrubber_moves_between_snapshots(trained):
    """Epoch 0 (random weights) and epoch 2 give different probabilities for the input; the
    last epoch's equal the trained model's own."""
    run = trained.session_state[state.TRAINING]
    assert run.snapshots.epochs == [0, 1, 2]
    first_text, first = _scrubbed(trained, 0)
    last_text, last = _scrubbed(trained, 2)
    assert first_text != last_text and not np.allclose(first, last, atol=1e-4)
    image = trained.session_state[state.INPUT]
    own = trained.session_state[state.MODEL].model.trace(image).probabilities
    np.testing.assert_allclose(last, own, atol=1e-6)
    assert first_text.startswith("With its random initial weights")
    assert last_text.startswith("After epoch 2")
    weights = run.snapshots.model_at(2).layer_weights("conv1")  # (8, 1, 3, 3), as shown
    for k in range(len(weights)):
        np.testing.assert_allclose(
            html_grids.grid(trained, f"epoch 2, filter {k}"), weights[k, 0], atol=1e-6
        )


def test_picker_lists_examples_and_open_sets_the_input(trained):
    """Picking a cell lists its held-out digits; Open makes one of them the current input."""
    trained.session_state["train_true"] = 2
    trained.session_state["train_pred"] = 2
    trained.run()
    buttons = [b for b in trained.button if b.key and b.key.startswith("train_open_")]
    assert buttons, "no examples listed for true 2, predicted 2"
    index = int(buttons[0].key.removeprefix("train_open_"))
    assert load_bundled().test.labels[index] == 2
    buttons[0].click().run()
    assert not trained.exception, trained.exception
    expected = load_bundled().test.images[index] / np.float32(255)
    np.testing.assert_array_equal(trained.session_state[state.INPUT], expected)
    assert f"#{index}" in trained.session_state[state.INPUT_SOURCE]
    assert any(f"#{index} is now the current input" in s.value for s in trained.success)


@pytest.mark.parametrize(
    "point",
    [
        {"customdata": {"0": 4, "1": 9}, "x": "9", "y": "4"},  # what Chromium sent (checked)
        {"customdata": [4, 9], "x": "9", "y": "4"},
        {"x": "9", "y": "4"},  # no customdata: the class names on the axes
    ],
)
def test_clicking_a_confusion_cell_sets_the_picker(trained, point):
    """A point selection on the confusion chart (an invisible marker) sets the true / predicted
    pickers, whichever way the browser encodes the marker's customdata."""
    trained.session_state["train_true"], trained.session_state["train_pred"] = 0, 0
    point = {"curve_number": 1, "point_number": 49, "point_index": 49} | point
    selection = {"points": [point], "point_indices": [49], "box": [], "lasso": []}
    trained.session_state["train_confusion"] = {"selection": selection}
    trained.session_state["train_cell_seen"] = None
    trained.run()
    assert not trained.exception, trained.exception
    assert trained.selectbox(key="train_true").value == 4
    assert trained.selectbox(key="train_pred").value == 9


def test_default_model_page_without_training():
    """Without a run the page still shows the default model's confusion matrix (as many right
    as the accuracy its file claims), per-class accuracy and the filters of both conv layers."""
    at = open_page(PAGE)
    z = _array(_chart(at, "train_confusion")["data"][0]["z"])
    accuracy = metadata_accuracy(load_checkpoint(DEFAULT_MODEL_PATH)[1])
    assert z.sum() == 1000 and np.trace(z) == round(accuracy * 1000)
    assert f"**{accuracy:.1%}**" in _markdown(at)
    per_class = [d.value for d in at.dataframe if "accuracy" in d.value.columns]
    assert len(per_class) == 1 and len(per_class[0]) == 10
    model = state.default_model_info().model
    for b, count in ((1, 8), (2, 16)):  # conv2's 16 filters: each the mean over 8 channels
        shown = tv.conv_filters(model, f"conv{b}", None)
        assert len(shown) == count
        for k in range(count):
            grid = html_grids.grid(at, f"conv{b} filter {k}")
            np.testing.assert_allclose(grid, shown[k], atol=1e-6)
    with pytest.raises(AssertionError):
        html_grids.grid(at, "conv2 filter 16")  # no more than 16
    at.selectbox(key="train_in_channel_2").set_value(3).run()
    assert "input channel 3" in "\n".join(c.value for c in at.caption)


def _fresh_session(model_info=None) -> AppTest:
    """A new session on the Training page, a held-out digit as its input, and optionally its
    own model instead of the default."""
    return open_page(PAGE, digit=INPUT_INDEX, model=model_info)


def _assert_shows_history(at: AppTest, history) -> None:
    """The page shows ``history`` as the default model's own training: its curves, and a
    scrubber over its snapshots that starts at the last epoch, where the prediction is the
    default model's own, while epoch 0 (random weights) predicts otherwise."""
    assert "The default model's own training" in _markdown(at)
    traces = {t["name"]: t for t in _chart(at, "train_curves")["data"]}
    held_out = traces["held-out accuracy"]
    assert list(_array(held_out["x"])) == [r["epoch"] for r in history.rows]
    assert list(_array(held_out["y"])) == [pytest.approx(r["test_accuracy"]) for r in history.rows]
    slider = at.select_slider(key="train_epoch")
    epochs = history.snapshots.epochs
    assert list(slider.proto.options) == [str(e) for e in epochs] and slider.value == epochs[-1]
    last_text, last = _scrubbed(at, epochs[-1])
    image = at.session_state[state.INPUT]
    own = load_default_model().trace(image).probabilities
    np.testing.assert_allclose(last, own, atol=1e-6)
    first_text, first = _scrubbed(at, 0)
    assert first_text.startswith("With its random initial weights")
    assert last_text.startswith(f"After epoch {epochs[-1]}")
    assert not np.allclose(first, last, atol=1e-4)


@pytest.fixture
def use_history(monkeypatch, tmp_path):
    """Make the page read a history file of the test's choice instead of the shipped one:
    call it with a TrainingHistory; the per-process cache is cleared before and after."""

    def use(history: TrainingHistory) -> None:
        path = tmp_path / "history.safetensors"
        save_history(history, path)
        monkeypatch.setattr(tv, "DEFAULT_HISTORY_PATH", path)
        tv.default_history.clear()

    yield use
    monkeypatch.undo()
    tv.default_history.clear()


def _stand_in(final) -> TrainingHistory:
    """A 2-epoch history of the default architecture: random weights, then ``final``'s."""
    log = SnapshotLog()
    log.record(0, CNN(final.config, seed=0))
    log.record(1, CNN(final.config, seed=1))
    log.record(2, final)
    row = {"train_loss": 0.5, "test_loss": 0.4, "seconds": 1.0}
    rows = tuple(
        {"epoch": e, "train_accuracy": a, "test_accuracy": a + 0.01} | row
        for e, a in ((1, 0.8), (2, 0.9))
    )
    return TrainingHistory(rows, log, final.config, tuple(str(d) for d in range(10)))


@NO_HISTORY
def test_fresh_session_shows_the_shipped_history():
    """Before this session trains, the page shows assets/default_history.safetensors: the
    default model's curves (a point per epoch) and the epoch scrubber over its snapshots."""
    tv.default_history.clear()
    _assert_shows_history(_fresh_session(), load_history(DEFAULT_HISTORY_PATH))


def test_fresh_session_shows_the_default_models_own_training(use_history):
    """With a history whose last snapshot is the default model, a fresh session's Training page
    shows its curves and scrubs through its snapshots, as the default model's own training."""
    history = _stand_in(load_default_model())
    use_history(history)
    _assert_shows_history(_fresh_session(), history)


def test_history_of_other_weights_is_not_shown(use_history):
    """A history whose last snapshot is not the shipped model (a stale file) is not shown as
    the default model's training: the page says the session has not trained yet."""
    use_history(_stand_in(CNN(ModelConfig(), seed=7)))
    at = _fresh_session()
    assert not [c for c in at.get("plotly_chart") if c.proto.id.endswith("-train_curves")]
    assert not [s for s in at.select_slider if s.key == "train_epoch"]
    assert any("has not trained a model yet" in i.value for i in at.info)


def test_own_model_without_a_run_shows_no_shipped_curves(use_history):
    """A session using its own model (e.g. an upload) that never trained is not shown the
    default model's history, even though one is available: those curves are not its model's."""
    use_history(_stand_in(load_default_model()))
    model = CNN(ModelConfig(filters=(4, 8)), seed=3).eval()
    info = state.ModelInfo(
        model=model,
        version="own:" + model.fingerprint(),
        is_default=False,
        trained_on="unknown",
        test_accuracy=None,
    )
    at = _fresh_session(info)
    assert not [c for c in at.get("plotly_chart") if c.proto.id.endswith("-train_curves")]
    assert not [s for s in at.select_slider if s.key == "train_epoch"]
    assert any("has not trained a model yet" in i.value for i in at.info)
