"""rnnlens sample --clamp/--ablate (free and clamped samples side by side) and the trainer's cells-emerging probe."""
import json

import pytest

from core.cli import sample
from tests.tiny_checkpoint import SONNETS, make_checkpoint


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return str(make_checkpoint(tmp_path_factory.mktemp("clamp") / "tiny", "lstm", n_layer=2, corpus=str(SONNETS)))


@pytest.mark.slow
def test_clamp_prints_both_streams_and_diff(tiny, capsys):
    assert sample.main(["--checkpoint", tiny, "--clamp", "1:c:3=0.9", "--ablate", "0:h:2", "--length", "80",
                        "--prime", "ROMEO", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    free, clamped = out.split("---- free ----\n")[1].split("\n---- clamped ----\n")
    clamped = clamped.split("\n---- diff")[0]
    assert len(free) == len(clamped) == 80
    assert "1:c:3=0.900" in out and "0:h:2=" in out and "first divergence" in out


@pytest.mark.slow
def test_clamp_is_deterministic_per_seed(tiny, capsys):
    runs = []
    for _ in range(2):
        sample.main(["--checkpoint", tiny, "--clamp", "0:h:1=-1", "--length", "60", "--seed", "5"])
        runs.append(capsys.readouterr().out)
    assert runs[0] == runs[1]


@pytest.mark.parametrize("flags, message", [
    (["--clamp", "1:x:3=1"], "must look like"),
    (["--clamp", "5:c:3=1"], "layer 5 does not exist"),
    (["--clamp", "0:c:99=1"], "out of range"),
    (["--clamp", "0:c:1=big"], "must be a number"),
    (["--ablate", "0:c:1", "--greedy"], "drop --beam and --greedy"),
])
def test_bad_clamp_gets_a_clear_message(tiny, capsys, flags, message):
    assert sample.main(["--checkpoint", tiny, "--length", "20", *flags]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err


@pytest.mark.slow
def test_trainer_records_probe_scores_in_the_timeline(tmp_path):
    from core.charlm.train import train
    from core.lens.emergence import timeline_probe
    from tests.tiny_checkpoint import tiny_config

    path = train(tiny_config(tmp_path / "run", max_steps=4, eval_every=2), probe=timeline_probe)
    entry = json.loads((path / "samples.json").read_text())["timeline"][-1]
    assert entry["step"] == 4
    probe = entry["probe"]
    assert set(probe) == {"quote", "comment", "line_position", "brace_depth"}
    line = probe["line_position"]  # the sonnets have lines, so this signal is never constant
    assert line["kind"] in ("h", "c") and 0 <= line["unit"] < 16 and 0 < line["score"] <= 1
