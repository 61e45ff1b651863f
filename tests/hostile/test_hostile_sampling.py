"""Hostile sampling requests (issue 10): a 1 MB prime, a negative beam, a 20-digit seed, beam 64 x 100,000
characters. Each gets a clear message, fast and in bounded memory; a long prime is read in chunks."""
import pytest
import torch
from hostile_helpers import ROOT, clear_error, run_capped
from streamlit.testing.v1 import AppTest

from core.charlm.model import CharRNN, CharRNNConfig
from core.charlm.sample import MAX_PRIME
from core.charlm.stepper import PRIME_CHUNK, Stepper
from core.cli.sample import main
from tests.tiny_checkpoint import TEXT, make_checkpoint

MB_PRIME = (TEXT * 10_000)[:2**20]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_checkpoint(tmp_path_factory.mktemp("sampling") / "tiny-lstm")


@pytest.mark.slow
def test_a_1_mb_prime_file_is_refused_in_bounded_memory(tmp_path):
    prime = tmp_path / "prime.txt"
    prime.write_text(MB_PRIME)
    proc = run_capped(["-m", "core.cli", "sample", "--checkpoint", "checkpoints/shakespeare-lstm", "--prime-file",
                       str(prime), "--length", "10"], timeout=60)
    clear_error(proc, f"a prime is at most {MAX_PRIME:,} characters")


def test_a_long_prime_on_the_command_line_is_refused(tiny, capsys):
    """100,000 characters (a single argument cannot be much longer) used to be read in one forward pass."""
    assert main(["--checkpoint", str(tiny), "--prime", MB_PRIME[:100_000], "--length", "10"]) == 2
    assert "the prime has 100,000 characters" in capsys.readouterr().err


def test_a_prime_file_within_the_limit_is_continued(tiny, tmp_path, capsys):
    prime = tmp_path / "prime.txt"
    prime.write_text(TEXT[:200])
    assert main(["--checkpoint", str(tiny), "--prime-file", str(prime), "--length", "20", "--seed", "3"]) == 0
    assert capsys.readouterr().out.startswith(TEXT[:200])
    (tmp_path / "latin1.txt").write_bytes("é".encode("latin-1") * 10)
    assert main(["--checkpoint", str(tiny), "--prime-file", str(tmp_path / "latin1.txt")]) == 2
    assert "not UTF-8" in capsys.readouterr().err


@pytest.mark.parametrize("args, phrase", [
    (["--beam", "-3"], "argument --beam: must be between 0 and 64, not -3"),
    (["--seed", "99999999999999999999"], "argument --seed: must be between 0 and 9,223,372,036,854,775,807"),
    (["--seed", "-1"], "argument --seed: must be between 0"),
])
def test_out_of_range_sampling_flags_are_refused_while_parsing(tiny, capsys, args, phrase):
    with pytest.raises(SystemExit) as exit:
        main(["--checkpoint", str(tiny), *args])
    err = capsys.readouterr().err
    assert exit.value.code == 2 and phrase in err and "Traceback" not in err, err


@pytest.mark.parametrize("args, phrase", [
    (["--beam", "64", "--length", "100000"], "beam x length must be at most 80,000"),
    (["--beam", "17", "--length", "5000"], "not 17 x 5,000"),
    (["--prime-file", "/nonexistent/prime.txt"], "not a regular file"),
    (["--prime-file", "/dev/zero"], "not a regular file"),
])
def test_bad_sampling_arguments_get_a_clear_message(tiny, capsys, args, phrase):
    assert main(["--checkpoint", str(tiny), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and phrase in err, err


@pytest.mark.slow
def test_priming_in_chunks_matches_one_pass():
    torch.manual_seed(0)
    model = CharRNN(CharRNNConfig(30, "lstm", 2, 8)).eval()
    idx = torch.randint(0, 30, (2, PRIME_CHUNK + 77))  # (B, T): two chunks
    with torch.inference_mode():
        whole, (h, c) = model(idx)
    stepper = Stepper(model)
    torch.testing.assert_close(stepper.prime(idx), whole[:, -1])
    torch.testing.assert_close(torch.stack(stepper.h), h)
    torch.testing.assert_close(torch.stack(stepper.c), c)


@pytest.mark.slow
def test_the_sample_page_refuses_a_1_mb_prime(tiny, monkeypatch):
    monkeypatch.setenv("RNNLENS_CHECKPOINTS", str(tiny.parent))
    monkeypatch.setenv("RNNLENS_RUNS", str(tiny.parent / "runs"))
    at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=60)
    at.run()
    at.switch_page("../pages/sample.py")
    at.run()
    at.text_area(key="sample_prime").set_value(MB_PRIME).run()
    at.button(key="sample_generate").click().run()
    assert not at.exception
    assert any(f"at most {MAX_PRIME:,} are read" in e.value for e in at.error), [e.value for e in at.error]
    at.run()
    at.button(key="sample_batch_go").click().run()
    assert not at.exception and any("at most" in e.value for e in at.error)
