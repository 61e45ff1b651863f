"""Every hypothesis signal on small inputs whose answer is known character by character."""
import numpy as np
import pytest

from core.lens.signals import (
    SIGNALS,
    SignalError,
    brace_depth,
    brackets,
    comment,
    compute_signal,
    if_statement,
    indentation,
    line_position,
    quote,
    regex,
    string,
)


def bits(a: np.ndarray) -> str:
    return "".join(str(int(v)) for v in a)


def marked(text: str, spans: list[tuple[int, int]]) -> str:
    out = ["0"] * len(text)
    for s, e in spans:
        out[s:e] = "1" * (e - s)
    return "".join(out)


def test_comments_do_not_nest_and_ignore_strings():
    t = 'a/b; /* x /* y */ z */ "/* no */" // c "q" */\nd'
    # from the "*" of "/*" to the "*" of the first "*/"; from the second "/" of "//" to before the newline
    want = marked(t, [(t.index("/*") + 1, t.index("*/") + 1), (t.index("//") + 1, t.index("\n"))])
    assert bits(comment(t)) == want


def test_strings_with_escapes():
    t = 'x = "a\\"b\\\\"; c = \'"\'; s = "/* not a comment */";\n'
    s1, e1 = 4, t.index(";")           # "a\"b\\" from its opening quote up to the closing one
    s2 = t.index('"/*')
    assert bits(string(t)) == marked(t, [(s1, e1 - 1), (s2, t.rindex('"'))])
    assert comment(t).sum() == 0


def test_unterminated_string_ends_at_newline():
    t = 'a = "abc\nb = 1;'
    assert bits(string(t)) == marked(t, [(4, 8)])


def test_prose_quotes():
    t = 'He said "no, it\'s fine" and \u201cyes\u201d.\n\n"Open\n\nnext'
    a, b = t.index('"'), t.index('" and')
    c, d = t.index("\u201c"), t.index("\u201d")
    e = t.index('"Open')
    # the paragraph break closes the quote left open
    assert bits(quote(t)) == marked(t, [(a, b), (c, d), (e, t.index("\n\nnext") + 1)])


def test_line_position():
    assert line_position("ab\ncde\n\nf").tolist() == [1, 2, 0, 1, 2, 3, 0, 0, 1]


def test_indentation_tabs_and_spaces():
    t = "a\n\tb\n\t\tc\n    d\n  \t e\n\n"
    want = [0, 0] + [1] * 3 + [2] * 4 + [0.5] * 6 + [1.125] * 6 + [0]
    assert indentation(t).tolist() == want


def test_brace_depth_ignores_comments_and_strings():
    t = 'f() {\n\tif (x) { s = "}"; } /* { */\n}'
    d = brace_depth(t)
    assert d[t.index("{")] == 1 and d[t.index("if")] == 1
    assert d[t.index('"}"') + 1] == 2 and d[t.index("/*") + 3] == 1
    assert d[-1] == 0 and d.max() == 2
    # a stray closing brace does not push the depth below zero for the rest of the text
    assert brace_depth("}} {").tolist() == [0, 0, 0, 1]


def test_brackets():
    t = 'a(b[1], "(") + (c)'
    assert bits(brackets(t)) == marked(t, [(1, t.index(")")), (t.index("(c"), len(t) - 1)])


def test_if_condition_and_block():
    t = "if (a && (b)) {\n\tx = 1;\n}\nif(c) y();\nelif (q) z; /* if (no) */\n"
    block = (0 + 3, t.index("}"))
    stmt = (t.index("if(c)") + 2, t.index("y();") + 3)
    assert bits(if_statement(t)) == marked(t, [block, stmt])


def test_regex_and_errors():
    t = "foo bar\nfoo"
    assert bits(regex(t, r"^foo")) == marked(t, [(0, 3), (8, 11)])
    with pytest.raises(SignalError, match="invalid regular expression"):
        regex(t, "(unclosed")
    with pytest.raises(SignalError, match="unknown signal"):
        compute_signal("nope", t)
    with pytest.raises(SignalError, match="pattern"):
        compute_signal("regex", t)


def test_every_named_signal_has_one_value_per_char():
    t = 'int f(void) {\n\treturn "x";\n}\n'
    for name, sig in SIGNALS.items():
        y, binary = compute_signal(name, t)
        assert y.shape == (len(t),) and y.dtype == np.float32 and binary == sig.binary
        assert compute_signal(name, "")[0].shape == (0,)
