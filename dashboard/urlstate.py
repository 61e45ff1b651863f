"""Widget values that survive a reload: read from the page's query string on a session's first run, written back
after each run (st.query_params), so a reloaded or shared URL opens the same view."""
from collections.abc import Callable
from typing import Any

import streamlit as st


def restore(key: str, param: str, cast: Callable[[str], Any], allowed: Callable[[Any], bool]) -> None:
    """Seed st.session_state[key] from the query string's `param` when the session has no value for it yet (a reload,
    a shared link); a value that does not cast or is not allowed is ignored."""
    raw = st.query_params.get(param)
    if raw is None or key in st.session_state:
        return
    try:
        value = cast(raw)
    except (TypeError, ValueError):
        return
    if allowed(value):
        st.session_state[key] = value


def remember(**params: Any) -> None:
    """Write the current values to the query string (only those that changed: each write is a message)."""
    for param, value in params.items():
        if st.query_params.get(param) != str(value):
            st.query_params[param] = str(value)
