"""AppTest helpers shared by the page tests."""
import base64

from streamlit.testing.v1 import AppTest


def open_tab(at: AppTest, tabs_key: str, label: str) -> AppTest:
    """Click the tab `label` of the lazy st.tabs keyed tabs_key (only the open tab's panel runs), and rerun."""
    at.session_state[tabs_key] = label
    at.run()
    assert not at.exception, at.exception
    return at


def svg_image(at: AppTest, index: int = -1) -> str:
    """The SVG text of the page's index-th st.image (plots.loss_svg and its kin are shown as images)."""
    return base64.b64decode(at.get("image")[index].proto.imgs[0].url.split(",", 1)[1]).decode()
