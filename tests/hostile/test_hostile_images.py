"""Hostile images for the captioner (issue 10): a pixel limit said on the page, non-finite float pixels
refused, decoding within 1 GB, and a 1 x 4000 strip shown without st.image failing."""
import io

import numpy as np
import pytest
from hostile_helpers import ROOT, run_capped
from PIL import Image
from streamlit.testing.v1 import AppTest

from core.vision.images import MAX_PIXELS, ImageError, open_image

DECODE = ("import sys; from core.vision.images import open_image; "
          "print(open_image(open(sys.argv[1], 'rb').read()).image.size)")


def png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG", compress_level=1)
    return buf.getvalue()


def test_a_40_megapixel_png_is_refused_by_the_pixel_limit():
    data = png(Image.new("RGBA", (6300, 6340), (10, 200, 30, 128)))  # 171 kB on disk
    with pytest.raises(ImageError, match=f"above the {MAX_PIXELS / 1e6:.0f} MP limit"):
        open_image(data)


@pytest.mark.slow
def test_the_largest_accepted_image_decodes_within_1_gb(tmp_path):
    side = int(MAX_PIXELS ** 0.5)
    path = tmp_path / "big.png"
    path.write_bytes(png(Image.new("RGBA", (side, side), (10, 200, 30, 128))))
    proc = run_capped(["-c", DECODE, str(path)], timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == "(448, 448)", proc.stderr[-2000:]


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_float_pixels_that_are_not_finite_are_refused(bad):
    a = np.linspace(0, 1, 48 * 64, dtype=np.float32).reshape(48, 64)
    a[3, 5] = bad
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "TIFF")
    with pytest.raises(ImageError, match="non-finite pixel values"):
        open_image(buf.getvalue())


@pytest.mark.slow
def test_a_1_by_4000_strip_is_captioned_and_shown():
    at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=300)
    at.run()
    at.switch_page("../pages/captioning.py")
    at.run()
    at.radio(key="cap_source").set_value("Upload").run()
    assert f"at most {MAX_PIXELS / 1e6:.0f} megapixels" in at.get("file_uploader")[0].label
    at.file_uploader(key="cap_upload").set_value(("strip.png", png(Image.new("RGB", (1, 4000), (200, 10, 10))),
                                                  "image/png")).run()
    assert not at.exception, at.exception
    assert at.subheader[0].value != "(empty caption)" and len(at.image) > 2
