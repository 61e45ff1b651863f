"""Regular expressions typed by users, matched in bounded time with RE2 (Cox, "Regular Expression Matching
Can Be Simple And Fast", 2007).

Python's `re` backtracks: `(a+)+$` over a few thousand `a` and one `b` runs for ages while holding the GIL,
which freezes a whole Streamlit server. RE2 compiles a pattern to an automaton and matches in time linear in
the text, so such a pattern simply finds nothing. RE2 refuses what needs backtracking (backreferences,
lookaround), and its compiled program is capped in memory. One search is linear, but a pattern can match at
many places with each search scanning far ahead (`a(?:.*z)?` over a line of `a`), so the scan over all
matches also has a time budget.
"""
from __future__ import annotations

import time

import re2

MAX_PATTERN_CHARS = 1_000
MAX_PROGRAM_BYTES = 2 * 2**20   # RE2's memory budget for one compiled pattern
TIME_BUDGET_S = 2.0             # for all the matches over one text


class UserRegexError(ValueError):
    """A user's pattern is refused (invalid, unsupported by RE2, too large, or too slow); says why."""


def compile_user_regex(pattern: str, multiline: bool = True) -> re2._Regexp:
    """Compile an untrusted pattern with RE2 (`^`/`$` at every line when multiline); raises UserRegexError."""
    if len(pattern) > MAX_PATTERN_CHARS:
        raise UserRegexError(f"the regular expression has {len(pattern):,} characters; at most "
                             f"{MAX_PATTERN_CHARS:,} are allowed")
    options = re2.Options()
    options.log_errors = False
    options.max_mem = MAX_PROGRAM_BYTES
    flags = "(?m)" if multiline else ""
    try:
        return re2.compile(flags + pattern, options)
    except re2.error as e:
        reason = e.args[0].decode("utf-8", "replace") if e.args and isinstance(e.args[0], bytes) else str(e)
        reason = reason.replace(flags + pattern, pattern)
        raise UserRegexError(f"invalid regular expression {pattern!r}: {reason} (patterns run on RE2, which has no "
                             "backreferences or lookaround, so that no pattern can stall the server)") from None


def match_spans(rx: re2._Regexp, text: str, budget_s: float = TIME_BUDGET_S) -> list[tuple[int, int]]:
    """(start, end) character offsets of every match in text; UserRegexError when they take over budget_s."""
    deadline = time.monotonic() + budget_s
    spans = []
    for m in rx.finditer(text):
        spans.append(m.span())
        if time.monotonic() > deadline:
            raise UserRegexError(f"the regular expression took over {budget_s:g} s on {len(text):,} characters "
                                 f"(stopped after {len(spans):,} matches): make it more specific")
    return spans
