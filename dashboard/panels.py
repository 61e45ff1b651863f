"""Lazy tabs: a page's lower panels where only the open one runs, and the closed ones keep their widgets' values."""
from collections.abc import Callable

import streamlit as st
from streamlit.errors import StreamlitAPIException


def lazy_tabs(panels: dict[str, Callable[[], None]], key: str, keep: tuple[str, ...]) -> None:
    """st.tabs over panels (label -> function drawing it) that runs only the open panel (a tab click reruns the
    script), then keeps the values of the widgets keyed with a prefix in `keep` while their panel is closed."""
    _own(keep)  # before the panels: a reopened panel's widgets are sent their kept values, not their defaults
    for tab, panel in zip(st.tabs(list(panels), key=key, on_change="rerun"), panels.values()):
        if tab.open:
            with tab:
                panel()
    _own(keep)


def _own(keep: tuple[str, ...]) -> None:
    """Set each kept widget value again through the session-state API. After a run that does not draw a widget,
    streamlit forgets its value unless the session owns it; and a widget drawn again shows a value the session set
    in this run, where it would show its default (and then send that back) for a value set in an earlier one."""
    for name in [k for k in st.session_state if isinstance(k, str) and k.startswith(keep)]:
        try:
            st.session_state[name] = st.session_state[name]
        except StreamlitAPIException:
            pass  # its widget is already drawn in this run: streamlit keeps it
