"""The MTCNN face detector (core/vision/faces.py) on real photos with and without a face."""
import pytest
import torch
from PIL import Image

from core.vision.faces import Face, load_detector, nms, person_grid

skimage_data = pytest.importorskip("skimage.data")


def photo(name: str) -> Image.Image:
    return Image.fromarray(getattr(skimage_data, name)()).convert("RGB")


def test_the_astronaut_has_one_face_where_her_head_is():
    faces = load_detector().detect(photo("astronaut"))
    assert len(faces) == 1 and faces[0].prob > 0.99
    x0, y0, x1, y1 = faces[0].box
    assert 150 < (x0 + x1) / 2 < 290 and 60 < (y0 + y1) / 2 < 180        # her face, upper middle of 512 x 512


def test_a_cup_of_coffee_has_no_face():
    assert load_detector().detect(photo("coffee")) == []


def test_nms_keeps_the_best_of_overlapping_boxes():
    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], dtype=torch.float32)
    assert nms(boxes, torch.tensor([0.5, 0.9, 0.7]), 0.5).tolist() == [1, 2]


def test_person_grid_covers_head_and_shoulders():
    g = person_grid([Face((40, 20, 60, 40), 0.9)], (100, 100), 10)
    assert g.shape == (10, 10) and g.max() == pytest.approx(0.9)
    assert g[3, 5] > 0.5 and g[0, 0] == 0 and g[9, 0] == 0             # below the face yes, far corners no
