"""Tour: the lecture on recurrent networks, stop by stop, each figure live with the shipped models."""
import streamlit as st

from dashboard import links, tour

STOPS = tour.STOPS
links.adopt("tour_", stop=tour.parse_stop, present=links.flag)  # ?stop=cells (or 6) & present=true
st.session_state.setdefault("tour_stop", 0)


def move(by: int) -> None:
    st.session_state["tour_stop"] = min(max(st.session_state["tour_stop"] + by, 0), len(STOPS) - 1)


presenting = st.session_state.get("tour_present", False)
if presenting:
    st.html(tour.PRESENTER_CSS)
st.title("Tour: the lecture, live")
back, pick, forward, present = st.columns([1, 4, 1, 2], vertical_alignment="bottom")
back.button("Previous", key="tour_back", on_click=move, args=(-1,), icon=":material/arrow_back:",
            disabled=st.session_state["tour_stop"] == 0, width="stretch")
i = pick.selectbox("Stop", range(len(STOPS)), key="tour_stop", format_func=lambda k: f"{k + 1}. {STOPS[k].title}")
forward.button("Next", key="tour_next", on_click=move, args=(1,), icon=":material/arrow_forward:",
               disabled=i == len(STOPS) - 1, width="stretch")
present.toggle("Presenter mode", key="tour_present", help="Large text, no sidebar: for a projector. The link keeps it.")
links.publish("tour_", stop=STOPS[i].slug, present=True if presenting else None)

stop = STOPS[i]
st.header(f"{i + 1}. {stop.title}")
st.container(key="tour_text").markdown(stop.text)
full_page = tour.show(stop)
if full_page:
    st.link_button("Open in the full page", full_page, icon=":material/open_in_new:",
                   help="The same settings on the page that has every control.")
