"""Captioning page (AppTest, shipped checkpoints): the photo captioner (default) captions a photo-world scene and an
upload with one map per word and the CNN's ImageNet view; the shapes captioner still works; bad uploads each get a
clear st.error and no exception."""
import io
import re
from pathlib import Path

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest
from test_caption_images import bad_uploads

from core.vision.photos import make_photo, names
from tests.page_helpers import svg_image

PAGE = "../pages/captioning.py"
pytestmark = pytest.mark.slow  # the shipped captioners and the encoder


@pytest.fixture(scope="module")
def app() -> AppTest:
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py"), default_timeout=300)
    at.run()
    at.switch_page(PAGE)
    at.run()
    assert not at.exception
    return at


def word_maps(at: AppTest) -> dict[int, str]:
    """The per-word thumbnails' buttons "k. word" -> {k: word}."""
    out = {}
    for b in at.button:
        head, _, word = b.label.partition(". ")
        if b.key and b.key.startswith("cap_thumb_") and head.isdigit():
            out[int(head)] = word
    return out


def test_photo_scene_gets_caption_maps_and_imagenet_view(app):
    at = app
    assert at.radio(key="cap_model").value == "photos" and "photo world" in at.info[0].value
    at.radio(key="cap_source").set_value("New scene").run()
    assert not at.warning                # the first scene's caption is unsure, but the scene is the training world
    at.button(key="cap_new_scene").click().run()
    assert not at.exception
    text = at.subheader[0].value
    assert text and text != "(empty caption)"
    maps = word_maps(at)                 # one map per word; a named noun may be two ("trash can")
    assert sorted(maps) == list(range(1, len(maps) + 1)) and " ".join(maps.values()) == text
    charts = [svg_image(at, i) for i in range(len(at.get("image"))) if "svg" in at.get("image")[i].proto.imgs[0].url]
    view = next(c for c in charts if "ImageNet class, probability" in c)
    assert view.count("<rect") == 5                                  # the head's top 5
    entropies = next(c for c in charts if "entropy (nats)" in c)
    assert entropies.count("<rect") == len(maps)                     # a bar per word


def test_shapes_captioner_still_works(app):
    at = app
    at.radio(key="cap_model").set_value("shapes").run()
    at.radio(key="cap_source").set_value("New scene").run()
    assert not at.warning                # a generated scene is the training world: no caveat
    at.button(key="cap_new_scene").click().run()
    assert not at.exception
    words = at.subheader[0].value.split()
    assert word_maps(at) == {k + 1: w for k, w in enumerate(words)}
    assert "generated scenes" in at.info[0].value and "--karpathy-json" in at.code[0].value
    at.slider(key="cap_beam").set_value(1).run()
    assert "cap_box_cols" not in [s.key for s in at.slider]  # closed: no second caption is computed
    at.session_state["cap_what_if"] = True  # open the what-if box: its sliders and second caption appear
    at.run()
    at.slider(key="cap_box_cols").set_value((0, 7)).run()
    assert not at.exception and any(m.value.startswith("Before:") for m in at.markdown)
    at.radio(key="cap_model").set_value("photos").run()


def test_the_known_failure_is_labelled(app):
    at = app
    at.radio(key="cap_source").set_value("Sample photo").run()
    at.selectbox(key="cap_sample").set_value("rocket: a known failure").run()
    assert not at.exception and at.subheader[0].value
    assert any(m.value.startswith(":red[wrong, as expected") for m in at.markdown)  # the failure is labelled


def test_showcase_photos_are_named_and_match_their_upload(app):
    at = app
    at.radio(key="cap_model").set_value("photos").run()
    at.radio(key="cap_source").set_value("Sample photo").run()
    for label, noun in [("cat (chelsea)", "cat"), ("coffee cup", "cup"), ("astronaut (a person)", "person")]:
        at.selectbox(key="cap_sample").set_value(label).run()
        caption = at.subheader[0].value
        assert any(names(w, noun) for w in re.findall(r"\w+", caption)) and " ," not in caption, caption
        assert any(m.value.startswith(":green[right") for m in at.markdown)
    at.selectbox(key="cap_sample").set_value("coffee cup").run()
    caption = at.subheader[0].value
    at.button(key="cap_thumb_1").click().run()  # a thumbnail's word selects that word's map
    assert at.slider(key="cap_word").value == 2
    buf = io.BytesIO()
    from dashboard.captioning import sample_photo
    sample_photo("coffee").save(buf, "PNG")  # the same photo as a user's file: the same caption
    at.radio(key="cap_source").set_value("Upload").run()
    at.file_uploader(key="cap_upload").set_value(("coffee.png", buf.getvalue(), "image/png")).run()
    assert at.subheader[0].value == caption


def test_shapes_captioner_warns_on_a_photo(app):
    at = app
    at.radio(key="cap_model").set_value("shapes").run()
    at.radio(key="cap_source").set_value("Sample photo").run()
    assert any("only seen generated scenes" in w.value for w in at.warning)
    at.radio(key="cap_model").set_value("photos").run()


@pytest.mark.parametrize("name", list(bad_uploads()))
def test_bad_uploads_show_an_error(app, name):
    at = app
    at.radio(key="cap_source").set_value("Upload").run()
    data, phrase = bad_uploads()[name]
    at.file_uploader(key="cap_upload").set_value(("upload.png", data, "image/png")).run()
    assert not at.exception
    assert any(phrase.lower() in e.value.lower() for e in at.error), [e.value for e in at.error]


def test_good_upload_is_captioned(app):
    at = app
    at.radio(key="cap_source").set_value("Upload").run()
    buf = io.BytesIO()
    Image.new("RGB", (300, 200), (200, 200, 200)).save(buf, "WEBP")
    at.file_uploader(key="cap_upload").set_value(("grey.webp", buf.getvalue(), "image/webp")).run()
    assert not at.exception and not at.main.error, [e.value for e in at.error]
    assert at.subheader[0].value


def test_photo_upload_names_the_object(app):
    at = app
    at.radio(key="cap_source").set_value("Upload").run()
    buf = io.BytesIO()
    make_photo(20_000_006).image.save(buf, "PNG")                       # a held-out stamp, saved as a user photo
    at.slider(key="cap_beam").set_value(3)
    at.file_uploader(key="cap_upload").set_value(("frog.png", buf.getvalue(), "image/png")).run()
    assert not at.exception and not at.main.error
    assert "frog" in at.subheader[0].value.split()


def test_upload_of_a_person_says_where_each_noun_came_from(app):
    import skimage.data
    at = app
    at.radio(key="cap_source").set_value("Upload").run()
    buf = io.BytesIO()
    Image.fromarray(skimage.data.astronaut()).save(buf, "JPEG")
    at.file_uploader(key="cap_upload").set_value(("astronaut.jpg", buf.getvalue(), "image/jpeg")).run()
    assert not at.exception and not at.main.error
    assert "person" in at.subheader[0].value.split()
    lines = [line for m in at.markdown for line in m.value.split("  \n")]
    assert any(line.startswith("`person <- face, p 1.00") for line in lines), lines
