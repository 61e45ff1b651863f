"""Training: exact resume, divergence handling, the sample timeline and the checkpoint card."""
import copy
import time

import pytest
import torch

from core.charlm.checkpoint import load_checkpoint
from core.charlm.train import Trainer, train
from core.common.events import StepEvent
from core.common.loop import TrainingError
from tests.tiny_checkpoint import SONNETS, tiny_config


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_a_killed_run_resumes_exactly(tmp_path, cell):
    whole = train(tiny_config(tmp_path / "whole", cell=cell, dropout=0.2))
    steps = []
    cut = tiny_config(tmp_path / "cut", cell=cell, dropout=0.2)
    train(cut, on_event=lambda e: steps.append(e.step) if isinstance(e, StepEvent) else None,
          should_stop=lambda: len(steps) >= 3)  # "killed" after step 3, the checkpoint at step 3 remains
    assert load_checkpoint(tmp_path / "cut").card["steps"] == 3
    resumed = train(tiny_config(tmp_path / "cut", cell=cell, dropout=0.2, resume=True))
    a, b = load_checkpoint(whole).model.state_dict(), load_checkpoint(resumed).model.state_dict()
    for name in a:
        torch.testing.assert_close(a[name], b[name], atol=0, rtol=0)


def test_a_diverging_loss_stops_with_a_message_and_keeps_the_checkpoint(tmp_path):
    trainer = Trainer(tiny_config(tmp_path / "run"))
    for _ in range(2):
        trainer.train_step()
    trainer.save(trainer.validate())
    with torch.no_grad():
        trainer.model.head.weight.fill_(float("nan"))
    with pytest.raises(TrainingError, match=r"step 3.*checkpoint \(step 2\)"):
        trainer.train_step()
    assert load_checkpoint(tmp_path / "run").card["steps"] == 2


def test_the_checkpoint_records_card_curve_and_timeline(tiny_checkpoint):
    ckpt = load_checkpoint(tiny_checkpoint)
    card = ckpt.card
    assert card["steps"] == 20 and card["n_params"] == ckpt.model.n_params()
    assert card["val_bpc"] == pytest.approx(card["val_loss"] / 0.693147, rel=1e-3)
    assert card["corpus"] == str(SONNETS.resolve()) and card["cell"] == "lstm"
    last = ckpt.samples["timeline"][-1]
    assert last["step"] == 20 and len(last["text"]) == 300
    assert [c["step"] for c in ckpt.samples["curve"] if c["val_loss"] is not None][-1] == 20


def test_bad_settings_are_refused(tmp_path):
    with pytest.raises(ValueError, match="max-steps or --max-minutes"):
        tiny_config(tmp_path, max_steps=None)
    with pytest.raises(ValueError, match="cell"):
        tiny_config(tmp_path, cell="tcn")


def test_fine_tuning_starts_from_the_parent_and_continues_its_history(tmp_path, tiny_checkpoint):
    parent = load_checkpoint(tiny_checkpoint)
    text = tmp_path / "limerick.txt"
    text.write_text("There was an old man with a beard, who said: it is just as I feared! ~\n" * 40)
    trainer = Trainer(tiny_config(tmp_path / "ft", corpus=str(text), init_from=str(tiny_checkpoint),
                                  hidden_size=99, dropout=0.3, max_steps=4))
    assert trainer.model.config == parent.model.config.__class__(**{**vars(parent.model.config), "dropout": 0.3})
    for name, value in parent.model.state_dict().items():
        torch.testing.assert_close(trainer.model.state_dict()[name], value, atol=0, rtol=0)
    assert trainer.vocab.encode("~")[0] == 0  # a character the parent never saw reads as unknown
    trainer.commands[-1] = "python -m core.cli.train --init-from ..."
    out = trainer.run(lambda e: None, lambda: False)
    child = load_checkpoint(out)
    assert child.card["steps"] == parent.card["steps"] + 4  # the budget counts this run's steps only
    assert child.samples["timeline"][:len(parent.samples["timeline"])] == parent.samples["timeline"]
    assert child.card["commands"] == [parent.card["command"], "python -m core.cli.train --init-from ..."]
    resumed = Trainer(tiny_config(tmp_path / "ft", corpus=str(text), max_steps=6, resume=True))
    assert (resumed.loop.step, resumed.loop.base_step) == (parent.card["steps"] + 4, parent.card["steps"])


def test_a_resume_with_no_steps_left_finishes_the_run_with_a_full_validation(tmp_path):
    import json
    cut = tiny_config(tmp_path / "run", max_steps=6)
    steps = []
    train(cut, on_event=lambda e: steps.append(e) if isinstance(e, StepEvent) else None,
          should_stop=lambda: len(steps) >= 3)
    before = load_checkpoint(tmp_path / "run").card
    train(tiny_config(tmp_path / "run", max_steps=3, resume=True))  # the budget is already spent
    card = json.loads((tmp_path / "run" / "card.json").read_text(), parse_constant=pytest.fail)  # no NaN
    assert card["steps"] == 3 and card["train_loss"] == before["train_loss"]


def test_resuming_a_fine_tune_trains_only_the_minutes_asked_for(tmp_path, tiny_checkpoint):
    import json
    import shutil

    from core.charlm.settings import resume_config
    parent = tmp_path / "parent"
    shutil.copytree(tiny_checkpoint, parent)
    card = json.loads((parent / "card.json").read_text())
    (parent / "card.json").write_text(json.dumps({**card, "train_seconds": 9720.0}))  # like shakespeare-lstm
    ft = tiny_config(tmp_path / "ft", init_from=str(parent), max_steps=2)
    train(ft)
    cfg = resume_config(ft, 5.0)
    resumed = Trainer(cfg)
    assert resumed.loop.base_elapsed == 9720.0 and resumed.loop.elapsed > 9720.0
    seconds_left = (1 - resumed.loop.progress()) * 60 * cfg.max_minutes
    assert seconds_left == pytest.approx(300.0)


def test_the_run_keeps_the_state_with_the_best_interval_validation(tmp_path):
    trainer = Trainer(tiny_config(tmp_path / "run", max_steps=6, eval_every=3, checkpoint_every=3))
    interval = iter([1.0, 1.5, 1.5])  # step 3, step 6, the final comparison: step 6 over-fits
    trainer.validate = lambda full=False: 1.25 if full else next(interval)
    at_step_3 = {}
    trainer.run(lambda e: at_step_3.update(copy.deepcopy(trainer.model.state_dict()))
                if isinstance(e, StepEvent) and e.step == 3 else None, lambda: False)
    ckpt = load_checkpoint(tmp_path / "run")
    assert ckpt.card["steps"] == 3 and ckpt.card["trained_steps"] == 6 and ckpt.card["val_loss"] == 1.25
    assert max(p["step"] for p in ckpt.samples["curve"]) == 3  # the history of the kept model
    for name, value in at_step_3.items():
        torch.testing.assert_close(ckpt.model.state_dict()[name], value, atol=0, rtol=0)
    assert Trainer(tiny_config(tmp_path / "run", max_steps=9, resume=True)).loop.step == 3  # resumes from the kept one


def test_unset_knobs_come_from_the_corpus_size_and_the_device(tmp_path):
    from core.charlm.settings import auto_settings, with_auto_settings
    one_mb = auto_settings(1_000_000, "cpu").settings  # no budget to plan for: many small steps, no dropout
    assert one_mb == {"n_layer": 2, "hidden_size": 256, "dropout": 0.0, "batch_size": 16, "seq_len": 64, "lr": 4e-3}
    small = auto_settings(100_000, "cpu").settings  # read many times: smaller and with dropout
    assert (small["hidden_size"], small["dropout"]) == (128, 0.25)
    assert auto_settings(5_000_000, "cuda").settings == {"n_layer": 3, "hidden_size": 1024, "dropout": 0.1,
                                                         "batch_size": 128, "seq_len": 128, "lr": 1e-3}
    cfg, _ = with_auto_settings(tiny_config(tmp_path, dropout=None, lr=None), 1_000_000, "cpu")
    assert (cfg.hidden_size, cfg.dropout, cfg.lr, cfg.batch_size, cfg.seq_len) == (16, 0.0, 4e-3, 4, 16)  # given stay


def test_a_cpu_budget_that_reads_the_text_more_often_gets_a_wider_model_with_dropout():
    from core.charlm.settings import auto_settings, cpu_dropout, reads_for_budget
    speed = 16_000  # chars/s of the 2 x 256 model: a 1M-character text read about once a minute
    choices = {m: auto_settings(1_000_000, "cpu", reads_for_budget(1_000_000, None, m, 1024, speed)) for m in (1, 5, 12, 20)}
    widths = [choices[m].settings["hidden_size"] for m in (1, 5, 12, 20)]
    dropouts = [choices[m].settings["dropout"] for m in (1, 5, 12, 20)]
    assert widths == sorted(widths) and widths[0] == 256 and widths[-1] > 256
    assert dropouts[0] == 0.0 and dropouts[-1] > 0.0
    assert choices[1].reads == pytest.approx(60 * speed / 1_000_000)
    assert [cpu_dropout(r) for r in (0.5, 2, 4, 8, 30)] == sorted(cpu_dropout(r) for r in (0.5, 2, 4, 8, 30))
    # a step budget is read exactly (no timing): 1,000 steps of 16 x 64 over 1,024,000 characters is one read
    assert reads_for_budget(1_024_000, 1000, None, 1024, None)(384) == pytest.approx(1.0)
    # both given: whichever runs out first; time scales with width squared
    both = reads_for_budget(1_000_000, 10_000, 5, 1000, 16_000)
    assert both(256) == pytest.approx(4.8) and both(512) == pytest.approx(1.2)  # (any width, by formula)
    assert reads_for_budget(1_000_000, None, 5, 1024, None) is None  # minutes but no measured speed


def test_a_fresh_run_records_its_auto_choice_on_its_card_and_the_speed_probe_keeps_the_rng(tmp_path):
    from core.charlm.model import CharRNNConfig
    from core.charlm.speed import training_chars_per_second
    torch.manual_seed(0)
    before = torch.get_rng_state()
    assert training_chars_per_second(CharRNNConfig(20, "lstm", 1, 8, 0.0), 2, 8, torch.device("cpu")) > 0
    assert torch.equal(torch.get_rng_state(), before)
    planned = load_checkpoint(train(tiny_config(tmp_path / "auto", hidden_size=None, dropout=None, max_steps=4)))
    note = planned.card["settings_note"]  # a tiny text: the small-corpus rule, with its budget's reads
    assert note.startswith("settings: 2 x 128 lstm, dropout 0.25") and "reads the training text about" in note
    own_width = load_checkpoint(train(tiny_config(tmp_path / "own", dropout=None, max_steps=4)))
    assert own_width.card["settings_note"] == "settings: 2 x 16 lstm, dropout 0.25, batch 4 x 16, lr 0.01"  # no plan


def test_the_progress_line_shows_steps_and_characters_per_second_and_the_time_left(capsys):
    from core.cli.train import ProgressLine
    line = ProgressLine(enabled=True)
    for step in (1, 2, 3):
        time.sleep(0.05)
        line.show(StepEvent(step, 2.0, 5000.0, 1e-3, step / 10))
    line.close()
    err = capsys.readouterr().err
    assert "steps/s" in err and "5,000 chars/s" in err and "ETA 0:0" in err and "‰" not in err
