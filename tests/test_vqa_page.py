"""VQA page (AppTest, shipped checkpoints): a test image with a typed question gets an answer, one map per hop and
word bars; unknown words, empty and 10,000-character questions get warnings; uploads good and bad; the photos
model on a photo-world scene (typed and multiple-choice questions, a new scene) and on an uploaded photo."""
import base64
import io
from pathlib import Path

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest
from test_caption_images import bad_uploads

from core.vqa.photo_questions import photo_answers
from dashboard.vqa import FIRST_PHOTO_SCENE

PAGE = "../pages/vqa.py"
pytestmark = pytest.mark.slow  # the shipped VQA models and the encoder


@pytest.fixture(scope="module")
def app() -> AppTest:
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py"), default_timeout=300)
    at.run()
    at.switch_page(PAGE)
    at.run()
    assert not at.exception
    return at


def hop_captions(at: AppTest) -> list[str]:
    return [c for im in at.image for c in im.captions if c.startswith("hop ")]


def svg_images(at: AppTest) -> list[str]:
    """The page's SVG images (the answer and word bars), decoded."""
    urls = [img.url for im in at.get("image") for img in im.proto.imgs]
    return [base64.b64decode(u.split(",", 1)[1]).decode() for u in urls if u.startswith("data:image/svg")]


def test_test_image_with_a_typed_question(app):
    at = app
    at.radio(key="vqa_source").set_value("easy-VQA test image").run()
    at.number_input(key="vqa_index").set_value(3).run()
    at.text_input(key="vqa_question").input("what shape is in the image?").run()
    assert not at.exception and not at.warning
    answer = at.subheader[0].value.split()[0]
    assert answer in ("circle", "rectangle", "triangle")
    assert len(hop_captions(at)) == 2
    # the answer and word bars are SVGs: the first visit loads no chart library
    top, words = svg_images(at)
    assert not at.get("plotly_chart") and f">{answer}</text>" in top and ">1. what</text>" in words
    suggestion = at.selectbox(key="vqa_suggested").options[1]
    at.selectbox(key="vqa_suggested").set_value(suggestion).run()
    assert at.text_input(key="vqa_question").value == suggestion
    assert any("true answer" in c.value for c in at.caption)
    assert "easy-VQA" in at.info[0].value
    at.toggle(key="vqa_mc").set_value(True).run()
    assert not at.exception
    at.toggle(key="vqa_mc").set_value(False).run()


@pytest.mark.parametrize("question,phrase", [("what colour is the blob?", "unknown word"),
                                             ("", "empty"), ("what " * 2000, "cut to its first")])
def test_question_warnings(app, question, phrase):
    at = app
    at.radio(key="vqa_source").set_value("easy-VQA test image").run()
    at.text_input(key="vqa_question").input(question).run()
    assert not at.exception
    assert any(phrase in w.value.lower() for w in at.warning), [w.value for w in at.warning]


def test_upload_gets_an_answer(app):
    at = app
    at.radio(key="vqa_source").set_value("Upload").run()
    buf = io.BytesIO()
    Image.new("RGB", (400, 300), (30, 60, 220)).save(buf, "JPEG")
    at.file_uploader(key="vqa_upload").set_value(("blue.jpg", buf.getvalue(), "image/jpeg")).run()
    at.text_input(key="vqa_question").input("what color is the shape?").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.subheader[0].value and len(hop_captions(at)) == 2


def test_a_question_in_words_it_does_not_know_gets_a_guess_not_an_answer(app):
    at = app
    at.radio(key="vqa_source").set_value("easy-VQA test image").run()
    at.text_input(key="vqa_question").input("¿de qué color es el coche?").run()
    assert not at.exception
    assert any("is a guess" in w.value for w in at.warning) and at.subheader[0].value.startswith(":gray[guess: ")
    assert any("qué" in w.value for w in at.warning)  # the unknown word is shown whole


def test_the_first_photo_scene_is_answered_right_and_marked(app):
    at = app
    at.radio(key="vqa_model").set_value("photos").run()
    assert at.session_state["vqa_scene"] == FIRST_PHOTO_SCENE
    assert ":green[right]" in at.subheader[0].value
    at.radio(key="vqa_model").set_value("easy").run()


@pytest.mark.parametrize("name", list(bad_uploads()))
def test_bad_uploads_show_an_error(app, name):
    at = app
    at.radio(key="vqa_source").set_value("Upload").run()
    data, phrase = bad_uploads()[name]
    at.file_uploader(key="vqa_upload").set_value(("upload.png", data, "image/png")).run()
    assert not at.exception
    assert any(phrase.lower() in e.value.lower() for e in at.error), [e.value for e in at.error]


def test_photos_model_scene_typed_and_multiple_choice_questions(app):
    at = app
    at.radio(key="vqa_model").set_value("photos").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.radio(key="vqa_source").value == "Photo-world scene" and "photo world" in at.info[0].value
    answers = set(photo_answers())
    count = next(q for q in at.selectbox(key="vqa_suggested").options if q.startswith("how many"))
    at.text_input(key="vqa_question").input(count).run()
    assert not at.exception and not at.warning
    assert at.subheader[0].value.split()[0] in answers and len(hop_captions(at)) == 2
    assert any("true answer" in c.value for c in at.caption)
    at.toggle(key="vqa_mc").set_value(True).run()
    assert not at.exception and any(m.value.startswith("**Pick: ") for m in at.markdown)
    first = at.selectbox(key="vqa_suggested").options
    at.button(key="vqa_new_scene").click().run()
    assert not at.exception and at.session_state["vqa_scene"] == FIRST_PHOTO_SCENE + 1 and len(hop_captions(at)) == 2
    assert at.selectbox(key="vqa_suggested").options != first                # the new scene's own questions
    assert at.text_input(key="vqa_question").value == at.selectbox(key="vqa_suggested").options[0]
    at.toggle(key="vqa_mc").set_value(False).run()


def upload_to_the_photos_model(at: AppTest, photo, question: str) -> None:
    """Choose the photos model and Upload, upload the (H, W, 3) array as a JPEG and ask the question."""
    at.radio(key="vqa_model").set_value("photos").run()
    at.radio(key="vqa_source").set_value("Upload").run()
    buf = io.BytesIO()
    Image.fromarray(photo).save(buf, "JPEG")
    at.file_uploader(key="vqa_upload").set_value(("photo.jpg", buf.getvalue(), "image/jpeg")).run()
    at.text_input(key="vqa_question").input(question).run()


def test_photos_model_answers_an_uploaded_photo(app):
    import skimage.data
    at = app
    upload_to_the_photos_model(at, skimage.data.chelsea(), "what animal is this?")
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.subheader[0].value.split()[0] in photo_answers() and len(hop_captions(at)) == 2
    at.toggle(key="vqa_mc").set_value(True).run()
    assert not at.exception and any(m.value.startswith("**Pick: ") for m in at.markdown)
    at.toggle(key="vqa_mc").set_value(False).run()
    at.radio(key="vqa_model").set_value("easy").run()
    assert at.radio(key="vqa_source").value == "easy-VQA test image" and not at.exception


def test_an_uploaded_photo_of_a_thing_the_model_cannot_say_is_named_from_the_open_vocabulary(app):
    import skimage.data
    at = app
    upload_to_the_photos_model(at, skimage.data.stereo_motorcycle()[0], "what is this?")
    assert not at.exception and not at.error, [e.value for e in at.error]
    said, own = at.subheader[0].value.split("  ·  ")
    assert said == "motorcycle" and "motorcycle" not in photo_answers()          # the model cannot say it
    assert own.split(": ")[1].split()[0] in photo_answers()                        # its own answer is shown beside
    assert any(m.value.startswith("`motorcycle <- moped") for m in at.markdown)
    at.text_input(key="vqa_question").input("how many cars are there?").run()      # not an object answer
    assert "  ·  " not in at.subheader[0].value and not any("<-" in m.value for m in at.markdown)
    at.radio(key="vqa_model").set_value("easy").run()
