"""Tests for cnn_core.limits: env limits, the training-slot queue, model-size caps."""

import logging
import threading

import pytest

from cnn_core import CNN, ModelConfig
from cnn_core.checkpoint import MAX_BYTES, save_checkpoint
from cnn_core.limits import (
    DEFAULTS,
    MAX_ACTIVATION_VALUES,
    MAX_PARAMETERS,
    ModelTooLargeError,
    TrainingSlots,
    check_model_size,
    limit_train_config,
    load_limits,
    model_size,
    shared_slots,
)
from cnn_core.train import TrainConfig

JOIN = 10  # seconds a test thread may take before the test gives up (never asserted as a time)

# ----------------------------------------------------------------------------------------------
# Environment


def test_defaults_without_env_vars():
    """No CONVSCOPE_* variables: the documented defaults."""
    limits = load_limits({})
    assert limits == DEFAULTS
    assert (limits.max_epochs, limits.training_slots, limits.threads) == (20, 1, 1)


def test_env_vars_are_read():
    """Every variable sets its field, with surrounding spaces ignored."""
    env = {
        "CONVSCOPE_MAX_EPOCHS": "7",
        "CONVSCOPE_MAX_TRAIN_IMAGES": " 12000 ",
        "CONVSCOPE_MAX_TRAIN_SECONDS": "90.5",
        "CONVSCOPE_TRAINING_SLOTS": "2",
        "CONVSCOPE_THREADS": "2",
    }
    limits = load_limits(env)
    assert limits.max_epochs == 7
    assert limits.max_train_images == 12000
    assert limits.max_train_seconds == 90.5
    assert limits.training_slots == 2
    assert limits.threads == 2


@pytest.mark.parametrize(
    "name, raw",
    [
        ("CONVSCOPE_MAX_EPOCHS", "lots"),
        ("CONVSCOPE_MAX_EPOCHS", "0"),
        ("CONVSCOPE_MAX_EPOCHS", "2.5"),
        ("CONVSCOPE_MAX_EPOCHS", "1000"),
        ("CONVSCOPE_TRAINING_SLOTS", "-1"),
        ("CONVSCOPE_THREADS", "0"),
        ("CONVSCOPE_MAX_TRAIN_SECONDS", "nan"),
        ("CONVSCOPE_MAX_TRAIN_SECONDS", "inf"),
        ("CONVSCOPE_MAX_TRAIN_IMAGES", "1e9"),
    ],
)
def test_invalid_env_values_fall_back_with_a_warning(name, raw, caplog):
    """A value that is not a number in range keeps the default and logs the variable's name."""
    with caplog.at_level(logging.WARNING, logger="cnn_core.limits"):
        limits = load_limits({name: raw})
    assert limits == DEFAULTS
    assert name in caplog.text


def test_empty_env_value_is_unset(caplog):
    """An empty variable means 'not set': default, no warning."""
    with caplog.at_level(logging.WARNING, logger="cnn_core.limits"):
        assert load_limits({"CONVSCOPE_THREADS": ""}) == DEFAULTS
    assert caplog.text == ""


def test_load_limits_reads_os_environ(monkeypatch):
    """Without an argument the process environment is read."""
    monkeypatch.setenv("CONVSCOPE_MAX_EPOCHS", "3")
    assert load_limits().max_epochs == 3


def test_limit_train_config_caps_and_explains():
    """Epochs and images above the limits are lowered with a note; the time limit is set."""
    limits = load_limits({"CONVSCOPE_MAX_EPOCHS": "4", "CONVSCOPE_MAX_TRAIN_IMAGES": "1000"})
    config, notes = limit_train_config(TrainConfig(epochs=10, max_images=5000), limits)
    assert (config.epochs, config.max_images) == (4, 1000)
    assert config.max_seconds == limits.max_train_seconds
    assert len(notes) == 2 and "10 to 4" in notes[0] and "5,000 to 1,000" in notes[1]


def test_limit_train_config_keeps_what_is_within_limits():
    """A config within the limits keeps its values and gets no notes; max_images None (all
    images) becomes the cap silently."""
    config, notes = limit_train_config(TrainConfig(epochs=3, max_seconds=5), DEFAULTS)
    assert notes == []
    assert (config.epochs, config.max_seconds) == (3, 5)
    assert config.max_images == DEFAULTS.max_train_images


# ----------------------------------------------------------------------------------------------
# Training slots


def test_first_ticket_runs_at_once_second_waits():
    """One slot: the first ticket holds it (position 0), the second is number 1 in the queue."""
    slots = TrainingSlots(1)
    a, b = slots.ticket(), slots.ticket()
    assert (a.position, b.position) == (0, 1)
    assert a.active and not b.active
    assert a.wait(0) and not b.wait(0.01)
    assert (slots.running, slots.waiting) == (1, 1)


def test_positions_move_up_in_order():
    """Releasing the running ticket gives the slot to the oldest waiter; positions count down."""
    slots = TrainingSlots(1)
    tickets = [slots.ticket() for _ in range(4)]
    assert [t.position for t in tickets] == [0, 1, 2, 3]
    tickets[0].release()
    assert [t.position for t in tickets] == [None, 0, 1, 2]
    tickets[2].cancel()  # someone in the middle gives up
    assert [t.position for t in tickets] == [None, 0, None, 1]


def test_two_slots_run_two_at_once():
    """Capacity 2: two tickets run, the third waits as number 1."""
    slots = TrainingSlots(2)
    tickets = [slots.ticket() for _ in range(3)]
    assert [t.position for t in tickets] == [0, 0, 1]


def test_release_and_cancel_are_idempotent():
    """Releasing twice, or cancelling a released ticket, changes nothing for the others."""
    slots = TrainingSlots(1)
    a, b, c = slots.ticket(), slots.ticket(), slots.ticket()
    a.release()
    a.release()
    a.cancel()
    assert (a.position, b.position, c.position) == (None, 0, 1)


def test_two_sessions_in_threads_take_turns():
    """Two sessions on their own threads: the second starts only after the first released."""
    slots, log = TrainingSlots(1), []
    first = slots.ticket()
    second_waiting = threading.Event()

    def session_two():
        with slots.ticket() as ticket:
            second_waiting.set()
            assert ticket.wait(JOIN)
            log.append("two runs")

    thread = threading.Thread(target=session_two)
    thread.start()
    assert second_waiting.wait(JOIN)
    log.append("one runs")
    first.release()
    thread.join(JOIN)
    assert not thread.is_alive()
    assert log == ["one runs", "two runs"]
    assert (slots.running, slots.waiting) == (0, 0)


def test_waiters_are_served_first_come_first_served():
    """Five threads queue in a known order behind a held slot; they run in that order."""
    slots, order, lock = TrainingSlots(1), [], threading.Lock()
    holder = slots.ticket()
    threads = []
    for n in range(5):
        ticket = slots.ticket()  # taken here, in order, so the queue order is known

        def run(ticket=ticket, n=n):
            with ticket:
                assert ticket.wait(JOIN)
                with lock:
                    order.append(n)

        threads.append(threading.Thread(target=run))
    for thread in reversed(threads):  # start them in the opposite order on purpose
        thread.start()
    holder.release()
    for thread in threads:
        thread.join(JOIN)
    assert order == [0, 1, 2, 3, 4]


def test_cancel_wakes_a_waiting_thread():
    """A learner who cancels while waiting: wait() returns False and the ticket leaves."""
    slots = TrainingSlots(1)
    holder = slots.ticket()
    waiter = slots.ticket()
    result, started = [], threading.Event()

    def wait():
        started.set()
        result.append(waiter.wait(JOIN))

    thread = threading.Thread(target=wait)
    thread.start()
    started.wait(JOIN)
    waiter.cancel()
    thread.join(JOIN)
    assert result == [False]
    assert waiter.position is None and holder.position == 0


def test_exception_releases_the_slot():
    """An exception inside the with block (a crash, or Streamlit stopping the script) frees the
    slot for the next ticket."""
    slots = TrainingSlots(1)
    with pytest.raises(RuntimeError), slots.ticket() as ticket:
        assert ticket.active
        raise RuntimeError("training crashed")
    after = slots.ticket()
    assert after.position == 0


def test_leaving_the_block_while_waiting_leaves_the_queue():
    """A ticket that never got a slot and whose block ends (e.g. Stop while waiting) no longer
    blocks the queue."""
    slots = TrainingSlots(1)
    holder = slots.ticket()
    with slots.ticket() as waiting:
        assert waiting.position == 1
    third = slots.ticket()
    assert third.position == 1
    holder.release()
    assert third.position == 0


def test_wait_steps_yields_positions_until_running():
    """wait_steps reports the position while waiting and ends once the ticket runs."""
    slots = TrainingSlots(1)
    holder, ticket = slots.ticket(), slots.ticket()
    seen = []
    for position in ticket.wait_steps(step=0.01):
        seen.append(position)
        if len(seen) == 3:
            holder.release()
    assert seen == [1, 1, 1]
    assert ticket.active


def test_wait_steps_timeout_cancels():
    """A wait_steps timeout raises TimeoutError and takes the ticket out of the queue."""
    slots = TrainingSlots(1)
    slots.ticket()
    ticket = slots.ticket()
    with pytest.raises(TimeoutError):
        for _ in ticket.wait_steps(step=0.01, timeout=0.05):
            pass
    assert ticket.position is None and slots.waiting == 0


def test_wait_steps_after_cancel_raises():
    """Cancelling from elsewhere (another rerun of the session) ends wait_steps."""
    slots = TrainingSlots(1)
    slots.ticket()
    ticket = slots.ticket()
    with pytest.raises(RuntimeError, match="cancelled"):
        for _ in ticket.wait_steps(step=0.01):
            ticket.cancel()


@pytest.mark.parametrize("capacity", [0, -1, 1.5, True, "2"])
def test_capacity_must_be_a_positive_whole_number(capacity):
    """A pool needs at least one slot."""
    with pytest.raises(ValueError, match="capacity"):
        TrainingSlots(capacity)


def test_shared_slots_is_one_pool_per_process():
    """Every caller gets the same pool object."""
    assert shared_slots() is shared_slots()
    assert shared_slots().capacity >= 1


def test_many_threads_never_exceed_capacity():
    """Twenty threads competing for two slots: never more than two inside at once."""
    slots, lock, inside, peak = TrainingSlots(2), threading.Lock(), [0], [0]

    def run():
        with slots.ticket() as ticket:
            assert ticket.wait(JOIN)
            with lock:
                inside[0] += 1
                peak[0] = max(peak[0], inside[0])
            with lock:
                inside[0] -= 1

    threads = [threading.Thread(target=run) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN)
    assert peak[0] <= 2 and inside[0] == 0
    assert (slots.running, slots.waiting) == (0, 0)


# ----------------------------------------------------------------------------------------------
# Model size


@pytest.mark.parametrize(
    "config",
    [
        ModelConfig(),
        ModelConfig(filters=(64, 64), kernel_size=7, padding=3, hidden_units=256),
        ModelConfig(filters=(4,), kernel_size=5, pooling="avg", hidden_units=32),
        ModelConfig(filters=(16, 32, 64), stride=(1, 2, 1), pooling="none"),
    ],
)
def test_parameter_count_equals_torch(config):
    """model_size counts exactly the parameters PyTorch builds."""
    assert model_size(config).parameters == CNN(config, seed=0).num_parameters()


def test_activation_sizes_of_the_default_model():
    """Default model: the largest stage output is conv1 (8x28x28 = 6,272 values)."""
    size = model_size(ModelConfig())
    assert (size.largest_stage, size.largest_activation) == ("conv1", 8 * 28 * 28)
    assert size.checkpoint_bytes == 4 * 9098


def test_default_model_passes():
    """The default model, with the sidebar's largest batch, is allowed."""
    assert check_model_size(ModelConfig(), batch_size=256).parameters == 9098


def test_too_many_weights_is_refused_with_advice():
    """64 maps of 28x28 into a 256-unit hidden layer (12.9M weights) is refused, and the
    message names the count, the limit and what to change."""
    config = ModelConfig(filters=(64,), kernel_size=7, padding=3, pooling="none", hidden_units=256)
    with pytest.raises(ModelTooLargeError) as err:
        check_model_size(config)
    message = str(err.value)
    assert "12,851,082 weights" in message and f"{MAX_PARAMETERS:,}" in message
    assert "fewer filters" in message


def test_too_large_activation_is_refused():
    """A 64x64 input with 64 filters and padding 3 (64x70x70 per image) is refused for its
    activations, naming the stage."""
    config = ModelConfig(filters=(64,), kernel_size=1, padding=3, input_size=64, num_classes=2)
    size = model_size(config)
    assert size.largest_activation > MAX_ACTIVATION_VALUES
    assert size.parameters <= MAX_PARAMETERS  # so the activation check is the one that fires
    with pytest.raises(ModelTooLargeError, match="conv1"):
        check_model_size(config)


def test_large_batch_is_refused_when_memory_would_run_out():
    """A model that is fine with small batches is refused with a huge batch, suggesting a smaller
    batch size."""
    config = ModelConfig(filters=(64, 64), kernel_size=7, padding=3, hidden_units=256)
    check_model_size(config, batch_size=16)
    with pytest.raises(ModelTooLargeError, match="smaller batch size"):
        check_model_size(config, batch_size=1024)


def test_largest_allowed_model_can_be_saved():
    """A model just under the weight cap fits in a checkpoint under MAX_BYTES."""
    # 1 block of 64 maps 14x14 (after pooling) -> 12,544 features -> dense 10: ~126k weights;
    # add a hidden layer of 64 units: 12,544*64 + ... ~ 803k weights, under the cap.
    config = ModelConfig(filters=(64,), kernel_size=3, padding=1, hidden_units=64)
    size = check_model_size(config)
    assert size.parameters > MAX_PARAMETERS // 2
    assert len(save_checkpoint(CNN(config, seed=0))) < MAX_BYTES


def test_cap_leaves_room_for_the_checkpoint_header():
    """MAX_PARAMETERS float32 weights plus headroom fit in the checkpoint limit."""
    assert 4 * MAX_PARAMETERS < MAX_BYTES


# ----------------------------------------------------------------------------------------------
# Torch threads


def _in_new_thread(fn):
    """fn()'s result, run on a fresh thread (torch's thread count is per thread)."""
    out = []
    thread = threading.Thread(target=lambda: out.append(fn()))
    thread.start()
    thread.join(JOIN)
    return out[0]


def test_configure_torch_sets_the_thread_count():
    """configure_torch(n) sets and returns n for the calling thread."""
    import torch

    from cnn_core.runtime import configure_torch

    before = torch.get_num_threads()
    try:
        assert _in_new_thread(lambda: (configure_torch(1), torch.get_num_threads())) == (1, 1)
    finally:
        torch.set_num_threads(before)


def test_configure_torch_default_is_one_thread(monkeypatch):
    """Without CONVSCOPE_THREADS the default is one thread."""
    import torch

    from cnn_core import runtime

    monkeypatch.delenv("CONVSCOPE_THREADS", raising=False)
    runtime._env_threads.cache_clear()
    before = torch.get_num_threads()
    try:
        assert _in_new_thread(runtime.configure_torch) == 1
    finally:
        runtime._env_threads.cache_clear()
        torch.set_num_threads(before)


@pytest.mark.parametrize("threads", [0, -2, 1.5, True])
def test_configure_torch_refuses_bad_counts(threads):
    """A thread count must be a whole number of at least 1."""
    from cnn_core.runtime import configure_torch

    with pytest.raises(ValueError, match="threads"):
        configure_torch(threads)
