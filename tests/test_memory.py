"""Tests of the server's memory by design: what the first page imports, the bounds of what a
session keeps (ui/state.py). No test measures memory: sizes depend on the machine
(bench/memory.py measures them)."""

import subprocess
import sys
import textwrap

import numpy as np
import torch

from cnn_core.estimate import _AdamUpdate
from cnn_core.model import CNN, ModelConfig, empty_on_cpu
from cnn_core.snapshots import model_from_weights, snapshot_weights
from cnn_core.train import train_step


def test_first_page_work_imports_neither_sympy_nor_dynamo():
    """What the server does for a first page and a run (a model built with a seed, the
    sidebar's time estimate, a live copy of published weights, the default model) leaves
    sympy and torch._dynamo unimported: together about 80 MB of the server's memory."""
    code = textwrap.dedent(
        """
        import sys
        from cnn_core import load_default_model
        from cnn_core.estimate import estimate_seconds
        from cnn_core.job import TrainRequest
        from cnn_core.model import CNN, ModelConfig
        from cnn_core.train import TrainConfig
        from cnn_core.snapshots import model_from_weights, snapshot_weights
        model = CNN(ModelConfig(batch_norm=True), seed=3)
        model_from_weights(model.config, snapshot_weights(model))
        load_default_model()
        estimate_seconds(TrainRequest("digits", ModelConfig(), TrainConfig()), 4000, 1000)
        print(sorted(m for m in ("sympy", "torch._dynamo") if m in sys.modules))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    )
    assert out.stdout.strip() == "[]"


def test_adam_update_equals_torch_adam():
    """The estimate's stand-in optimizer takes exactly torch.optim.Adam's steps (defaults:
    betas 0.9 and 0.999, eps 1e-8, bias correction), so the estimate times the same work."""
    ours, theirs = CNN(ModelConfig(), seed=1), CNN(ModelConfig(), seed=1)
    adam = torch.optim.Adam(theirs.parameters(), lr=1e-3)
    update = _AdamUpdate(ours.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(0)
    for _ in range(4):
        x, y = torch.rand(8, 1, 28, 28, generator=g), torch.randint(0, 10, (8,), generator=g)
        train_step(ours, update, x, y)
        train_step(theirs, adam, x, y)
    for (name, a), b in zip(ours.named_parameters(), theirs.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7, msg=name)
    moved = CNN(ModelConfig(), seed=1).stages.conv1.weight
    assert not torch.equal(ours.stages.conv1.weight, moved)  # the steps did move the weights


def test_empty_on_cpu_keeps_shapes_dtypes_and_parameters():
    """empty_on_cpu gives a meta-built module CPU tensors of the same names, shapes and dtypes
    (BatchNorm's int64 counter too), parameters still parameters that want gradients."""
    config = ModelConfig(batch_norm=True)
    with torch.device("meta"):
        meta = CNN(config, seed=None)
    expected = {k: (v.shape, v.dtype) for k, v in meta.state_dict().items()}
    model = empty_on_cpu(meta)
    got = {k: (v.shape, v.dtype) for k, v in model.state_dict().items()}
    assert got == expected
    assert all(v.device.type == "cpu" for v in model.state_dict().values())
    assert all(p.requires_grad for p in model.parameters())
    assert got["stages.norm1.num_batches_tracked"][1] == torch.int64


def test_seeded_models_and_live_copies_are_unchanged():
    """A seeded CNN is the same for the same seed and different for another; a live copy
    (model_from_weights) holds exactly the weights it was given, in its own memory."""
    a, b, c = (CNN(ModelConfig(batch_norm=True), seed=s) for s in (5, 5, 6))
    for (name, x), y, z in zip(a.state_dict().items(), b.state_dict().values(),
                               c.state_dict().values(), strict=True):  # fmt: skip
        assert torch.equal(x, y), name
        if name.endswith("conv1.weight"):
            assert not torch.equal(x, z)
    weights = snapshot_weights(a)
    copy = model_from_weights(a.config, weights)
    for name, tensor in copy.state_dict().items():
        assert torch.equal(tensor, weights[name]), name
        assert tensor.data_ptr() != weights[name].data_ptr()


def test_trace_cache_keeps_at_most_its_size_most_recent_first(monkeypatch):
    """The session's trace cache never holds more than TRACE_CACHE_SIZE traces, drops the least
    recently used one first and keeps one that was just read."""
    from ui import state

    monkeypatch.setattr(state.st, "session_state", {})
    model = CNN(ModelConfig(), seed=0)
    images = [np.full((28, 28), k / 10, np.float32) for k in range(state.TRACE_CACHE_SIZE + 3)]
    for image in images[: state.TRACE_CACHE_SIZE]:
        state.cached_trace("v", model, image)
    state.cached_trace("v", model, images[0])  # read again: now the most recent
    for image in images[state.TRACE_CACHE_SIZE :]:
        state.cached_trace("v", model, image)
        assert len(state.st.session_state[state.TRACES]) <= state.TRACE_CACHE_SIZE
    kept = {key[1] for key in state.st.session_state[state.TRACES]}
    assert state.digest(images[1]) not in kept  # the oldest went first
    assert state.digest(images[-1]) in kept


def test_history_keeps_the_last_runs_only(monkeypatch):
    """A session remembers the rows of its last HISTORY_RUNS finished runs, oldest first."""
    from ui import state

    monkeypatch.setattr(state.st, "session_state", {})
    for run in range(state.HISTORY_RUNS + 4):
        state.add_history([{"epoch": 1, "run": run}])
    runs = state.history()
    assert [rows[0]["run"] for rows in runs] == list(range(4, state.HISTORY_RUNS + 4))
