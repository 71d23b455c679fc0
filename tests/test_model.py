"""cnn_core.model and cnn_core.trace: ModelConfig validation, the CNN built from named stages, and
a Trace whose every stage equals PyTorch's own forward."""

import copy
import dataclasses
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnn_core import CNN, ModelConfig, Stage, Trace, ops
from cnn_core.trace import STAGE_KINDS

# The trace and the explicit forward run the same float32 PyTorch kernels on the same tensors, so
# they normally agree bit for bit; 1e-5 leaves room for a kernel that reorders float32 sums.
MAX_ABS_DIFF = 1e-5
# The NumPy ops recompute a stage in float64 from the float32 values PyTorch used: what remains is
# float32 rounding of PyTorch's sums (at most 16 channels x 5 x 5 = 400 products, or 784 inputs of
# a dense layer, each of magnitude < 1).
OPS_ATOL = 1e-5

DEFAULT_STAGES = [
    ("input", "input", (1, 28, 28)),
    ("conv1", "conv", (8, 28, 28)),
    ("act1", "activation", (8, 28, 28)),
    ("pool1", "pool", (8, 14, 14)),
    ("conv2", "conv", (16, 14, 14)),
    ("act2", "activation", (16, 14, 14)),
    ("pool2", "pool", (16, 7, 7)),
    ("flatten", "flatten", (784,)),
    ("dense", "dense", (10,)),
    ("softmax", "softmax", (10,)),
]

CONFIGS = {
    "default": ModelConfig(),
    "three_blocks_avg_leaky_hidden": ModelConfig(
        filters=(4, 6, 8),
        pooling="avg",
        activation="leaky_relu",
        negative_slope=0.1,
        hidden_units=16,
    ),
    "sigmoid_no_pool_stride2": ModelConfig(
        filters=(4, 8), stride=2, pooling="none", activation="sigmoid"
    ),
    "tanh_kernel5_padding2": ModelConfig(
        filters=(6, 5), kernel_size=5, padding=2, activation="tanh"
    ),
    "kernel1": ModelConfig(filters=(3, 5), kernel_size=1, padding=0),
    "batch_norm": ModelConfig(filters=(4, 6), batch_norm=True),
}


def _image(seed=0, size=28):
    return np.random.default_rng(seed).random((size, size), dtype=np.float32)


def _batch(image):
    return torch.from_numpy(np.asarray(image, dtype=np.float32)).reshape(1, 1, 28, 28)


def _assert_traces_equal(a: Trace, b: Trace):
    assert a.names == b.names
    for sa, sb in zip(a.stages, b.stages, strict=True):
        np.testing.assert_array_equal(sa.output, sb.output, err_msg=sa.name)
    np.testing.assert_array_equal(a.logits, b.logits)
    np.testing.assert_array_equal(a.probabilities, b.probabilities)


@pytest.fixture(params=sorted(CONFIGS))
def config(request):
    return CONFIGS[request.param]


# ----------------------------------------------------------------------------------------------
# ModelConfig


def test_default_config_stages_and_shapes():
    """The default model is 1x28x28 -> 8x28x28 -> 8x28x28 -> 8x14x14 -> 16x14x14 -> 16x14x14 ->
    16x7x7 -> 784 -> 10 -> 10, with the stage names and kinds the pages use."""
    config = ModelConfig()
    assert config.shapes() == DEFAULT_STAGES
    assert config.flat_features == 784
    assert config.blocks() == [(8, 3, 1, 1), (16, 3, 1, 1)]


def test_default_config_parameter_count():
    """The default model has 80 + 1168 + 7850 = 9098 parameters (conv1, conv2, dense)."""
    model = CNN(ModelConfig())
    assert model.num_parameters() == 9098
    trace = model.trace(_image())
    assert sum(s.params.get("num_parameters", 0) for s in trace.stages) == 9098


def test_describe():
    """describe() names every stage in one line, with stride, padding and pool stride when they
    are not the obvious value."""
    assert ModelConfig().describe() == (
        "conv 8@3x3 p1 -> ReLU -> max 2x2 -> conv 16@3x3 p1 -> ReLU -> max 2x2 -> flatten 784 "
        "-> dense 10"
    )
    config = ModelConfig(
        filters=(4,),
        stride=2,
        padding=0,
        pooling="avg",
        pool_size=3,
        pool_stride=2,
        hidden_units=32,
        activation="tanh",
    )
    assert config.describe() == (
        "conv 4@3x3 s2 -> Tanh -> avg 3x3 s2 -> flatten 144 -> dense 32 -> Tanh -> dense 10"
    )
    assert ModelConfig(filters=(2,), pooling="none", activation="leaky_relu").describe() == (
        "conv 2@3x3 p1 -> LeakyReLU -> flatten 1568 -> dense 10"
    )
    assert ModelConfig(filters=(2,), batch_norm=True).describe() == (
        "conv 2@3x3 p1 -> BatchNorm2d -> ReLU -> max 2x2 -> flatten 392 -> dense 10"
    )


INVALID_CONFIGS = {
    "filters 0": (dict(filters=0), "block 1: filters must be between 1 and 64, got 0"),
    "filters 65": (dict(filters=65), "block 1: filters must be between 1 and 64, got 65"),
    "filters block 2": (dict(filters=(8, 65)), "block 2: filters must be between 1 and 64"),
    "filters float": (dict(filters=8.0), "block 1: filters must be a whole number"),
    "even kernel": (dict(kernel_size=4), "block 1: kernel size must be odd"),
    "even kernel block 2": (dict(kernel_size=(3, 2)), "block 2: kernel size must be odd"),
    "kernel 9": (dict(kernel_size=9), "block 1: kernel size must be between 1 and 7, got 9"),
    "stride 3": (dict(stride=3), "block 1: stride must be between 1 and 2, got 3"),
    "stride 0 block 2": (dict(stride=(1, 0)), "block 2: stride must be between 1 and 2, got 0"),
    "stride True": (dict(stride=True), "block 1: stride must be a whole number"),
    "padding 4": (dict(padding=4), "block 1: padding must be between 0 and 3, got 4"),
    "4 blocks": (dict(filters=(8, 8, 8, 8)), "a model has 1 to 3 conv blocks, got 4"),
    "0 blocks": (dict(filters=()), "a model has 1 to 3 conv blocks, got 0"),
    "per-block length": (
        dict(kernel_size=(3,)),
        r"kernel_size needs one value per conv block \(2\), got 1",
    ),
    "unknown activation": (
        dict(activation="gelu"),
        "activation must be one of relu, leaky_relu, sigmoid, tanh",
    ),
    "unknown pooling": (dict(pooling="min"), "pooling must be one of max, avg, none"),
    "dropout 0.6": (dict(dropout=0.6), "dropout must be between 0.0 and 0.5, got 0.6"),
    "dropout NaN": (dict(dropout=float("nan")), "dropout must be a finite number"),
    "hidden 300": (dict(hidden_units=300), "hidden units must be between 0 and 256, got 300"),
    "negative slope 2": (dict(negative_slope=2.0), "negative slope must be between 0.0 and 1.0"),
    "pool size 5": (dict(pool_size=5), "pool size must be between 1 and 4, got 5"),
    "pool stride 0": (dict(pool_stride=0), "pool stride must be between 1 and 4, got 0"),
    "classes 1": (dict(num_classes=1), "number of classes must be between 2 and 100"),
    "in channels 4": (dict(in_channels=4), "input channels must be between 1 and 3"),
    "input size 4": (dict(input_size=4), "input size must be between 8 and 64"),
    "batch_norm 1": (dict(batch_norm=1), "batch_norm must be True or False, got 1"),
}


@pytest.mark.parametrize("name", sorted(INVALID_CONFIGS))
def test_config_rejects_each_invalid_field(name):
    """Each invalid field raises ValueError naming the field (and the block, for per-block ones)."""
    kwargs, message = INVALID_CONFIGS[name]
    with pytest.raises(ValueError, match=message):
        ModelConfig(**kwargs)


def test_config_rejects_a_block_whose_output_would_be_empty():
    """Three 7x7 blocks without padding shrink 28 -> 22 -> 11 -> 5 -> 2: block 3's kernel no
    longer fits, and the error names block 3; a pool that does not fit names its block too."""
    with pytest.raises(ValueError, match=r"block 3 would have an empty output: kernel 7 .* 2"):
        ModelConfig(filters=(8, 8, 8), kernel_size=7, padding=0)
    with pytest.raises(ValueError, match="block 1 would have an empty output: kernel 4"):
        ModelConfig(input_size=8, filters=(4,), kernel_size=7, padding=0, pool_size=4)


def test_config_broadcasts_ints_to_every_block():
    """An int for a per-block field is used for every block and stored as a tuple."""
    config = ModelConfig(filters=(4, 6, 8), kernel_size=5, stride=1, padding=2)
    assert config.kernel_size == (5, 5, 5)
    assert config.stride == (1, 1, 1)
    assert config.padding == (2, 2, 2)
    assert ModelConfig(filters=8).filters == (8,)
    assert ModelConfig(filters=[4, 6], kernel_size=[3, 5]).kernel_size == (3, 5)
    assert ModelConfig(kernel_size=3) == ModelConfig(kernel_size=(3, 3))
    assert hash(ModelConfig(kernel_size=3)) == hash(ModelConfig(kernel_size=[3, 3]))


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_config_to_dict_from_dict_round_trip(name):
    """to_dict() is JSON-able (tuples become lists) and from_dict() rebuilds an equal config."""
    config = CONFIGS[name]
    data = json.loads(json.dumps(config.to_dict()))
    assert isinstance(data["filters"], list)
    assert ModelConfig.from_dict(data) == config


def test_config_from_dict_rejects_unknown_keys_and_non_dicts():
    """Unknown keys are an error listing them (never silently dropped); so is a non-object."""
    data = ModelConfig().to_dict()
    with pytest.raises(ValueError, match=r"unknown model configuration field\(s\): lr, momentum"):
        ModelConfig.from_dict({**data, "momentum": 0.9, "lr": 0.1})
    with pytest.raises(ValueError, match="must be a JSON object"):
        ModelConfig.from_dict([("filters", [8])])
    with pytest.raises(ValueError, match="block 1: filters"):
        ModelConfig.from_dict({**data, "filters": [0, 16]})


def test_config_is_frozen():
    """Assigning to a field raises: a config never changes once built."""
    config = ModelConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.filters = (4,)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.dropout = 0.5
    assert config == ModelConfig()


# ----------------------------------------------------------------------------------------------
# CNN: construction, seeds, RNG


def _same_weights(a: CNN, b: CNN) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_same_seed_same_weights_different_seed_different_weights(name):
    """CNN(config, seed) is deterministic; another seed changes every conv and dense parameter
    tensor (batch norm starts at scale 1 and shift 0 whatever the seed)."""
    config = CONFIGS[name]
    a, b, c = CNN(config, seed=3), CNN(config, seed=3), CNN(config, seed=4)
    assert _same_weights(a, b)
    assert a.fingerprint() == b.fingerprint()
    for (name_a, pa), (_, pc) in zip(a.named_parameters(), c.named_parameters(), strict=True):
        assert ".norm" in name_a or not torch.equal(pa, pc), name_a
    assert a.fingerprint() != c.fingerprint()


def test_initial_weights_follow_pytorch_default_bounds():
    """Every weight and bias lies in U(-1/sqrt(fan_in), 1/sqrt(fan_in)), PyTorch's default."""
    model = CNN(CONFIGS["three_blocks_avg_leaky_hidden"], seed=0)
    for module in model.stages.values():
        if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):
            bound = 1 / module.weight[0].numel() ** 0.5
            for p in (module.weight, module.bias):
                assert p.abs().max() <= bound


def test_constructing_a_model_leaves_the_global_rng_alone():
    """CNN(config, seed) draws only from its own generator: the process-wide torch RNG state is
    the same before and after (sessions share a process; DESIGN §6)."""
    before = torch.get_rng_state()
    CNN(ModelConfig(), seed=0)
    assert torch.equal(torch.get_rng_state(), before)


def test_tracing_and_seeded_forward_leave_the_global_rng_alone():
    """trace() and a train-mode forward with an explicit generator do not touch the global RNG."""
    model = CNN(ModelConfig(hidden_units=8, dropout=0.3), seed=0)
    before = torch.get_rng_state()
    model.trace(_image())
    model.train()
    model(_batch(_image()), generator=torch.Generator().manual_seed(0))
    assert torch.equal(torch.get_rng_state(), before)


def test_stage_names_and_kinds(config):
    """The model's stages are named in run order exactly as config.shapes() lists them (without the
    input and softmax, which only the trace adds), with kinds from the allowed set."""
    model = CNN(config)
    expected = [(n, k) for n, k, _ in config.shapes() if n not in ("input", "softmax")]
    assert [(n, model.kinds[n]) for n in model.stages] == expected
    assert set(model.kinds.values()) <= set(STAGE_KINDS)


def test_three_block_stage_order():
    """With a hidden layer the order is conv/act/pool per block, flatten, hidden, act_hidden,
    dense, softmax."""
    trace = CNN(CONFIGS["three_blocks_avg_leaky_hidden"]).trace(_image())
    assert trace.names == [
        "input",
        *[f"{s}{b}" for b in (1, 2, 3) for s in ("conv", "act", "pool")],
        "flatten",
        "hidden",
        "act_hidden",
        "dense",
        "softmax",
    ]
    assert all(s.kind in STAGE_KINDS for s in trace.stages)


# ----------------------------------------------------------------------------------------------
# Trace equals PyTorch


def _explicit_forward(model: CNN, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Every stage written out with torch.nn.functional from the config and the module weights."""
    cfg = model.config
    act = {
        "relu": F.relu,
        "leaky_relu": lambda t: F.leaky_relu(t, cfg.negative_slope),
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
    }[cfg.activation]
    out = {"input": x}
    with torch.no_grad():
        for b, (_, _, s, p) in enumerate(cfg.blocks(), start=1):
            conv = model.stages[f"conv{b}"]
            x = out[f"conv{b}"] = F.conv2d(x, conv.weight, conv.bias, stride=s, padding=p)
            if cfg.batch_norm:  # the module itself in eval mode: its running statistics
                x = out[f"norm{b}"] = copy.deepcopy(model.stages[f"norm{b}"]).eval()(x)
            x = out[f"act{b}"] = act(x)
            if cfg.pooling == "max":
                x = out[f"pool{b}"] = F.max_pool2d(x, cfg.pool_size, cfg.pool_stride)
            elif cfg.pooling == "avg":
                x = out[f"pool{b}"] = F.avg_pool2d(x, cfg.pool_size, cfg.pool_stride)
        x = out["flatten"] = torch.flatten(x, 1)
        if cfg.hidden_units:
            hidden = model.stages["hidden"]
            x = out["hidden"] = F.linear(x, hidden.weight, hidden.bias)
            x = out["act_hidden"] = act(x)
        dense = model.stages["dense"]
        x = out["dense"] = F.linear(x, dense.weight, dense.bias)
        out["softmax"] = torch.softmax(x, dim=1)
    return out


def test_every_trace_stage_equals_the_explicit_torch_forward(config):
    """Each stage's recorded output equals the same stage written out with torch.nn.functional
    (max |difference| <= MAX_ABS_DIFF) and has the shape config.shapes() promises."""
    model = CNN(config, seed=1)
    image = _image(1)
    trace = model.trace(image)
    expected = _explicit_forward(model, _batch(image))
    assert [s.name for s in trace.stages] == [n for n, _, _ in config.shapes()]
    for stage, (name, kind, shape) in zip(trace.stages, config.shapes(), strict=True):
        assert (stage.name, stage.kind, stage.shape) == (name, kind, shape)
        diff = np.abs(stage.output - expected[name][0].numpy()).max()
        assert diff <= MAX_ABS_DIFF, (name, diff)
        assert stage.output.dtype == np.float32


def test_numpy_ops_reproduce_every_trace_stage(config):
    """Recomputing each stage with the NumPy teaching ops from the stage's input and params gives
    PyTorch's recorded output (within OPS_ATOL): the numbers the pages explain are the model's."""
    trace = CNN(config, seed=2).trace(_image(2))
    for stage in trace.stages[1:]:
        x, p = trace.input_of(stage.name), stage.params
        if stage.kind == "conv":
            got = ops.conv2d(x, p["weight"], p["bias"], p["stride"], p["padding"], p["dilation"])
        elif stage.kind == "norm":
            got = ops.batch_norm(
                x, p["running_mean"], p["running_var"], p["weight"], p["bias"], p["eps"]
            )
        elif stage.kind == "activation":
            got = ops.activation(p["function"], x, p.get("negative_slope", 0.01))
        elif stage.kind == "pool":
            pool = ops.max_pool2d if p["mode"] == "max" else ops.avg_pool2d
            got = pool(x, p["kernel_size"], p["stride"], p["padding"], p["ceil_mode"])
        elif stage.kind == "flatten":
            assert p["input_shape"] == x.shape
            got = ops.flatten(x)
        elif stage.kind == "dense":
            got = ops.linear(x, p["weight"], p["bias"])
        else:  # softmax
            got = ops.softmax(x)
        np.testing.assert_allclose(got, stage.output, rtol=0, atol=OPS_ATOL, err_msg=stage.name)


def test_probabilities_and_logits_equal_the_model_in_eval_mode(config):
    """Trace.probabilities is bit-for-bit torch.softmax(model(x)) in eval mode; logits equal
    model(x) and the dense stage; prediction is the argmax."""
    model = CNN(config, seed=3).eval()
    image = _image(3)
    trace = model.trace(image)
    with torch.no_grad():
        logits = model(_batch(image))
    assert np.array_equal(trace.probabilities, torch.softmax(logits, dim=1)[0].numpy())
    assert np.array_equal(trace.logits, logits[0].numpy())
    assert np.array_equal(trace.logits, trace.stage("dense").output)
    assert np.array_equal(trace.probabilities, trace.stage("softmax").output)
    assert trace.prediction == int(np.argmax(trace.probabilities))
    assert abs(float(trace.probabilities.sum()) - 1) <= MAX_ABS_DIFF


def test_input_shapes_accepted_by_trace_give_the_same_trace():
    """(28, 28), (1, 28, 28), (1, 1, 28, 28), float64 and nested lists all trace identically."""
    model = CNN(seed=0)
    image = _image(4)
    reference = model.trace(image)
    for variant in (
        image[None],
        image[None, None],
        image.astype(np.float64),
        image.tolist(),
        np.asfortranarray(image),
    ):
        _assert_traces_equal(model.trace(variant), reference)
    np.testing.assert_array_equal(reference.stage("input").output[0], image)


def test_trace_with_three_input_channels():
    """A 3-channel model traces a (3, 28, 28) image and refuses a (28, 28) one."""
    model = CNN(ModelConfig(in_channels=3, filters=(4,)), seed=0)
    rgb = np.random.default_rng(0).random((3, 28, 28), dtype=np.float32)
    assert model.trace(rgb).stage("conv1").shape == (4, 28, 28)
    with pytest.raises(ValueError, match=r"the image must be 28x28 \(or 3x28x28\)"):
        model.trace(_image())


def test_trace_does_not_mutate_the_model_or_the_image():
    """Tracing leaves the training flag, every parameter and the image untouched and creates no
    gradients, in eval and in train mode."""
    model = CNN(ModelConfig(hidden_units=8, dropout=0.2), seed=0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    image = _image(5)
    image_copy = image.copy()
    for training in (False, True):
        model.train(training)
        trace = model.trace(image)
        assert model.training is training
        assert all(p.grad is None for p in model.parameters())
        assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
        np.testing.assert_array_equal(image, image_copy)
        # the trace holds copies: changing them does not reach the model
        trace.stage("conv1").params["weight"][:] = 99
        trace.stage("input").output[:] = 0
        assert torch.equal(model.stages["conv1"].weight, before["stages.conv1.weight"])
        np.testing.assert_array_equal(image, image_copy)


def test_trace_never_applies_dropout():
    """In train mode with dropout 0.5, a forward pass is random but two traces are identical and
    equal the eval-mode trace: dropout is never applied in a trace."""
    model = CNN(ModelConfig(hidden_units=32, dropout=0.5), seed=0)
    image = _image(6)
    eval_trace = model.eval().trace(image)
    model.train()
    first, second = model.trace(image), model.trace(image)
    _assert_traces_equal(first, second)
    _assert_traces_equal(first, eval_trace)
    x = _batch(image)
    with torch.no_grad():
        dropped = model(x, generator=torch.Generator().manual_seed(0))
    assert not torch.equal(dropped[0], torch.from_numpy(eval_trace.logits))


BAD_IMAGES = {
    "27x28": (
        np.zeros((27, 28), np.float32),
        r"the image must be 28x28 \(or 1x28x28\); got \(27, 28\)",
    ),
    "2 channels": (np.zeros((2, 28, 28), np.float32), "the image must be 28x28"),
    "flat 784": (np.zeros(784, np.float32), "the image must be 28x28"),
    "batch of 2": (np.zeros((2, 1, 28, 28), np.float32), "the image must be 28x28"),
    "NaN": (np.where(np.eye(28), np.nan, 0.0), "the image contains NaN or infinite values"),
    "inf": (np.full((28, 28), np.inf), "the image contains NaN or infinite values"),
    "negative": (np.full((28, 28), -0.5), r"pixel values must be in \[0, 1\]; got -0.5 to -0.5"),
    "above 1": (np.full((28, 28), 1.5), r"pixel values must be in \[0, 1\]"),
    "uint8 0-255": (np.full((28, 28), 255, np.uint8), r"pixel values must be in \[0, 1\]; got 255"),
}


@pytest.mark.parametrize("name", sorted(BAD_IMAGES))
def test_trace_rejects_bad_images(name):
    """A wrong shape, NaN/inf or values outside [0, 1] raise ValueError saying what is wrong."""
    image, message = BAD_IMAGES[name]
    with pytest.raises(ValueError, match=message):
        CNN(seed=0).trace(image)


# ----------------------------------------------------------------------------------------------
# Trace helpers


def test_trace_stage_by_kind_and_input_of():
    """stage() finds by name, by_kind() lists stages of a kind in order, input_of() is the
    previous stage's output; unknown names/kinds and the input stage raise helpful errors."""
    trace = CNN(seed=0).trace(_image(7))
    assert isinstance(trace.stage("conv2"), Stage)
    assert trace.stage("conv2").shape == (16, 14, 14)
    assert [s.name for s in trace.by_kind("conv")] == ["conv1", "conv2"]
    assert [s.name for s in trace.by_kind("activation")] == ["act1", "act2"]
    assert [s.name for s in trace.by_kind("dense")] == ["dense"]
    assert trace.input_of("pool1") is trace.stage("act1").output
    assert trace.input_of("conv1") is trace.stage("input").output
    assert trace.input_of("softmax") is trace.stage("dense").output
    with pytest.raises(ValueError, match=r"no stage called 'conv3'; stages are input, conv1, act1"):
        trace.stage("conv3")
    with pytest.raises(ValueError, match="unknown stage kind 'relu'; kinds are input, conv"):
        trace.by_kind("relu")
    with pytest.raises(ValueError, match="the input stage has no input of its own"):
        trace.input_of("input")
    with pytest.raises(ValueError, match="no stage called 'hidden'"):
        trace.input_of("hidden")


def test_trace_previous_names_the_stage_before():
    """previous() names the stage a stage receives from (the input for conv1, the activation
    for a pooling stage), follows the model's own order, and refuses the input and unknown names."""
    trace = CNN(seed=0).trace(_image(7))
    assert trace.previous("conv1") == "input"
    assert trace.previous("pool1") == "act1"
    assert trace.previous("conv2") == "pool1"
    assert trace.previous("softmax") == "dense"
    assert [trace.previous(n) for n in trace.names[1:]] == trace.names[:-1]
    with pytest.raises(ValueError, match="the input stage has no input of its own"):
        trace.previous("input")
    with pytest.raises(ValueError, match="no stage called 'conv9'"):
        trace.previous("conv9")


def test_stage_params(config):
    """Each stage's params describe its module: conv weight/bias equal the module's and
    stride/padding/kernel the config's; pool mode/kernel/stride; activation function name;
    dense weights; flatten's input shape."""
    model = CNN(config, seed=4)
    trace = model.trace(_image(8))
    for b, (f, k, s, p) in enumerate(config.blocks(), start=1):
        conv, module = trace.stage(f"conv{b}").params, model.stages[f"conv{b}"]
        np.testing.assert_array_equal(conv["weight"], module.weight.detach().numpy())
        np.testing.assert_array_equal(conv["bias"], module.bias.detach().numpy())
        assert conv["weight"].shape[0] == f == conv["out_channels"]
        assert (conv["kernel_size"], conv["stride"], conv["padding"], conv["dilation"]) == (
            k,
            s,
            p,
            1,
        )
        assert conv["num_parameters"] == module.weight.numel() + module.bias.numel()
        if config.batch_norm:
            norm, bn = trace.stage(f"norm{b}").params, model.stages[f"norm{b}"]
            np.testing.assert_array_equal(norm["running_var"], bn.running_var.numpy())
            assert norm["weight"].shape == norm["running_mean"].shape == (f,)
            assert (norm["eps"], norm["momentum"], norm["num_parameters"]) == (1e-5, 0.1, 2 * f)
        act = trace.stage(f"act{b}").params
        assert act["function"] == config.activation
        if config.activation == "leaky_relu":
            assert act["negative_slope"] == config.negative_slope
        if config.pooling != "none":
            pool = trace.stage(f"pool{b}").params
            assert pool["mode"] == config.pooling
            assert (pool["kernel_size"], pool["stride"]) == (config.pool_size, config.pool_stride)
            assert (pool["padding"], pool["ceil_mode"]) == (0, False)
    assert trace.stage("flatten").params["input_shape"] == trace.input_of("flatten").shape
    dense = trace.stage("dense").params
    np.testing.assert_array_equal(dense["weight"], model.stages["dense"].weight.detach().numpy())
    assert (dense["in_features"], dense["out_features"]) == (
        config.hidden_units or config.flat_features,
        config.num_classes,
    )
    assert trace.stage("softmax").params == {"dim": 1}
    assert trace.stage("input").params == {}


# ----------------------------------------------------------------------------------------------
# Concurrency and dropout in forward


def test_four_threads_tracing_at_once_match_sequential_traces():
    """Four threads tracing the same model at the same moment get exactly the sequential results
    (a shared default model serves many sessions)."""
    model = CNN(CONFIGS["three_blocks_avg_leaky_hidden"], seed=5)
    images = [_image(seed) for seed in range(6)]
    sequential = [model.trace(image) for image in images]
    barrier = threading.Barrier(4)

    def work(offset):
        barrier.wait()
        order = images[offset:] + images[:offset]  # each thread starts on a different image
        return offset, [model.trace(image) for image in order]

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(work, range(4)))
    for offset, traces in results:
        for i, trace in enumerate(traces):
            _assert_traces_equal(trace, sequential[(i + offset) % len(images)])


def test_forward_dropout_uses_the_given_generator():
    """In train mode with dropout, the mask comes from the generator passed to forward: the same
    seed gives the same logits, another seed different ones; eval mode is deterministic."""
    model = CNN(ModelConfig(hidden_units=16, dropout=0.5), seed=0).train()
    x = torch.from_numpy(np.stack([_image(9), _image(10)])[:, None])
    with torch.no_grad():
        a = model(x, generator=torch.Generator().manual_seed(7))
        b = model(x, generator=torch.Generator().manual_seed(7))
        c = model(x, generator=torch.Generator().manual_seed(8))
        model.eval()
        d, e = model(x), model(x, generator=torch.Generator().manual_seed(7))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert torch.equal(d, e)
    assert not torch.equal(a, d)
    assert a.shape == (2, 10)


# ----------------------------------------------------------------------------------------------
# Batch normalisation


def _trained_norm_model(seed: int = 5) -> CNN:
    """A batch-norm model whose running statistics, scale and shift are not their initial 1s and
    0s: a few training-mode forward passes, then random scales and shifts."""
    model = CNN(ModelConfig(filters=(4, 6), batch_norm=True), seed=seed)
    g = torch.Generator().manual_seed(seed)
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.rand(16, 1, 28, 28, generator=g))
        for b in (1, 2):
            bn = model.stages[f"norm{b}"]
            bn.weight.copy_(torch.rand(bn.num_features, generator=g) * 2 + 0.5)
            bn.bias.copy_(torch.randn(bn.num_features, generator=g))
    return model.eval()


def test_norm_stages_sit_between_conv_and_activation_and_start_as_the_identity():
    """batch_norm=True adds norm1, norm2 (kind "norm") right after each conv; a new model's norm
    has scale 1, shift 0, running mean 0 and variance 1 (BatchNorm2d's own start), whatever the
    seed, and its 2 x C parameters count."""
    config = ModelConfig(batch_norm=True)
    names = [(n, k) for n, k, _ in config.shapes()][:5]
    assert names == [("input", "input"), ("conv1", "conv"), ("norm1", "norm"),
                     ("act1", "activation"), ("pool1", "pool")]  # fmt: skip
    model = CNN(config, seed=7)
    for b, f in ((1, 8), (2, 16)):
        ours, fresh = model.stages[f"norm{b}"], torch.nn.BatchNorm2d(f)
        for name, tensor in fresh.state_dict().items():
            assert torch.equal(ours.state_dict()[name], tensor), (b, name)
    assert model.num_parameters() == 9098 + 2 * (8 + 16)


def test_norm_stage_equals_batchnorm2d_in_eval_mode_even_on_a_model_in_train_mode():
    """The trace's norm output is nn.BatchNorm2d's in eval mode (within MAX_ABS_DIFF) with the
    model's running statistics, also when the model is in train mode, and tracing changes no
    running statistic (a train-mode forward would normalise with the one image and update them)."""
    model = _trained_norm_model()
    image = _image(4)
    expected = _explicit_forward(model, _batch(image))
    before = copy.deepcopy(model.state_dict())
    model.train()
    trace = model.trace(image)
    for name in ("norm1", "norm2", "dense"):
        diff = np.abs(trace.stage(name).output - expected[name][0].numpy()).max()
        assert diff <= MAX_ABS_DIFF, (name, diff)
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, before[name]), name
    assert model.training


def test_norm_params_and_numpy_op_on_trained_statistics():
    """On non-trivial statistics, the norm stage's params are the module's buffers and
    parameters, and ops.batch_norm on the conv output gives the recorded output (OPS_ATOL)."""
    model = _trained_norm_model(6)
    trace = model.trace(_image(6))
    for b in (1, 2):
        p, bn = trace.stage(f"norm{b}").params, model.stages[f"norm{b}"]
        np.testing.assert_array_equal(p["running_mean"], bn.running_mean.numpy())
        np.testing.assert_array_equal(p["weight"], bn.weight.detach().numpy())
        assert p["num_batches_tracked"] == 3
        assert not np.allclose(p["running_var"], 1.0)
        got = ops.batch_norm(
            trace.input_of(f"norm{b}"), p["running_mean"], p["running_var"], p["weight"],
            p["bias"], p["eps"],
        )  # fmt: skip
        np.testing.assert_allclose(got, trace.stage(f"norm{b}").output, rtol=0, atol=OPS_ATOL)
