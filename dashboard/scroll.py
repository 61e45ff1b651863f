"""Scroll an element (keyed, or any CSS selector) into view inside its scrolling box after a rerun renders."""
import json

import streamlit as st

SCRIPT = """<script>(() => {
  const selector = %s;
  const show = (tries) => {
    const item = document.querySelector(selector);
    if (!item) { if (tries > 0) setTimeout(() => show(tries - 1), 100); return; }
    let box = item.parentElement;
    while (box && !(box.scrollHeight > box.clientHeight + 1 && /auto|scroll/.test(getComputedStyle(box).overflowY)))
      box = box.parentElement;
    if (!box) return;
    box.scrollTop += item.getBoundingClientRect().top - box.getBoundingClientRect().top - 8;
  };
  show(50);
})();</script>"""


def scroll_to(key: str) -> None:
    """After this rerun renders, scroll the element made with `key=key` to the top of its scrolling box."""
    scroll_to_selector(f".st-key-{key}")


def scroll_to_selector(selector: str) -> None:
    """After this rerun renders, scroll the first element matching a CSS selector to the top of its scrolling box."""
    st.html(SCRIPT % json.dumps(selector), unsafe_allow_javascript=True)
