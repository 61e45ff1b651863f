"""Generated text on the page: plain monospace that keeps line breaks, streamed as it is produced.

st.write_stream renders Markdown (which eats newlines, indentation, `#` and `*` in generated code and verse)
and st.code runs a syntax highlighter in the browser on every update (measured here: a 3,000-character
stream reached the screen in 3 updates instead of 22). This writes an escaped <pre> block instead, one row per
line so that a wrapped line of code stays under its own indentation, and redraws it at most every `interval`
seconds, the first character at once.
"""
import html
import time
from collections.abc import Iterable

from streamlit.delta_generator import DeltaGenerator

from dashboard.model_slots import in_turns

STYLE = ("white-space:pre-wrap;word-break:break-word;margin:0;padding:0.9rem 1rem;border-radius:0.5rem;"
         "background:#f6f7f9;border:1px solid #e6e8ec;font-size:0.85rem;line-height:1.45;"
         "font-family:'Source Code Pro',ui-monospace,SFMono-Regular,Menlo,monospace;color:#1f2430")


def show_text(slot: DeltaGenerator, text: str) -> None:
    """Write text into slot (a container or st.empty()) as code_html's block."""
    slot.html(code_html(text))


def code_html(text: str, tab: int = 8) -> str:
    """text as a monospace block wrapped to its width, one row per line, each wrapped under its own indentation
    (a hanging indent) so wrapped C code keeps its shape; tabs become spaces to the next multiple of tab (8, as
    the kernel's code and the Cells page's highlighter use)."""
    rows = []
    for line in text.expandtabs(tab).split("\n"):
        lead = len(line) - len(line.lstrip(" "))
        rows.append(f'<div style="padding-left:{lead}ch;text-indent:-{lead}ch">{html.escape(line) or "<br>"}</div>')
    return f'<pre class="rnnlens-text" style="{STYLE}">{"".join(rows)}</pre>'


def stream_into(slot: DeltaGenerator, chars: Iterable[str], head: str = "", interval: float = 0.1) -> str:
    """Show head + each character of chars in slot as they come (drawn in turns with other sessions:
    dashboard.model_slots); returns the generated text."""
    out: list[str] = []
    last = 0.0
    for ch in in_turns(chars):
        out.append(ch)
        now = time.perf_counter()
        if now - last >= interval:
            show_text(slot, head + "".join(out))
            last = now
    text = "".join(out)
    show_text(slot, head + text)
    return text
