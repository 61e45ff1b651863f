"""The Captioning page's sample photos: the ones the photo captioner gets right, one honest failure, and the same
decoding path as an upload, so a sample and the same file uploaded get the same caption."""
import io

from PIL import Image

from core.vision.photos import names
from dashboard import captioning as cap

# scikit-image photos captioned by captioner-photos (beam 3, nouns named from the concept memory) through the upload
# path: chelsea "a photo of a cat", coffee "a photo of a coffee, a teapot and a trophy", astronaut "a photo of a person
# and a drum", rocket "a photo of a wrench"; motorcycle ("a flower") and camera ("two people and a hammer", for
# one man) were wrong. label -> (scikit-image name, the photo-world noun a right caption names, or None for the failure)
SHOWCASE = {
    "cat (chelsea)": ("chelsea", "cat"),
    "coffee cup": ("coffee", "cup"),
    "astronaut (a person)": ("astronaut", "person"),
    "rocket: a known failure": ("rocket", None),
}


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
        return f":red[wrong, as expected: the photo shows a {name}]"
    said = [w for w in words if names(w, noun)]
    if said:
        return f":green[right: it names the {noun}]" + ("" if said[0] == noun else f" (as *{said[0]}*)")
    return f":red[wrong: the photo shows a {noun}]"
