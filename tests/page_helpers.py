"""AppTest helpers shared by the page tests."""
from streamlit.testing.v1 import AppTest


def open_tab(at: AppTest, tabs_key: str, label: str) -> AppTest:
    """Click the tab `label` of the lazy st.tabs keyed tabs_key (only the open tab's panel runs), and rerun."""
    at.session_state[tabs_key] = label
    at.run()
    assert not at.exception, at.exception
    return at
