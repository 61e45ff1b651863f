"""Upload-to-caption-and-maps latency for a 12-megapixel JPEG (beam 3), beside the naive decode path and
beside the photo captioner's path.

The shapes paths run the same encoder, beam search and per-word map upsampling; they differ in decoding:
  drafted: core.vision.images.open_image -> Image.draft() lets libjpeg decode at 1/8 .. 1/2 scale
  naive:   full 12 MP decode, exif_transpose, convert, then resize to the same 448 px
The photos path is the photo captioner's decoder words alone: drafted decode, the late encoder stage (384 px),
beam search, every word's map, and the ImageNet top-5 of the CNN's own head on the same features. The named path
is what the page does now: the same plus the face detector and every noun read from the concept memory
(core.vision.naming). Median over repeats, same process, same image, interleaved.

    python bench/caption_latency.py [--repeats 7] [--threads 2] [--photo chelsea|astronaut]
"""
import argparse
import io
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image, ImageOps  # noqa: E402

from core.caption.model import load_captioner  # noqa: E402
from core.caption.pipeline import describe_and_classify  # noqa: E402
from core.vision.encoder import Encoder  # noqa: E402
from core.vision.faces import load_detector  # noqa: E402
from core.vision.imagenet import ImageNetClassifier  # noqa: E402
from core.vision.images import DISPLAY_SIDE, open_image  # noqa: E402
from core.vision.maps import upsample_map  # noqa: E402


def twelve_megapixel_jpeg(name: str = "chelsea") -> bytes:
    """A 4000 x 3000 photo-like JPEG (a skimage photo upscaled, with sensor-like noise)."""
    import skimage.data
    base = Image.fromarray(getattr(skimage.data, name)()).convert("RGB").resize((4000, 3000), Image.BICUBIC)
    noise = np.random.default_rng(0).normal(0, 6, (3000, 4000, 3))
    img = Image.fromarray(np.clip(np.asarray(base, np.float32) + noise, 0, 255).astype(np.uint8))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def naive_open(data: bytes) -> Image.Image:
    im = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
    im.thumbnail((DISPLAY_SIDE, DISPLAY_SIDE), Image.BILINEAR)
    return im


def run(data: bytes, decode, encoder, captioner, beam: int, classifier=None, detector=None) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) for one upload -> caption + all word maps (+ ImageNet top-5;
    + faces and named nouns given a detector)."""
    wall, cpu = time.perf_counter(), time.process_time()
    image = decode(data)
    cap, _ = describe_and_classify(image, encoder, captioner, classifier, beam, detector is not None, detector)
    _ = [upsample_map(a, image.height, image.width) for a in cap.alphas]   # the maps the page shows
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--threads", type=int, default=1, help="torch threads (the dashboard uses 1)")
    p.add_argument("--beam", type=int, default=3)
    p.add_argument("--model", default="checkpoints/captioner-scenes")
    p.add_argument("--photos-model", default="checkpoints/captioner-photos")
    p.add_argument("--photo", choices=["chelsea", "astronaut"], default="chelsea", help="astronaut: with a face")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    data = twelve_megapixel_jpeg(a.photo)
    encoder, captioner = Encoder(), load_captioner(a.model)
    photos = load_captioner(a.photos_model)
    late, classifier = Encoder(photos.model.cfg.encoder), ImageNetClassifier()
    drafted = lambda b: open_image(b).image  # noqa: E731
    paths = {"drafted": lambda: run(data, drafted, encoder, captioner, a.beam),
             "naive": lambda: run(data, naive_open, encoder, captioner, a.beam),
             "photos": lambda: run(data, drafted, late, photos, a.beam, classifier),
             "named": lambda: run(data, drafted, late, photos, a.beam, classifier, load_detector())}
    for go in paths.values():                                              # warm-up
        go()
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in paths}
    for _ in range(a.repeats):                                             # interleaved, so load hits all
        for k, go in paths.items():
            times[k].append(go())
    wall = {k: statistics.median(w for w, _ in v) for k, v in times.items()}
    cpu = {k: statistics.median(c for _, c in v) for k, v in times.items()}
    print(f"12 MP JPEG of {a.photo} ({len(data) / 1e6:.1f} MB), beam {a.beam}, {a.threads} thread(s), {a.repeats} repeats, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for k, label in (("drafted", "shapes: upload -> caption + maps, drafted"), ("naive", "shapes: baseline, full decode"),
                     ("photos", "photos: caption + maps + ImageNet top-5"),
                     ("named", "photos named: + faces + nouns from memory")):
        print(f"{label:42s} median wall {wall[k] * 1000:6.0f} ms   median CPU {cpu[k] * 1000:6.0f} ms")
    print(f"speed-up (wall) {wall['naive'] / wall['drafted']:.1f}x, (CPU) {cpu['naive'] / cpu['drafted']:.1f}x; "
          f"photos path / shapes path (wall) {wall['photos'] / wall['drafted']:.1f}x; target < 1000 ms wall: "
          f"shapes {'met' if wall['drafted'] < 1.0 else 'NOT met'}, photos {'met' if wall['photos'] < 1.0 else 'NOT met'}, "
          f"named {'met' if wall['named'] < 1.0 else 'NOT met'}")


if __name__ == "__main__":
    main()
