"""Upload-to-answer latency for a 12-megapixel JPEG: answer, top 5, per-hop maps and word saliency, beside the
captioner's upload-to-caption-and-maps latency on the same image (the page the VQA page sits next to).

Both paths decode with core.vision.images.open_image (libjpeg draft) and run the same frozen encoder;
they differ in what follows it (stacked attention + one backward pass for word saliency, against a beam
search of the caption). For the photo model a third path is what the VQA page does for an upload: the same answer,
plus the face detector and the object answer read from the concept memory under the last hop
(core.vqa.pipeline.open_source). Medians over interleaved repeats, same process, same image.

    python bench/vqa_latency.py [--repeats 9] [--threads 1] [--model checkpoints/vqa-easy]
    python bench/vqa_latency.py --model checkpoints/vqa-photos     (late stage, beside captioner-photos)
"""
import argparse
import os
import statistics
import sys
import time
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from caption_latency import twelve_megapixel_jpeg  # noqa: E402

from core.caption.model import load_captioner  # noqa: E402
from core.caption.pipeline import describe  # noqa: E402
from core.vision.encoder import Encoder  # noqa: E402
from core.vision.faces import FaceDetector, load_detector  # noqa: E402
from core.vision.images import open_image  # noqa: E402
from core.vision.maps import upsample_map  # noqa: E402
from core.vqa.checkpoint import load_vqa  # noqa: E402
from core.vqa.pipeline import answer_question, encode_image, open_source  # noqa: E402

QUESTIONS = {"mid": "what color is the shape?", "late": "what animal is this?"}


def vqa_path(data: bytes, encoder: Encoder, ckpt, detector: FaceDetector | None = None) -> None:
    image = open_image(data).image
    feats = encode_image(image, encoder, bool(ckpt.model.cfg.colours))
    ans = answer_question(ckpt, feats, QUESTIONS[encoder.stage])
    _ = ans.top(5), [upsample_map(a, image.height, image.width) for a in ans.alphas]
    if detector is not None:
        open_source(ans, feats, encoder.classifier, image, detector.detect(image))


def caption_path(data: bytes, encoder: Encoder, captioner, beam: int = 3) -> None:
    image = open_image(data).image
    cap = describe(image, encoder, captioner, beam)
    _ = [upsample_map(a, image.height, image.width) for a in cap.alphas]


def timed(fn, *args) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn(*args)
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=9)
    p.add_argument("--threads", type=int, default=1, help="torch threads (the dashboard uses 1)")
    p.add_argument("--model", default="checkpoints/vqa-easy")
    p.add_argument("--captioner", help="default: the captioner reading the VQA model's encoder stage "
                                       "(captioner-scenes for mid, captioner-photos for late)")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    data = twelve_megapixel_jpeg()
    ckpt = load_vqa(a.model)
    stage = ckpt.model.cfg.encoder
    captioner = load_captioner(a.captioner or f"checkpoints/captioner-{'photos' if stage == 'late' else 'scenes'}")
    encoder = Encoder(stage)
    paths = {"vqa": (vqa_path, ckpt), "caption": (caption_path, captioner)}
    if stage == "late":
        paths["named"] = (partial(vqa_path, detector=load_detector()), ckpt)
    for fn, model in paths.values():                                       # warm-up
        fn(data, encoder, model)
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in paths}
    for _ in range(a.repeats):                                             # interleaved, so load hits both
        for k, (fn, model) in paths.items():
            times[k].append(timed(fn, data, encoder, model))
    wall = {k: statistics.median(w for w, _ in v) for k, v in times.items()}
    cpu = {k: statistics.median(c for _, c in v) for k, v in times.items()}
    print(f"12 MP JPEG ({len(data) / 1e6:.1f} MB), {a.threads} thread(s), {a.repeats} repeats, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for k, label in (("vqa", "upload -> answer + hop maps + word saliency"),
                     ("named", "the same + faces + open-vocabulary answer"),
                     ("caption", "baseline: upload -> caption + maps (beam 3)")):
        if k in wall:
            print(f"{label:46s} median wall {wall[k] * 1000:6.0f} ms   median CPU {cpu[k] * 1000:6.0f} ms")
    slowest = max(wall[k] for k in ("vqa", "named") if k in wall)
    print(f"VQA / caption (wall) {wall['vqa'] / wall['caption']:.2f}x"
          + (f"; named / unnamed VQA {wall['named'] / wall['vqa']:.2f}x" if "named" in wall else "")
          + f"; target < 1000 ms wall: {'met' if slowest < 1.0 else 'NOT met'}")


if __name__ == "__main__":
    main()
