"""A headless Streamlit session over the websocket (what a browser tab sends and receives, without the browser):
open a page, press a button by its key, wait for the run to finish. For load tests with many sessions."""
import asyncio
import time

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg


class Session:
    """One websocket session of a running dashboard at `url` (http://host:port)."""

    def __init__(self, url: str):
        self.ws_url = url.replace("http", "ws", 1) + "/_stcore/stream"
        self.ws = None
        self.page_hash = ""
        self.widgets: dict[str, str] = {}  # user key -> widget id, from the elements of the last run

    async def open(self, page: str) -> float:
        """Connect and run `page` (its URL path); seconds until the run finished."""
        self.ws = await websockets.connect(self.ws_url, subprotocols=["streamlit"], max_size=2**26,
                                           open_timeout=None, ping_interval=None,
                                           origin=self.ws_url.replace("ws", "http", 1).rsplit("/_stcore", 1)[0])
        return await self.rerun(page_name=page)

    async def press(self, key: str) -> float:
        """Press the button with this key on the current page; seconds until the run it starts finished."""
        return await self.rerun(triggers=[self.widgets[key]])

    async def rerun(self, page_name: str = "", triggers: list[str] = ()) -> float:
        msg = BackMsg()
        state = msg.rerun_script
        state.page_script_hash, state.page_name = self.page_hash, page_name
        for widget_id in triggers:
            w = state.widget_states.widgets.add()
            w.id, w.trigger_value = widget_id, True
        t0 = time.monotonic()
        await self.ws.send(msg.SerializeToString())
        while True:
            fwd = ForwardMsg()
            fwd.ParseFromString(await self.ws.recv())
            kind = fwd.WhichOneof("type")
            if kind == "new_session":
                self.page_hash = fwd.new_session.page_script_hash or self.page_hash
            elif kind == "navigation":
                self.page_hash = fwd.navigation.page_script_hash or self.page_hash
            elif kind == "page_info_changed" or kind == "session_status_changed":
                pass
            elif kind == "delta" and fwd.delta.WhichOneof("type") == "new_element":
                element = fwd.delta.new_element
                widget = getattr(element, element.WhichOneof("type") or "", None)
                widget_id = getattr(widget, "id", "")
                if isinstance(widget_id, str) and "-" in widget_id:
                    self.widgets[widget_id.rsplit("-", 1)[-1]] = widget_id
            elif kind == "script_finished":
                return time.monotonic() - t0

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()


async def sample_runs(url: str, runs: int, page: str = "sample", button: str = "sample_generate") -> list[float]:
    """One session: open the page, then press its button `runs` times; seconds of each run."""
    session = Session(url)
    try:
        await session.open(page)
        return [await session.press(button) for _ in range(runs)]
    finally:
        await session.close()


def run_sessions(url: str, sessions: int, runs: int) -> list[float]:
    """`sessions` sessions at once, each pressing Generate on the Sample page `runs` times; every run's seconds."""
    async def all_of_them() -> list[float]:
        results = await asyncio.gather(*(sample_runs(url, runs) for _ in range(sessions)))
        return [t for r in results for t in r]
    return asyncio.run(all_of_them())
