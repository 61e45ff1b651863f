"""How far any naming rule could take the photo captioner's object-noun recall on held-out stamps: per object, does
the decoder's own caption name it, does the concept memory name it when it reads the object's true mask (an oracle
attention no caption has), and does either? The last is the ceiling of every arbitration between the two
(core.vision.naming), beside the decoder alone, measured on the same photos in one run.

    python bench/naming_ceiling.py [--split val|test] [--images 250] [--threads 2]
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from core.caption.model import load_captioner  # noqa: E402
from core.caption.search import caption  # noqa: E402
from core.vision.encoder import Encoder, to_input  # noqa: E402
from core.vision.photos import PhotoObject, make_photo, names, split_seeds  # noqa: E402
from core.vision.vocabulary import class_to_noun_matrix, open_nouns  # noqa: E402


def memory_names(obj: PhotoObject, feats: torch.Tensor, head: torch.nn.Linear, to_nouns: torch.Tensor,
                 nouns: list[str]) -> bool:
    """Whether the open noun the ImageNet head gives the annotations (L, D) averaged over the object's mask names it."""
    grid = int(round(feats.shape[0] ** 0.5))
    mask = torch.from_numpy(obj.mask.astype(np.float32))[None, None]                   # (1, 1, H, W)
    cover = F.adaptive_avg_pool2d(mask, grid).flatten()                                 # (L,)
    per_noun = torch.softmax(head((cover / cover.sum()) @ feats), -1) @ to_nouns        # (N,)
    return names(nouns[int(per_noun.argmax())], obj.noun)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--split", choices=("val", "test"), default="val")
    p.add_argument("--images", type=int, default=250)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--model", default="checkpoints/captioner-photos")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    captioner, encoder = load_captioner(a.model), Encoder("late")
    to_nouns, nouns = class_to_noun_matrix(), open_nouns()
    n = decoder = memory = either = 0
    with torch.no_grad():
        for seed in split_seeds(a.split, a.images, 0):
            scene = make_photo(seed)
            feats = encoder(to_input([scene.image], encoder.input_size))[0]             # (L, D)
            words = caption(captioner.model, captioner.vocab, feats, 3).words
            for obj in scene.objects:
                said = any(names(w, obj.noun) for w in words)
                seen = memory_names(obj, feats, encoder.classifier, to_nouns, nouns)
                n, decoder, memory, either = n + 1, decoder + said, memory + seen, either + (said or seen)
    print(f"photo world {a.split}, {a.images} photos, {n} objects (held-out stamps), beam 3")
    print(f"decoder's own caption names it              {decoder / n:6.1%}")
    print(f"concept memory at the object's true mask    {memory / n:6.1%}")
    print(f"either: the ceiling of any naming rule      {either / n:6.1%}  (target recall 70%)")


if __name__ == "__main__":
    main()
