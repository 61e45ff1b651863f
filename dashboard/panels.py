"""Lazy tabs: a page's lower panels where only the open one runs, and the closed ones keep their widgets' values."""
from collections.abc import Callable

import streamlit as st
from streamlit.errors import StreamlitAPIException


def lazy_tabs(panels: dict[str, Callable[[], None]], key: str, keep: tuple[str, ...]) -> None:
    """st.tabs over panels (label -> function drawing it) that runs only the open panel (a tab click reruns the
    script), then keeps the values of the widgets keyed with a prefix in `keep` while their panel is closed."""
    for tab, panel in zip(st.tabs(list(panels), key=key, on_change="rerun"), panels.values()):
        if tab.open:
            with tab:
                panel()
    for name in [k for k in st.session_state if isinstance(k, str) and k.startswith(keep)]:
        try:  # streamlit forgets a widget's value after a run that does not draw it, unless the session owns it
            st.session_state[name] = st.session_state[name]
        except StreamlitAPIException:
            pass  # drawn in this run: streamlit keeps it
