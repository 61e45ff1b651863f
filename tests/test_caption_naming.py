"""Decoupled naming (core/vision/naming.py): noun slots filled from the concept memory under their attention."""
import pytest
import torch
from torch import nn

from core.vision.faces import Face
from core.vision.naming import ConceptMemory, Namer
from core.vision.photo_stamps import noun_forms
from core.vision.photos import names, tuxpaint_root

L = 16                                     # a 4 x 4 grid
JELLYFISH, TABBY = 107, 281               # ImageNet class indices


def memory(faces=None, seen: int = JELLYFISH) -> ConceptMemory:
    feats = torch.zeros(L, 1280)
    feats[5, 0] = 1.0                      # cell 5 holds what the head reads as ImageNet class `seen`
    head = nn.Linear(1280, 1000)
    nn.init.zeros_(head.weight)
    nn.init.zeros_(head.bias)
    head.weight.data[seen, 0] = 10.0
    return ConceptMemory(feats, head, faces, (400, 400))


def look_at(cell: int) -> torch.Tensor:
    alpha = torch.zeros(L)
    alpha[cell] = 1.0
    return alpha


def test_a_noun_never_in_training_captions_fills_the_slot_the_attention_points_at():
    assert "jellyfish" not in noun_forms()
    namer = Namer(memory(), noun_forms(), noun_prob=0.3)
    src = namer.name(look_at(5), "flower")
    assert (src.noun, src.word, src.decoder_word) == ("jellyfish", "jellyfish", "flower")
    assert src.evidence[0][0].lower() == "jellyfish" and src.evidence[0][1] > 0.9
    assert namer.name(look_at(5), "flowers").word == "jellyfish"                 # plural of jellyfish
    kept = namer.name(look_at(0), "flower")                                       # a cell the memory is unsure of
    assert (kept.word, kept.evidence) == ("flower", [])
    assert namer.name(look_at(5), "the") is None                                  # not a noun slot
    assert namer.name(look_at(5), "flower", {"jellyfish"}).word == "flower"       # never the same noun twice


def test_faces_name_a_person_and_two_faces_people():
    one = Namer(memory([Face((0, 0, 100, 100), 0.99)]), noun_forms())
    src = one.name(look_at(0), "planet")                                          # cell 0: the face's corner
    assert (src.word, src.drops_article) == ("person", False) and src.describe() == "person <- face, p 0.99"
    two = Namer(memory([Face((0, 0, 100, 100), 0.99), Face((300, 0, 400, 100), 0.98)]), noun_forms())
    src = two.name(look_at(0), "planet")
    assert (src.noun, src.word, src.drops_article) == ("person", "people", True)
    assert one.name(look_at(15), "planet").word == "planet"                       # far from the face


def test_shipped_captioner_names_a_jellyfish_it_never_saw_in_a_caption():
    from PIL import Image

    from core.caption.model import load_captioner
    from core.caption.pipeline import describe_and_classify
    from core.vision.encoder import Encoder
    path = tuxpaint_root() / "templates" / "jellyfish.jpg"
    if not path.is_file():
        pytest.fail(f"photo world sources missing under {tuxpaint_root()}: run `python -m core.vision.photos fetch`")
    ck = load_captioner("checkpoints/captioner-photos")
    image = Image.open(path).convert("RGB")
    before, _ = describe_and_classify(image, Encoder("late"), ck, None, 3)
    after, _ = describe_and_classify(image, Encoder("late"), ck, None, 3, naming=True)
    assert "jellyfish" not in before.words and "jellyfish" in after.words
    k = after.words.index("jellyfish")
    assert after.sources[k].decoder_word in noun_forms() and after.alphas.shape[0] == len(after.words)


def test_vqa_object_answer_is_read_from_the_open_vocabulary_under_the_last_hop():
    import numpy as np

    from core.vqa.pipeline import Answer, open_answer
    m = memory()
    alphas = np.zeros((2, 4, 4), np.float32)
    alphas[0, 0, 0] = alphas[1, 1, 1] = 1.0                                       # last hop on cell 5
    answer = Answer(None, ["flower", "yes"], np.array([0.8, 0.2]), alphas, np.zeros(3), np.zeros(2))
    feats = torch.cat([m.feats, torch.zeros(L, 11)], -1)[None]                    # (1, L, 1280 + colours)
    assert open_answer(answer, feats, m.head) == "jellyfish"
    answer.probs = np.array([0.2, 0.8])
    assert open_answer(answer, feats, m.head) == "yes"                            # not an object answer


def test_a_sure_decoder_keeps_its_word_and_an_unsure_one_takes_the_memorys():
    namer = Namer(memory(), noun_forms(), noun_prob=0.3, decoder_sure=0.6)
    sure = namer.name(look_at(5), "flower", word_prob=0.9)
    assert (sure.word, sure.evidence, sure.decoder_prob) == ("flower", [], 0.9)
    assert namer.name(look_at(5), "flower", word_prob=0.3).word == "jellyfish"
    face = Namer(memory([Face((0, 0, 100, 100), 0.99)]), noun_forms(), decoder_sure=0.6)
    assert face.name(look_at(0), "planet", word_prob=0.9).word == "person"       # a face outweighs a sure decoder


def test_faces_under_the_floor_are_left_out_of_the_memory():
    assert memory([Face((0, 0, 100, 100), 0.9)]).faces == []                      # an animal's face reaches 0.9
    src = Namer(memory([Face((0, 0, 100, 100), 0.9)]), noun_forms()).name(look_at(0), "planet")
    assert src.word == "planet"


def test_the_guard_drops_a_face_on_an_animal_stamp_and_keeps_the_astronauts():
    from core.vision.faces import load_detector
    from core.vision.photos import make_photo
    skimage_data = pytest.importorskip("skimage.data")
    from PIL import Image
    detector, feats, head = load_detector(), torch.zeros(L, 1280), nn.Linear(1280, 1000)
    bird = make_photo(10000248)                                     # a photo-world val bird (dev split)
    assert detector.detect(bird.image)                              # MTCNN sees a face in it (p 0.81)
    assert ConceptMemory(feats, head, detector.detect(bird.image), bird.image.size).faces == []
    astronaut = Image.fromarray(skimage_data.astronaut()).convert("RGB")
    assert len(ConceptMemory(feats, head, detector.detect(astronaut), astronaut.size).faces) == 1


def test_vqa_four_open_candidates_are_open_nouns_of_the_kind_and_the_memory_picks_one():
    import random

    import numpy as np

    from core.vision.vocabulary import classes_of, open_nouns
    from core.vqa.pipeline import Answer, choose_open
    from core.vqa.realcheck import ANIMAL_CLASSES, open_candidates
    cands = open_candidates("cat", random.Random(0))
    others = [c for c in cands if c != "cat"]
    assert "cat" in cands and len(set(cands)) == 4 and set(others) <= set(open_nouns())
    assert all(max(classes_of(c)) < ANIMAL_CLASSES and not names(c, "cat") for c in others)
    assert all(min(classes_of(c)) >= ANIMAL_CLASSES for c in open_candidates("guitar", random.Random(0))
               if c != "guitar")
    m = memory()
    alphas = np.zeros((2, 4, 4), np.float32)
    alphas[1, 1, 1] = 1.0                                                         # last hop on cell 5
    answer = Answer(None, ["flower"], np.array([1.0]), alphas, np.zeros(3), np.zeros(1))
    feats = m.feats[None]                                                         # (1, L, 1280)
    assert choose_open(answer, feats, m.head, ["bucket", "cat", "jellyfish", "chair"]) == 2


def test_outside_dev_photos_are_apart_from_the_reported_sets_and_labelled_with_open_nouns():
    from core.vision.checksets import GCOMPRIS_NOUNS, OUTSIDE_SET, check_set
    from core.vision.vocabulary import open_nouns
    reported = {name for name, _, _ in OUTSIDE_SET} | {f"gcompris {stem}" for stem in GCOMPRIS_NOUNS}
    dev = check_set("outside-dev")
    assert len(dev) == 13 and not {name for name, _, _ in dev} & reported
    assert all(set(label) <= set(open_nouns()) and not set(label) & set(noun_forms().values()) for *_, label in dev)


def test_a_kept_word_says_why_it_stayed_and_what_the_memory_would_have_said():
    namer = Namer(memory(), noun_forms(), noun_prob=0.3, decoder_sure=0.6)
    sure = namer.name(look_at(5), "flower", word_prob=0.9).describe()
    assert sure.startswith("flower <- the decoder's own word, p 0.90 (it was sure; the concept memory says: jellyfish")
    unsure = namer.name(look_at(0), "flower", word_prob=0.2).describe()          # cell 0: a flat ImageNet softmax
    assert "(the concept memory was unsure: " in unsure and unsure.endswith(" at best)")
    tabby = Namer(memory(seen=TABBY), noun_forms(), decoder_sure=0.6).name(look_at(5), "cat", word_prob=0.9)
    assert "(it was sure; the concept memory agrees: cat 0.9" in tabby.describe()
    person = namer.name(look_at(0), "person", word_prob=0.2).describe(own="the model's own answer")
    assert person.startswith("person <- the model's own answer, p 0.20 (ImageNet has no person class")


def test_vqa_open_answer_names_from_the_memory_however_sure_the_model_is():
    import numpy as np

    from core.vqa.pipeline import Answer, open_source
    m = memory()
    alphas = np.zeros((2, 4, 4), np.float32)
    alphas[1, 1, 1] = 1.0                                                         # last hop on cell 5
    answer = Answer(None, ["flower", "yes"], np.array([0.99, 0.01]), alphas, np.zeros(3), np.zeros(2))
    src = open_source(answer, m.feats[None], m.head)
    assert (src.word, src.decoder_word, round(src.decoder_prob, 2)) == ("jellyfish", "flower", 0.99)
