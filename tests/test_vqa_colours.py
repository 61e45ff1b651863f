"""Colour channels for photo-world VQA: each cell's pixel shares per colour name, the cache, and a model that
reads them beside the raw grid (raw and already-read grids give the same answer)."""
import json

import numpy as np
import torch
from PIL import Image

from core.vision.photos import COLOUR_NAMES, make_photo, split_seeds
from core.vqa.colours import N_COLOURS, colour_grid, photo_colours
from core.vqa.model import StackedAttentionVQA, VQAConfig
from core.vqa.pipeline import encode_image


def test_each_cell_counts_its_own_pixels():
    a = np.zeros((40, 40, 3), np.uint8)
    a[:, :20] = (220, 20, 20)            # left half red
    a[:20, 20:] = (20, 40, 230)          # top right blue; bottom right stays black
    shares = colour_grid(Image.fromarray(a), 2).astype(np.float32)      # cells: tl, tr, bl, br
    assert shares.shape == (4, N_COLOURS) and np.allclose(shares.sum(1), 1, atol=1e-2)
    red, blue, black = (COLOUR_NAMES.index(c) for c in ("red", "blue", "black"))
    assert shares[0, red] > 0.95 and shares[2, red] > 0.95
    assert shares[1, blue] > 0.95 and shares[3, black] > 0.95


def test_the_cache_matches_the_photos_and_a_named_colour_shows_on_its_object(tmp_path):
    grids = photo_colours("val", 3, 0, tmp_path, 12).astype(np.float32)
    assert grids.shape == (3, 144, N_COLOURS) and (tmp_path / "photos-seed0-val-0.colours12.npy").exists()
    assert np.array_equal(photo_colours("val", 2, 0, tmp_path, 12), grids[:2].astype(np.float16))   # cached rows
    meta = tmp_path / "photos-seed0-val-0.colours12.json"
    old = json.loads(meta.read_text())
    meta.write_text(json.dumps({"seeds": old["seeds"], "nouns": old["extras"]}))    # an older cache's layout
    assert np.array_equal(photo_colours("val", 3, 0, tmp_path, 12), grids.astype(np.float16))        # rebuilt
    assert "extras" in json.loads(meta.read_text())
    for k, seed in enumerate(split_seeds("val", 3)):
        scene = make_photo(seed)
        assert np.allclose(grids[k], colour_grid(scene.image, 12), atol=1e-3)
        for o in scene.objects:
            if o.colour is None:
                continue
            cells = Image.fromarray(o.mask.astype(np.uint8) * 255).resize((12, 12), Image.BOX)
            w = np.asarray(cells, np.float32).ravel() / 255.0               # (144,) share of each cell covered
            assert COLOUR_NAMES[int((w @ grids[k]).argmax())] == o.colour or (w @ grids[k]).max() < 0.6


def test_a_model_reads_colours_beside_the_raw_grid():
    torch.manual_seed(0)
    cfg = VQAConfig(12, 5, feature_dim=6, grid=2, embed_size=8, hidden_size=16, attention_size=8, input_dim=10,
                    colours=N_COLOURS)
    model = StackedAttentionVQA(cfg).eval()
    raw = torch.randn(1, 4, 10 + N_COLOURS)                                  # (1, L, input_dim + colours)
    read = model.read(raw)
    assert read.shape == (1, 4, 6 + N_COLOURS) and torch.equal(read[..., 6:], raw[..., 10:])
    tokens = torch.tensor([[2, 3, 4]])
    with torch.no_grad():
        assert torch.allclose(model(tokens, raw)[0], model(tokens, read)[0], atol=1e-6)
        changed = raw.clone()
        changed[..., 10:] = torch.rand(1, 4, N_COLOURS)
        assert not torch.allclose(model(tokens, raw)[0], model(tokens, changed)[0])


def test_an_uploaded_image_gets_its_colour_channels():
    class FlatEncoder:                                                       # a stand-in for the CNN's grid
        input_size = 32

        def __call__(self, x):
            return torch.zeros(1, 9, 5)
    image = Image.new("RGB", (300, 200), (240, 240, 20))
    plain = encode_image(image, FlatEncoder())
    with_colours = encode_image(image, FlatEncoder(), colours=True)
    assert plain.shape == (1, 9, 5) and with_colours.shape == (1, 9, 5 + N_COLOURS)
    assert (with_colours[0, :, 5 + COLOUR_NAMES.index("yellow")] > 0.99).all()
