"""Hypothesis signals over a text, one value per character (Karpathy, Johnson & Fei-Fei 2015, sec. 4.2).

Each signal is a float32 array of len(text) that says what the context is *after reading* character t,
which is what an RNN's state at t can know: an opening quote is already inside the quote, the closing
quote is outside again; after the second `/` of `//` the text is inside a comment, after the newline that
ends it, outside.  Binary signals are 0/1; graded ones are counts.

The C signals share one small lexer (code, `//` comment, `/* */` comment, "string", 'char'), so a `//`
inside a string or a `"` inside a comment changes nothing.  Block comments do not nest (as in C).

Indentation is measured in levels of 8 columns: a tab moves to the next multiple of 8 columns, a space adds
one column, and the level is columns / 8 (a tab is one level, four spaces half a level).  Every character
of a line, including the newline that ends it, gets the indentation of that line.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

import numpy as np

from core.lens.user_regex import UserRegexError, compile_user_regex, match_spans

CODE, LINE_COMMENT, BLOCK_COMMENT, STRING, CHAR = range(5)
TAB_WIDTH = 8


class SignalError(ValueError):
    """A signal cannot be computed (unknown name, invalid regular expression)."""


def c_lex(text: str) -> tuple[np.ndarray, np.ndarray]:
    """Lex C: (mode after reading each char, mask of chars read as plain code); both (T,)."""
    after = np.zeros(len(text), dtype=np.int8)
    is_code = np.zeros(len(text), dtype=bool)
    mode, escaped, i, n = CODE, False, 0, len(text)
    while i < n:
        ch = text[i]
        if mode == CODE:
            nxt = text[i + 1] if i + 1 < n else ""
            if ch == "/" and nxt in "/*":
                after[i] = CODE  # the first "/" could still be a division
                mode = LINE_COMMENT if nxt == "/" else BLOCK_COMMENT
                after[i + 1] = mode
                i += 2
                continue
            if ch == '"':
                mode = STRING
            elif ch == "'":
                mode = CHAR
            else:
                is_code[i] = True
        elif mode == LINE_COMMENT:
            if ch == "\n":
                mode = CODE
        elif mode == BLOCK_COMMENT:
            if ch == "*" and i + 1 < n and text[i + 1] == "/":
                after[i] = BLOCK_COMMENT
                after[i + 1] = mode = CODE
                i += 2
                continue
        else:  # inside a string or char literal: backslash escapes; an unescaped newline ends it
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == ("\"" if mode == STRING else "'") or ch == "\n":
                mode = CODE
        after[i] = mode
        i += 1
    return after, is_code


def comment(text: str) -> np.ndarray:
    """1 inside a C comment (`/* */` or `//`), else 0."""
    mode, _ = c_lex(text)
    return ((mode == LINE_COMMENT) | (mode == BLOCK_COMMENT)).astype(np.float32)


def string(text: str) -> np.ndarray:
    """1 inside a C string literal "..." (backslash escapes respected; 'c' char literals are not strings)."""
    mode, _ = c_lex(text)
    return (mode == STRING).astype(np.float32)


def quote(text: str) -> np.ndarray:
    """1 inside a prose quotation: `"` toggles, curly quotes open/close, a blank line closes (paragraphs)."""
    out = np.zeros(len(text), dtype=np.float32)
    inside, line_blank = False, False
    for t, ch in enumerate(text):
        if ch == '"':
            inside = not inside
        elif ch == "\u201c":
            inside = True
        elif ch == "\u201d":
            inside = False
        elif ch == "\n":
            if line_blank:  # a paragraph break ends any quote left open
                inside = False
            line_blank = True
        elif not ch.isspace():
            line_blank = False
        out[t] = inside
    return out


def line_position(text: str) -> np.ndarray:
    """Characters read since the last newline (0 right after a newline)."""
    out = np.zeros(len(text), dtype=np.float32)
    col = 0
    for t, ch in enumerate(text):
        col = 0 if ch == "\n" else col + 1
        out[t] = col
    return out


def indentation(text: str) -> np.ndarray:
    """Indentation level (columns / 8, tabs to the next multiple of 8) of each character's line."""
    out = np.zeros(len(text), dtype=np.float32)
    start = 0
    for line in text.splitlines(keepends=True):
        col = 0
        for ch in line:
            if ch == "\t":
                col = (col // TAB_WIDTH + 1) * TAB_WIDTH
            elif ch == " ":
                col += 1
            else:
                break
        out[start:start + len(line)] = col / TAB_WIDTH
        start += len(line)
    return out


def _depth(text: str, opening: str, closing: str) -> np.ndarray:
    """Nesting depth of code brackets after reading each char (comments and strings ignored)."""
    _, is_code = c_lex(text)
    delta = np.zeros(len(text), dtype=np.float32)
    chars = np.array(list(text)) if text else np.array([], dtype="<U1")
    delta[is_code & np.isin(chars, list(opening))] = 1
    delta[is_code & np.isin(chars, list(closing))] = -1
    total = np.cumsum(delta)
    return (total - np.minimum(np.minimum.accumulate(total), 0)).astype(np.float32)  # floored at 0 as it runs


def brace_depth(text: str) -> np.ndarray:
    """Depth of `{ }` nesting in C code (code depth)."""
    return _depth(text, "{", "}")


def brackets(text: str) -> np.ndarray:
    """1 inside `( )` or `[ ]` in C code, else 0."""
    return (_depth(text, "([", ")]") > 0).astype(np.float32)


def if_statement(text: str) -> np.ndarray:
    """1 inside an `if (...)` condition and its statement or `{ }` block (C code), else 0."""
    _, is_code = c_lex(text)
    out = np.zeros(len(text), dtype=np.float32)
    for m in re.finditer(r"(?<![A-Za-z0-9_])if\s*\(", text):
        t = m.end() - 1  # the "("
        if not (is_code[m.start()] and is_code[t]):
            continue
        t = _match(text, is_code, t, "(", ")")
        if t is None:
            out[m.end() - 1:] = 1
            continue
        stmt = t + 1
        while stmt < len(text) and (text[stmt].isspace() or not is_code[stmt] and text[stmt] != "{"):
            stmt += 1
        if stmt < len(text) and text[stmt] == "{" and is_code[stmt]:
            end = _match(text, is_code, stmt, "{", "}")
        else:
            end = next((s for s in range(stmt, len(text)) if text[s] == ";" and is_code[s]), None)
        out[m.end() - 1:(len(text) if end is None else end)] = 1
    return out


def _match(text: str, is_code: np.ndarray, t: int, opening: str, closing: str) -> int | None:
    """Index of the code bracket closing the one at t, or None."""
    depth = 0
    for s in range(t, len(text)):
        if is_code[s] and text[s] == opening:
            depth += 1
        elif is_code[s] and text[s] == closing:
            depth -= 1
            if depth == 0:
                return s
    return None


def regex(text: str, pattern: str) -> np.ndarray:
    """1 on every character inside a match of a user's regular expression (RE2, multiline), else 0."""
    try:
        spans = match_spans(compile_user_regex(pattern), text)
    except UserRegexError as e:
        raise SignalError(str(e)) from None
    out = np.zeros(len(text), dtype=np.float32)
    for start, end in spans:
        out[start:end] = 1
    return out


@dataclass(frozen=True)
class Signal:
    """A named hypothesis signal: its function, whether it is binary (AUC) or graded (Pearson r)."""
    name: str
    label: str
    fn: Callable[[str], np.ndarray]
    binary: bool


SIGNALS: dict[str, Signal] = {s.name: s for s in [
    Signal("quote", "inside a quote (prose)", quote, True),
    Signal("string", "inside a C string", string, True),
    Signal("comment", "inside a C comment", comment, True),
    Signal("line_position", "position in line", line_position, False),
    Signal("indentation", "indentation depth", indentation, False),
    Signal("brace_depth", "brace depth (code depth)", brace_depth, False),
    Signal("if", "inside an if condition or block", if_statement, True),
    Signal("brackets", "inside ( ) or [ ]", brackets, True),
]}


def compute_signal(name: str, text: str, pattern: str | None = None) -> tuple[np.ndarray, bool]:
    """Signal values (T,) float32 for a named signal or `regex` with a pattern, and whether it is binary."""
    if name == "regex":
        if not pattern:
            raise SignalError("the regex signal needs a pattern")
        return regex(text, pattern), True
    if name not in SIGNALS:
        raise SignalError(f"unknown signal {name!r}; choose one of {', '.join([*SIGNALS, 'regex'])}")
    return SIGNALS[name].fn(text), SIGNALS[name].binary
