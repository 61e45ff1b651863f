"""Model work in turns (issue 25, health under load): a session streaming text holds a model slot only while it
draws characters, never while the page renders them, and hands it to a waiting session every turn."""
import threading
import time

from dashboard import model_slots


def test_a_stream_holds_its_slot_only_while_drawing(monkeypatch):
    monkeypatch.setattr(model_slots, "SLOTS", model_slots.FairSlots(1))
    held_while_drawing, free_while_rendering = [], []

    def chars():
        for ch in "abcdef":
            held_while_drawing.append(model_slots.SLOTS._free == 0)
            yield ch

    for ch in model_slots.in_turns(chars()):
        free_while_rendering.append(model_slots.SLOTS._free == 1)
    assert all(held_while_drawing) and all(free_while_rendering)


def test_a_waiting_session_gets_the_slot_at_the_next_turn(monkeypatch):
    monkeypatch.setattr(model_slots, "SLOTS", model_slots.FairSlots(1))
    monkeypatch.setattr(model_slots, "TURN_S", 0.01)
    started = threading.Event()

    def slow():  # 0.5 s of model work, a character every 2 ms
        started.set()
        for _ in range(250):
            time.sleep(0.002)
            yield "x"

    stream = threading.Thread(target=lambda: "".join(model_slots.in_turns(slow())))
    stream.start()
    started.wait()
    t0 = time.monotonic()
    with model_slots.model_slot():  # another session asks while the first streams
        waited = time.monotonic() - t0
    stream.join()
    assert waited < 0.25, waited  # one turn (10 ms), not the whole stream (0.5 s)
