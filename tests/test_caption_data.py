"""Caption data: the scene generator's ground truth, the word vocabulary, the Karpathy-split JSON loader and CLI."""
import json

import numpy as np
import pytest

from core.caption.data import CaptionDataError, read_karpathy_json
from core.cli import caption_train as train_cli
from core.common.words import WordVocab, tokenize
from core.vision.scenes import COLORS, SHAPES, make_scene, split_seeds


@pytest.mark.parametrize("seed", range(12))
def test_scene_masks_match_drawn_objects(seed):
    scene = make_scene(seed)
    img = np.asarray(scene.image).astype(int)                 # (H, W, 3)
    assert 1 <= len(scene.objects) <= 4 and len(scene.captions) == 5
    union = np.zeros(img.shape[:2], bool)
    for o in scene.objects:
        assert o.mask.any() and not (o.mask & union).any()    # objects do not overlap
        union |= o.mask
        pix = img[o.mask]
        assert (pix == pix[0]).all()                          # one flat fill colour inside the mask
        assert np.abs(pix[0] - np.array(COLORS[o.color])).max() <= 15
        ys, xs = np.nonzero(o.mask)
        assert abs(xs.mean() - o.x) < o.r and abs(ys.mean() - o.y) < o.r
    again = make_scene(seed)                                  # deterministic per seed
    assert np.array_equal(np.asarray(again.image), np.asarray(scene.image)) and again.captions == scene.captions
    for c in scene.captions:                                  # every object is named in every caption
        words = tokenize(c)
        for o in scene.objects:
            assert o.color in words and (o.shape in words or o.shape + "s" in words)


def test_splits_are_disjoint_and_vocab_round_trips():
    a, b, c = (set(split_seeds(s, 100)) for s in ("train", "val", "test"))
    assert not (a & b or a & c or b & c)
    caps = [tokenize(c) for s in range(20) for c in make_scene(s).captions]
    v = WordVocab.build(caps)
    assert v.itos[:4] == ["<pad>", "<start>", "<end>", "<unk>"] and set(COLORS) <= set(v.itos)
    assert set(SHAPES) <= set(v.itos) | {s for s in SHAPES if s + "s" in v.itos}
    assert v.decode(v.encode(caps[0])) == caps[0]
    assert v.encode(["zebra"])[1] == v.stoi["<unk>"]


def write_karpathy(tmp_path):
    """A mini-dataset in the exact Karpathy-split format (dataset_flickr8k.json style)."""
    root = tmp_path / "Flicker8k_Dataset"
    (root / "sub").mkdir(parents=True)
    images = []
    for k, split in enumerate(["train", "train", "restval", "train", "val", "test"]):
        scene = make_scene(1000 + k)
        name = f"{1000 + k}_img.jpg"
        scene.image.save(root / "sub" / name, quality=90)
        sents = [{"tokens": tokenize(c), "raw": c.capitalize() + ".", "imgid": k, "sentid": 5 * k + j}
                 for j, c in enumerate(scene.captions)]
        images.append({"filepath": "sub", "filename": name, "imgid": k, "split": split,
                       "sentences": sents, "sentids": [s["sentid"] for s in sents]})
    path = tmp_path / "dataset_mini.json"
    path.write_text(json.dumps({"images": images, "dataset": "flickr8k"}))
    return path, root


def test_karpathy_json_loader(tmp_path):
    path, _ = write_karpathy(tmp_path)
    splits = read_karpathy_json(path)
    assert [len(splits[s]) for s in ("train", "val", "test")] == [4, 1, 1]   # restval joins train
    rel, caps = splits["test"][0]
    assert rel == "sub/1005_img.jpg" and len(caps) == 5 and caps[0] == tokenize(make_scene(1005).captions[0])
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"annotations": []}))
    with pytest.raises(CaptionDataError, match="Karpathy"):
        read_karpathy_json(bad)


@pytest.mark.slow
def test_train_cli_on_karpathy_json(tmp_path, capsys):
    path, root = write_karpathy(tmp_path)
    out = tmp_path / "ck"
    rc = train_cli.main(["--karpathy-json", str(path), "--images", str(root), "--out", str(out),
                         "--cache-dir", str(tmp_path / "cache"), "--max-steps", "2", "--eval-every", "1",
                         "--batch-size", "4", "--hidden-size", "16", "--embed-size", "8",
                         "--attention-size", "8", "--min-count", "1", "--beam", "2", "--device", "cpu"])
    assert rc == 0
    card = json.loads((out / "card.json").read_text())
    assert card["steps"] == 2 and 0 <= card["test"]["bleu4"] <= 1 and "pointing_game" not in card["test"]
    assert card["hardware"].startswith("cpu: ") and card["command"].endswith("--device cpu")
    assert {p.name for p in out.iterdir()} == {"model.safetensors", "config.json", "vocab.json", "card.json"}
    capsys.readouterr()
    missing = tmp_path / "empty"
    missing.mkdir()
    again = ["--karpathy-json", str(path), "--images", str(missing), "--out", str(out),
             "--cache-dir", str(tmp_path / "cache2")]
    assert train_cli.main(again) == 2                          # refused before reading any data
    err = capsys.readouterr().err
    assert "already holds a checkpoint; pass --overwrite to replace it" in err and "--resume" not in err
    assert json.loads((out / "card.json").read_text()) == card and not (tmp_path / "cache2").exists()
    assert train_cli.main([*again, "--overwrite"]) == 2        # let in, then stopped by the missing images
    assert "missing" in capsys.readouterr().err
