"""Hostile regular expressions (issue 10, item 1): user patterns run on RE2 in bounded time, or are refused
with a clear message; catastrophic-backtracking patterns no longer hang the CLI (the server test is
test_hostile_server.py)."""
import re

import numpy as np
import pytest
from hostile_helpers import ROOT, run_capped

from core.lens.signals import SignalError, regex
from core.lens.user_regex import UserRegexError, compile_user_regex, match_spans
from tests.tiny_checkpoint import make_checkpoint

SONNETS = ROOT / "tests" / "data" / "sonnets.txt"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_checkpoint(tmp_path_factory.mktemp("regex") / "tiny-lstm")


@pytest.mark.slow
def test_the_issue_pattern_on_real_text_finishes(tiny):
    """`(\\w+\\s?)+$` over 5,000 characters of Shakespeare: Python's re backtracks for hours; RE2 is linear."""
    proc = run_capped(["-m", "core.cli", "rank-cells", "--checkpoint", str(tiny), "--text", str(SONNETS), "--signal", "regex",
                       "--regex", r"(\w+\s?)+$", "--max-chars", "5000"], timeout=90)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "regex (binary, AUC" in proc.stdout and "layer" in proc.stdout


def test_nested_quantifier_over_a_run_of_a_finishes():
    """`(a+)+$` over 3,000 `a` and one `b` (the Cells page case) matches nothing, at once."""
    code = "from core.lens.signals import regex; print(regex('a' * 3000 + 'b', '(a+)+$').sum())"
    proc = run_capped(["-c", code], timeout=30)
    assert proc.returncode == 0 and proc.stdout.strip() == "0.0", proc.stderr[-2000:]


@pytest.mark.parametrize("pattern", [r"^\w+", r"\bthee\b", r"[A-Z]{2,}", r"[,;:]$", r"(?i)love"])
def test_same_matches_as_python_re_on_ordinary_patterns(pattern):
    text = SONNETS.read_text()[:3000]
    expected = [m.span() for m in re.finditer(pattern, text, re.MULTILINE)]
    assert expected and match_spans(compile_user_regex(pattern), text) == expected


def test_offsets_are_characters_not_bytes():
    assert regex("éa b\néa", r"^éa").tolist() == [1, 1, 0, 0, 0, 1, 1]  # character offsets, not bytes


@pytest.mark.parametrize("pattern, phrase", [
    (r"(\w)\1", "backreferences"), (r"(?<=a)b", "lookaround"), (r"(unclosed", "missing )"),
    ("x" * 1001, "at most 1,000"), (r"((\pL|\pN|\pP){300})*z", "pattern too large")])
def test_refused_patterns_say_why(pattern, phrase):
    with pytest.raises(SignalError, match=phrase.replace("(", r"\(").replace(")", r"\)")):
        regex("some text", pattern)


def test_too_many_slow_matches_stop_at_the_time_budget():
    """`a(?:.*z)?` matches at every `a`, each search scanning to the end: quadratic, cut at the budget."""
    rx = compile_user_regex(r"a(?:.*z)?")
    with pytest.raises(UserRegexError, match="took over 0.05 s"):
        match_spans(rx, "a" * 200_000, budget_s=0.05)
    assert np.array_equal(regex("aaz", r"a(?:.*z)?"), np.ones(3, np.float32))
