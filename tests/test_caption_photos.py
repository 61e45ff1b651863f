"""Photo world (Tux Paint cut-outs on real backgrounds): masks, captions, the split by stamp file; the encoder's
stages and the ImageNet head; the shipped photo captioner and its CLI.

Needs the two Debian packages unpacked under $RNNLENS_DATA/photos (`rnnlens photos fetch`;
.ci/run does it)."""
import hashlib
import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.ndimage import binary_dilation

from core.cli import describe as describe_cli
from core.common.words import tokenize
from core.vision.encoder import Encoder, to_input
from core.vision.photo_stamps import noun_forms, plural
from core.vision.photos import (
    make_photo,
    named_objects,
    split_of,
    split_seeds,
    stamp_splits,
    tuxpaint_root,
    word_masks,
)
from tests.conftest import ROOT

MODEL = ROOT / "checkpoints" / "captioner-photos"


@pytest.fixture(scope="module", autouse=True)
def sources():
    if not (tuxpaint_root() / "stamps").is_dir():
        pytest.fail(f"photo world sources missing under {tuxpaint_root()}: run `rnnlens photos fetch`")


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 5, 9, 20_000_002, 10_000_004])
def test_masks_match_pasted_pixels_and_captions_name_every_object(seed):
    scene = make_photo(seed)
    img, bg = np.asarray(scene.image).astype(int), np.asarray(scene.backdrop).astype(int)
    diff = np.abs(img - bg).max(-1)                                 # (H, W)
    changed = diff > 0                                              # pixels a cut-out covers
    union = np.zeros(changed.shape, bool)
    for o in scene.objects:
        assert o.mask.sum() >= 200 and not (o.mask & union).any()   # visible masks do not overlap
        union |= o.mask
        assert changed[o.mask].mean() > 0.97                        # the mask is where the stamp's pixels are
        x0, y0, x1, y1 = o.box
        ys, xs = np.nonzero(o.mask)
        assert x0 <= xs.min() and xs.max() < x1 and y0 <= ys.min() and ys.max() < y1
    outside = ~binary_dilation(union, iterations=2)
    assert (diff[outside] <= 127).all()         # outside the masks only faint halos (alpha < 1/2) show through
    assert len(scene.captions) == 5
    for c in scene.captions:
        words = tokenize(c)
        assert named_objects(words, scene.objects) == len(scene.objects), c
    again = make_photo(seed)
    assert np.array_equal(np.asarray(again.image), np.asarray(scene.image)) and again.captions == scene.captions


@pytest.mark.slow
def test_split_by_stamp_file_without_leaks():
    splits = stamp_splits()
    files = {s: {p for _, p in v} for s, v in splits.items()}
    assert not (files["train"] & files["val"] or files["train"] & files["test"] or files["val"] & files["test"])
    digest = {s: {hashlib.sha256((tuxpaint_root() / "stamps" / p).read_bytes()).hexdigest() for p in ps}
              for s, ps in files.items()}
    assert not (digest["train"] & digest["test"] or digest["train"] & digest["val"])   # no copy under two names
    train_nouns = {n for n, _ in splits["train"]}
    assert {n for n, _ in splits["test"]} <= train_nouns and len(splits["test"]) >= 40
    for seed in split_seeds("test", 30):
        assert split_of(seed) == "test"
        assert all(o.stamp in files["test"] for o in make_photo(seed).objects)
    assert all(o.stamp in files["train"] for s in split_seeds("train", 30) for o in make_photo(s).objects)


def test_nouns_plurals_and_word_masks():
    assert plural("person") == "people" and plural("strawberry") == "strawberries" and plural("fish") == "fish"
    forms = noun_forms()
    assert forms["mice"] == "mouse" and forms["boxes" if "box" in forms else "cats"] in ("box", "cat")
    scene = make_photo(9)
    words = [w for c in scene.captions for w in tokenize(c)][:12]
    masks = word_masks(words, scene.objects)
    assert any(m is not None for m in masks)
    for w, m in zip(words, masks):
        assert (m is not None) == (w in forms and any(o.noun == forms[w] for o in scene.objects))


@pytest.mark.slow
def test_encoder_stages():
    im = Image.fromarray(np.random.default_rng(0).integers(0, 255, (100, 150, 3), dtype=np.uint8))
    mid, late = Encoder(), Encoder("late")
    assert mid(to_input([im])).shape == (1, 196, 192)             # the default is unchanged
    assert late(to_input([im], late.input_size)).shape == (1, 144, 1280)
    with pytest.raises(ValueError, match="unknown encoder stage"):
        Encoder("early")


@pytest.mark.slow
def test_imagenet_head_index_order():
    import skimage.data

    from core.vision.imagenet import ImageNetClassifier
    clf = ImageNetClassifier()
    cat = clf.top(Image.fromarray(skimage.data.chelsea()), 5)
    assert {g.index for g in cat[:3]} <= {281, 282, 283, 284, 285, 287} and "cat" in " ".join(g.name for g in cat)
    cup = clf.top(Image.fromarray(skimage.data.coffee()), 5)
    assert cup[0].index == 967 and cup[0].name == "espresso"
    late = Encoder("late")                                         # the same head on the captioner's annotations
    feats = late(to_input([Image.fromarray(skimage.data.chelsea())], late.input_size))[0]
    assert clf.top_from_annotations(feats, 1)[0].index in {281, 282, 283, 284, 285, 287}


@pytest.mark.slow
def test_shipped_photo_captioner_names_held_out_objects():
    from core.caption.model import load_captioner
    from core.caption.pipeline import describe
    ck = load_captioner(MODEL)
    assert json.loads((MODEL / "config.json").read_text())["kind"] == "captioner"
    assert sum(f.stat().st_size for f in MODEL.iterdir()) < 25e6 and ck.card["world"] == "photos"
    torch.set_num_threads(1)
    enc = Encoder(ck.model.cfg.encoder)
    named = total = 0
    for seed in split_seeds("test", 8):                            # held-out stamps only
        scene = make_photo(seed)
        words = describe(scene.image, enc, ck, 3).words
        named += named_objects(words, scene.objects)
        total += len(scene.objects)
    assert named / total >= 0.4, (named, total)                      # test split: 0.46 over 300 images


@pytest.mark.slow
def test_shipped_photo_captioner_names_a_real_cat_and_looks_at_it():
    import skimage.data

    from core.caption.model import load_captioner
    from core.caption.pipeline import describe
    ck = load_captioner(MODEL)
    torch.set_num_threads(1)
    photo = Image.fromarray(skimage.data.chelsea())                 # a real tabby cat, never trained on
    c = describe(photo, Encoder(ck.model.cfg.encoder), ck, 3)
    assert "cat" in c.words, c.text
    peak = np.unravel_index(int(c.alphas[c.words.index("cat")].argmax()), c.alphas.shape[1:])
    assert 2 <= peak[0] <= 11 and 2 <= peak[1] <= 10, peak            # on the cat, not the top-left background


@pytest.mark.slow
def test_describe_cli(tmp_path, capsys):
    good = tmp_path / "scene.png"
    make_photo(20_000_001).image.save(good)
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    rc = describe_cli.main(["--model", str(MODEL), "--beam", "2", str(good), str(bad), str(tmp_path / "gone.jpg")])
    out, err = capsys.readouterr()
    assert rc == 1
    path, caption = out.strip().split("\t")
    assert path == str(good) and caption
    lines = err.strip().splitlines()
    assert lines[0] == f"{bad}\terror: This file is not an image Pillow can read (try JPEG, PNG, WebP, BMP or GIF)."
    assert lines[1].startswith(f"{tmp_path / 'gone.jpg'}\terror: No such file")
    proc = subprocess.run([sys.executable, "-m", "core.cli", "describe", "--beam", "11", str(good)],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "--beam: must be between 1 and 10" in proc.stderr
