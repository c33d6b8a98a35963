"""Forward passes of many sessions share a few slots, first come first served; a waiting request is told how
many are ahead of it, and stops waiting with a sentence after the queue's limit (explorer.runtime.Gate)."""
import threading
import time

import pytest

from explorer import runtime
from explorer.forward import forward
from explorer.models.loader import LoadedModel


class SlowModel:
    """A stub whose forward pass takes `seconds` and notes who ran when."""

    def __init__(self, seconds: float, log: list):
        self.seconds, self.log = seconds, log

    def __call__(self, who):
        self.log.append(("start", who))
        time.sleep(self.seconds)
        self.log.append(("end", who))


def _session(gate, model, who, seen, errors):
    def hook(ahead):
        seen.setdefault(who, []).append(ahead)
    with gate.waiting(hook):
        try:
            with gate.slot():
                model(who)
        except runtime.Busy as e:
            errors[who] = (str(e), list(model.log))   # what had happened when it gave up


def _start(gate, model, who, seen, errors):
    t = threading.Thread(target=_session, args=(gate, model, who, seen, errors))
    t.start()
    while not any(w == who for _, w in model.log) and gate.ahead() < 3 and who not in seen:
        time.sleep(0.01)                # arrival order is fixed: the next session comes once this one queued
    return t


def test_two_waiting_sessions_see_their_place_and_run_in_arrival_order():
    gate, log, seen, errors = runtime.Gate(1, timeout=30), [], {}, {}
    model = SlowModel(0.6, log)
    threads = [_start(gate, model, who, seen, errors) for who in ("first", "second", "third")]
    for t in threads:
        t.join()
    assert [w for kind, w in log if kind == "start"] == ["first", "second", "third"]
    assert "first" not in seen                            # a free slot: no notice at all
    assert seen["second"][0] == 1 and seen["second"][-1] is None       # "1 request ahead of you", then gone
    assert seen["third"][0] == 2 and 1 in seen["third"] and seen["third"][-1] is None
    assert errors == {}


def test_slots_run_side_by_side_and_a_nested_pass_keeps_its_slot():
    gate, log, seen, errors = runtime.Gate(2, timeout=30), [], {}, {}
    model = SlowModel(0.4, log)
    a = _start(gate, model, "a", seen, errors)
    b = _start(gate, model, "b", seen, errors)
    a.join(), b.join()
    assert log[:2] == [("start", "a"), ("start", "b")] and seen == {}   # two slots: nobody waited
    with gate.slot():
        with gate.slot():                                 # re-entrant: no deadlock on one's own slot
            assert gate.ahead() == 1


def test_a_request_that_waits_too_long_gets_a_sentence_not_a_wait_forever():
    gate, log, seen, errors = runtime.Gate(1, timeout=0.5), [], {}, {}
    model = SlowModel(2.0, log)
    first = _start(gate, model, "first", seen, errors)
    _session(gate, model, "late", seen, errors)
    first.join()
    message, then = errors["late"]
    assert ("end", "first") not in then                   # gave up while the slot was still taken
    assert message.startswith("The server is busy: 1 request was still ahead of yours after")
    assert message.endswith("Please try again in a moment.") and seen["late"] == [1, None]
    assert ("start", "late") not in log and gate.ahead() == 0   # it left the queue


def test_every_forward_pass_goes_through_the_gate(monkeypatch):
    from transformers import GPT2Config, GPT2LMHeadModel
    cfg = GPT2Config(n_layer=1, n_head=2, n_embd=16, vocab_size=32, n_positions=16)
    cfg._attn_implementation = "eager"
    lm = LoadedModel.in_memory(GPT2LMHeadModel(cfg), name="stub")
    gate = runtime.Gate(1, timeout=0.3)
    monkeypatch.setattr(runtime, "GATE", gate)
    release, t = _held(gate)
    try:
        with pytest.raises(runtime.Busy):
            forward(lm, [1, 2, 3])
    finally:
        release.set()
        t.join()
    assert forward(lm, [1, 2, 3]).output.logits.shape[-1] == 32   # a free slot: the pass runs


def test_the_slot_count_follows_the_cpu_and_the_environment(monkeypatch):
    monkeypatch.setenv("EXPLORER_FORWARD_SLOTS", "3")
    assert runtime.forward_slots() == 3
    monkeypatch.delenv("EXPLORER_FORWARD_SLOTS")
    monkeypatch.setenv("EXPLORER_TORCH_THREADS", "1")
    assert runtime.forward_slots() == max(1, __import__("os").cpu_count())
    monkeypatch.setenv("EXPLORER_QUEUE_SECONDS", "nonsense")
    assert runtime.queue_seconds() == 60.0


def test_a_wait_that_fails_leaves_the_line():
    gate, log, seen, errors = runtime.Gate(1, timeout=30), [], {}, {}
    model = SlowModel(0.5, log)
    first = _start(gate, model, "first", seen, errors)

    def broken(ahead):
        raise KeyboardInterrupt          # e.g. the session stops while it waits
    with gate.waiting(broken), pytest.raises(KeyboardInterrupt):
        with gate.slot():
            pass
    first.join()
    assert gate.ahead() == 0             # nobody is left waiting behind a ticket that is gone


def test_a_notice_that_cannot_be_drawn_does_not_stop_the_request():
    gate, log = runtime.Gate(1, timeout=30), []
    model = SlowModel(0.3, log)
    first = _start(gate, model, "first", {}, {})

    def broken(ahead):
        raise RuntimeError("no page to draw on")
    with gate.waiting(broken):
        with gate.slot():
            model("second")
    first.join()
    assert [w for kind, w in log if kind == "start"] == ["first", "second"]


def _held(gate):
    """A thread that holds the gate's only slot until released: (release event, thread)."""
    holder, release = threading.Event(), threading.Event()

    def hold():
        with gate.slot():
            holder.set()
            release.wait(5)
    t = threading.Thread(target=hold)
    t.start()
    holder.wait(5)
    return release, t


def test_engine_code_that_calls_the_model_itself_waits_in_the_same_queue(monkeypatch):
    """KV-cache measurement, few-shot scoring, seq2seq decoding, captioning and training steps feed the model
    directly (batches, decoding loops): each takes a slot first, so a busy server makes them wait their turn."""
    from transformers import GPT2Config, GPT2LMHeadModel

    from explorer import adapt, families, kvcache, multimodal
    cfg = GPT2Config(n_layer=1, n_head=2, n_embd=16, vocab_size=32, n_positions=16)
    cfg._attn_implementation = "eager"
    lm = LoadedModel.in_memory(GPT2LMHeadModel(cfg), name="stub")
    gate = runtime.Gate(1, timeout=0.3)
    monkeypatch.setattr(runtime, "GATE", gate)
    calls = [lambda: kvcache.measure(lm, 4, start_id=0),
             lambda: families.score_queries(lm.model, None, "", ["q"]),
             lambda: families.run_seq2seq(lm.model, None, "text"),
             lambda: multimodal.caption(lm, None),
             lambda: multimodal._score(lm, [1], [2], None),
             lambda: adapt.train_step(lm.model, None, None)]
    release, t = _held(gate)
    try:
        for call in calls:
            with pytest.raises(runtime.Busy):
                call()
    finally:
        release.set()
        t.join()
    m = kvcache.measure(lm, 4, start_id=0)           # a free slot: the measurement runs
    assert list(m.lengths) == [1, 2, 3, 4] and gate.ahead() == 0


class CountingGate(runtime.Gate):
    """A gate that counts the places taken in its line (a re-entrant pass inside a held slot takes none)."""

    def __init__(self):
        super().__init__(1, timeout=5)
        self.waits = 0

    def slot(self):
        if not getattr(self._local, "held", False):
            self.waits += 1
        return super().slot()


def test_a_decoding_loop_waits_in_line_once_not_once_per_token(monkeypatch):
    """With 30 sessions, a loop that queued for every token waited behind everyone else T times (the Efficient
    page's window run: 56 s median per visit under load). Each engine loop holds one place for its whole run."""
    from explorer import efficient, pipeline
    from explorer.forward import encode
    from explorer.generation import Generation, Sampling
    from explorer.models import loader
    lm = loader.load("tiny-gpt2")
    text = "Where is my order? It left the warehouse on Monday."
    runs = {"efficient window run": lambda: efficient.run_window(lm, text, 3),
            "pipeline trace": lambda: pipeline.trace(lm, text),
            "eight decoding steps": lambda: Generation(lm, encode(lm, text).ids, Sampling()).run(lm, 8)}
    for name, run in runs.items():
        gate = CountingGate()
        monkeypatch.setattr(runtime, "GATE", gate)
        run()
        assert gate.waits == 1, name
