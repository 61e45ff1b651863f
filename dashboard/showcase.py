"""The Captioning page's sample photos: the ones the photo captioner gets right, one honest failure, and the same
decoding path as an upload, so a sample and the same file uploaded get the same caption."""
import io

from PIL import Image

from dashboard import captioning as cap

# scikit-image photos captioned by captioner-photos (beam 3) through the upload path: chelsea "a photo of a cat",
# coffee "a photo of two cups", rocket "a photo of a hammer"; astronaut, motorcycle, camera, horse, clock and coins
# were wrong too. label -> (scikit-image name, the noun a right caption names or None)
SHOWCASE = {
    "cat (chelsea)": ("chelsea", "cat"),
    "coffee cup": ("coffee", "cup"),
    "rocket: a known failure": ("rocket", None),
}
NEVER_LEARNED = {"rocket": "a rocket, a word the captioner never learned"}


def as_uploaded(photo: Image.Image) -> tuple[Image.Image, str]:
    """A photo through the upload's own path (PNG bytes decoded as an upload is) and the upload's cache key."""
    buf = io.BytesIO()
    photo.save(buf, format="PNG")
    image, _ = cap.decode_upload(buf.getvalue())
    return image, "upload:" + cap.image_key(image)


def sample(label: str) -> tuple[Image.Image, str]:
    """A showcase photo, decoded as its upload would be, and its cache key."""
    return as_uploaded(cap.sample_photo(SHOWCASE[label][0]))


def caption_text(words: list[str]) -> str:
    """The caption as a sentence: commas stay against the word before them."""
    return " ".join(words).replace(" ,", ",")


def verdict(label: str, words: list[str]) -> str:
    """Right or wrong, in colour (Streamlit markdown), for a showcase photo's caption."""
    name, noun = SHOWCASE[label]
    if noun is None:
        return f":red[wrong, as expected: the photo shows {NEVER_LEARNED.get(name, name)}]"
    plural = {"cup": "cups", "cat": "cats"}.get(noun, noun + "s")
    if {noun, plural} & set(words):
        return f":green[right: it names the {noun}]"
    return f":red[wrong: the photo shows a {noun}]"
