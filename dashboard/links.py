"""Settings in the URL: links that open a page with chosen widget values, and the pages' reading of such links.

A page lists the settings a link may give, each with a parser that turns the query string's text into its widget's
value or raises ValueError; nothing else in the session can be set from a URL. Each value in the URL is read once per
session, so the widgets are the user's again after the first run.
"""
from collections.abc import Callable, Iterable
from pathlib import Path
from urllib.parse import urlencode

import streamlit as st

Parser = Callable[[str], object]


def url(page: str, /, **settings) -> str:
    """A relative link to a page (its URL path: "sample", "cells", ...) with settings in its query string."""
    return f"{page}?{urlencode({k: _text(v) for k, v in settings.items()})}" if settings else page


def _text(value) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def number(lo: float, hi: float, kind: type = float) -> Parser:
    """A parser of an int or float in [lo, hi]."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise ValueError(f"not {'an integer' if kind is int else 'a number'}") from None
        if not lo <= value <= hi:
            raise ValueError(f"outside {lo} to {hi}")
        return value
    return parse


def choice(options: Iterable) -> Parser:
    """A parser of one of options (compared as text; returns the option itself)."""
    by_text = {str(o): o for o in options}

    def parse(text: str):
        if text not in by_text:
            raise ValueError(f"not one of {', '.join(list(by_text)[:12])}")
        return by_text[text]
    return parse


def text(max_chars: int) -> Parser:
    """A parser of free text of at most max_chars characters."""
    def parse(value: str) -> str:
        if len(value) > max_chars:
            raise ValueError(f"longer than {max_chars} characters")
        return value
    return parse


def flag(text: str) -> bool:
    """A parser of true / false."""
    if text.lower() not in ("true", "false"):
        raise ValueError("not true or false")
    return text.lower() == "true"


def _fresh(prefix: str, names: Iterable[str]) -> dict[str, str]:
    """The URL's values of names that this session has not read (or written) yet for the keys prefix + NAME, now
    marked as read."""
    seen = st.session_state.setdefault("links_seen", {})
    fresh = {k: v for k, v in st.query_params.items() if k in names and seen.get(prefix + k) != v}
    seen.update({prefix + k: v for k, v in fresh.items()})
    return fresh


def adopt(prefix: str = "", **parsers: Parser) -> None:
    """Set the widget key prefix + NAME to the parsed value of each NAME=VALUE of the URL, once per value; a value
    that does not parse is skipped with a one-line warning. Call it before the widgets are drawn."""
    for name, text in _fresh(prefix, parsers).items():
        try:
            st.session_state[prefix + name] = parsers[name](text)
        except ValueError as err:
            st.warning(f"The link's {name}={text[:40]!r} is ignored: {err}.")


def publish(prefix: str, **values) -> None:
    """Show these settings in the URL (so that it links back to them), marked as read for the keys prefix + NAME;
    None removes one."""
    seen = st.session_state.setdefault("links_seen", {})
    for name, value in values.items():
        text = None if value is None else _text(value)
        seen[prefix + name] = text
        if text is None:
            st.query_params.pop(name, None)
        elif st.query_params.get(name) != text:
            st.query_params[name] = text


def adopt_model(options: list[str]) -> None:
    """`?checkpoint=NAME`: choose the listed checkpoint directory named NAME in the sidebar picker, once per link."""
    name = _fresh("", ["checkpoint"]).get("checkpoint")
    if name is None:
        return
    found = [path for path in options if Path(path).name == name]
    if not found:
        st.warning(f"The link's checkpoint {name[:40]!r} is not among this dashboard's checkpoints.")
        return
    st.session_state["picker_model"] = st.session_state["model_dir"] = found[0]
