"""Limits that hold inside the engine's own work (issue 17): every tensor charged to the alive
limit (results, outputs saved for backward, gradients) and given back when it goes; the deadline
and cancellation seen inside a backward pass, a jacobian and an op, not only between a program's
statements; sizes checked before an op allocates what it needs inside, and no padded copies
made at all; torch's
messages for sizes no tensor can have.

The clock the engine reads is replaced by one the test moves (``clock``): no test waits for real
time to pass.
"""

from __future__ import annotations

import threading
import tracemalloc
from collections.abc import Iterator

import pytest

import engine as ge
from engine import context, functional


class Clock:
    """A monotonic clock that moves only when told to, or by ``step`` at every reading."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.step = 0.0
        self.readings = 0

    def __call__(self) -> float:
        self.readings += 1
        self.now += self.step
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    c = Clock()
    monkeypatch.setattr(context, "monotonic", c)
    yield c


# ----- alive accounting -----------------------------------------------------------------------
def test_every_result_is_charged_to_the_alive_limit() -> None:
    """300 names each bound to a unary result once held 301x a tensor under the limit: now the
    result that would pass the limit is refused."""
    held = []
    with ge.execution(limits=ge.Limits(max_alive_elements=10_000)) as ctx:
        x = ge.ones([1000])
        with pytest.raises(ge.LimitExceeded) as err:
            for _ in range(300):
                held.append(ge.exp(x))
        assert err.value.limit == "max_alive_elements"
        assert len(held) == 9  # x and nine results fill the 10,000 elements
        assert ctx.alive == 10_000
        held.clear()
        assert ctx.alive == 1000


def test_an_output_saved_for_backward_stays_charged_after_its_name_goes() -> None:
    """exp saves its output: the array lives in the graph though no name holds its tensor."""
    with ge.execution() as ctx:
        x = ge.ones([1000], requires_grad=True)
        y = x
        for _ in range(10):
            y = ge.exp(y)  # each exp's output is kept by the next node's graph, not by a name
        assert ctx.alive == 11 * 1000
        y.sum().backward()  # frees the saved outputs
        del y
        assert x.grad is not None
        assert ctx.alive == 2 * 1000  # x and its gradient


def test_a_dropped_graph_gives_back_what_it_held() -> None:
    with ge.execution() as ctx:
        x = ge.ones([500], requires_grad=True)
        y = ge.tanh(ge.exp(x))
        assert ctx.alive == 3 * 500
        del y  # the graph goes with its last tensor
        assert ctx.alive == 500


def test_saved_outputs_count_against_the_limit() -> None:
    with ge.execution(limits=ge.Limits(max_alive_elements=5_000)):
        x = ge.ones([1000], requires_grad=True)
        y = x
        with pytest.raises(ge.LimitExceeded) as err:
            for _ in range(10):
                y = ge.exp(y)
        assert err.value.limit == "max_alive_elements"


def test_gradients_are_charged() -> None:
    with ge.execution() as ctx:
        x = ge.ones([1000], requires_grad=True)
        (x * 2).sum().backward()
        assert x.grad is not None
        assert ctx.alive == 2000


# ----- deadline and cancellation inside long work ---------------------------------------------
def _chain(n: int) -> tuple[ge.Tensor, ge.Tensor]:
    x = ge.ones([4], requires_grad=True)
    y = x
    for _ in range(n):
        y = y * 1.5
    return x, y.sum()


def test_backward_stops_at_the_deadline_inside_the_pass(clock: Clock) -> None:
    with ge.execution(limits=ge.Limits(deadline=1010.0, timeout=10.0)):
        x, loss = _chain(50)
        clock.now = 1011.0  # the deadline passes once the graph is built
        reads = clock.readings
        with pytest.raises(ge.DeadlineExceeded) as err:
            loss.backward()
        assert x.grad is None  # stopped before the first node ran to the end
        assert clock.readings - reads == 1  # at the first tensor the pass made
    assert err.value.limit == "request_timeout"
    assert err.value.maximum == 10.0
    assert err.value.value == 11.0
    assert err.value.message == "the program ran longer than 10.0 seconds"


def test_no_more_than_one_op_runs_past_the_deadline(clock: Clock) -> None:
    """With the clock moving one second at every reading, the tensor made first after the
    deadline raises: the work past it is at most the op that made that tensor."""
    clock.step = 1.0
    with ge.execution(limits=ge.Limits(deadline=1020.0, timeout=20.0)):
        made = 0
        with pytest.raises(ge.DeadlineExceeded):
            x = ge.ones([3], requires_grad=True)
            while True:
                x = x * 2.0
                made += 1
    assert clock.now == 1021.0  # the first reading past the deadline raised
    assert made == 19


def test_a_jacobian_stops_at_the_deadline_between_its_passes(clock: Clock) -> None:
    with ge.execution(limits=ge.Limits(deadline=1010.0, timeout=10.0)):
        x = ge.ones([200], requires_grad=True)
        y = ge.exp(x)
        clock.step = 0.1  # about a hundred tensors' time in all
        with pytest.raises(ge.DeadlineExceeded):
            functional.jacobian_of(y, x)
        assert clock.now < 1010.0 + 0.5


def test_a_cancelled_program_stops_inside_a_backward_pass(clock: Clock) -> None:
    cancelled = threading.Event()
    with ge.execution(cancelled=cancelled):
        x, loss = _chain(50)
        cancelled.set()  # what the service does when the client goes away
        clock.now += context.POLL_INTERVAL * 2  # the flag is read every POLL_INTERVAL seconds
        with pytest.raises(ge.Cancelled):
            loss.backward()
        assert x.grad is None


def test_the_graph_walk_looks_at_the_clock(clock: Clock) -> None:
    """A backward pass first walks the graph, making no tensors: a long walk looks too."""
    with ge.execution(limits=ge.Limits(deadline=1010.0, timeout=10.0)):
        x, loss = _chain(20_000)
        clock.now = 1011.0
        before = clock.readings
        with pytest.raises(ge.DeadlineExceeded):
            loss.backward()
        assert clock.readings - before == 1  # at the first check of the walk


# ----- sizes ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("call", "shape"), [
    # a 1x1 window with a long stride: one output element, 576 million once padded
    (lambda: ge.conv2d(ge.ones([1, 1, 1, 1]), ge.ones([1, 1, 1, 1]), padding=12000, stride=24001),
     (1, 1, 1, 1)),
    (lambda: ge.conv2d(ge.ones([1, 1, 1, 1]), ge.ones([1, 1, 2, 2]), padding="same",
                       dilation=1_000_000), (1, 1, 1, 1)),
    (lambda: ge.conv1d(ge.ones([1, 1, 1]), ge.ones([1, 1, 1]), padding=2**40, stride=2**41 + 1),
     (1, 1, 1)),
    (lambda: ge.max_pool2d(ge.ones([1, 1, 3, 3]), 3, stride=10**6, padding=1), (1, 1, 1, 1)),
])
def test_a_wide_padding_costs_what_the_output_does(call: object, shape: tuple[int, ...]) -> None:
    """torch computes these without a padded copy of the input, and so does the engine: the
    unfolded windows are the only intermediate (and are checked before they are made)."""
    tracemalloc.start()
    try:
        with ge.execution(limits=ge.Limits(max_tensor_elements=1_000_000)):
            out = call()  # type: ignore[operator]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert out.shape == shape
    assert peak < 2**20


def test_windows_past_the_limit_are_refused_before_they_are_made() -> None:
    with ge.execution(limits=ge.Limits(max_tensor_elements=1_000_000)), \
            pytest.raises(ge.LimitExceeded) as err:
        ge.conv1d(ge.ones([1, 1, 1]), ge.ones([1, 1, 1]), padding=2**40)
    assert err.value.limit == "max_tensor_elements"


def test_a_widely_padded_convolutions_backward_stays_small() -> None:
    """The gradient is folded back into the input's own size: no padded buffer there either."""
    tracemalloc.start()
    try:
        with ge.execution(limits=ge.Limits(max_tensor_elements=1_000_000)):
            x = ge.ones([1, 1, 30, 30], requires_grad=True)
            w = ge.ones([1, 1, 3, 3], requires_grad=True)
            ge.conv2d(x, w, padding=100_000, stride=100_014).sum().backward()
            assert x.grad is not None
            # of the 2 x 2 outputs, only the last one's window lies on x: x[14:17, 14:17]
            assert x.grad.sum().item() == 9.0
            assert x.grad[0, 0, 14:17, 14:17].sum().item() == 9.0
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**20


@pytest.mark.parametrize(("call", "message"), [
    (lambda: ge.arange(0, 1e308, 1e-308), "invalid size, possible overflow?"),
    (lambda: ge.arange(0, 10, 1e-300), "invalid size, possible overflow?"),
    (lambda: ge.eye(2**62), "numel: integer multiplication overflow"),
    (lambda: ge.eye(2**31), "Storage size calculation overflowed with sizes=[2147483648, 2147483648]"),
    (lambda: ge.zeros([2**62, 2**62, 0]),
     "Storage size calculation overflowed with sizes=[4611686018427387904, 4611686018427387904, 0]"),
    (lambda: ge.arange(0, 2**62), "Storage size calculation overflowed with sizes=[4611686018427387904]"),
])
def test_sizes_torch_refuses_get_its_message(call: object, message: str) -> None:
    with pytest.raises(ge.EngineError) as err:
        call()  # type: ignore[operator]
    assert err.value.message == message


def test_an_empty_shape_the_backend_cannot_hold_is_refused_with_the_reason() -> None:
    """torch makes an empty [2**62, 0] tensor; numpy's arrays cannot have those sizes."""
    with pytest.raises(ge.ShapeError) as err:
        ge.repeat(ge.ones([1]), [2**62, 0])
    assert "[4611686018427387904, 0] cannot be made here" in err.value.message
    assert ge.repeat(ge.ones([1]), [2**40, 0]).shape == (2**40, 0)  # one it can hold


def test_a_pass_through_nodes_that_make_no_tensor_still_stops(clock: Clock) -> None:
    """add's VJP hands its gradient on unchanged: a long chain of adds makes no tensors in its
    backward pass, and the pass looks at the clock every so many nodes instead."""
    with ge.execution(limits=ge.Limits(deadline=1010.0, timeout=10.0)):
        x = ge.ones([3], requires_grad=True)
        y = x
        for _ in range(5000):
            y = y + 1.0
        seed = ge.ones([3])  # (given: the pass itself makes no tensor)
        clock.now = 1011.0
        with pytest.raises(ge.DeadlineExceeded):
            y.backward(seed)
        assert x.grad is None
