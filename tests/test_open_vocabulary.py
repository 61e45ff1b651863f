"""The open vocabulary: ImageNet classes -> basic-level nouns through WordNet (core/vision/imagenet_nouns.json)."""
import pytest

from core.vision.imagenet import class_name
from core.vision.vocabulary import (
    class_nouns,
    class_to_noun_matrix,
    in_photo_noun,
    open_nouns,
    plural,
    singular_forms,
)

KNOWN = {948: "apple", 285: "cat", 281: "cat", 967: "coffee", 335: "squirrel", 985: "flower", 812: "spacecraft",
         323: "butterfly", 671: "bicycle", 162: "dog", 291: "cat", 0: "fish", 22: "eagle", 665: "motorcycle",
         107: "jellyfish", 950: "orange", 372: "monkey", 968: "cup", 849: "teapot", 7: "chicken", 445: "bikini"}


@pytest.mark.parametrize("index,noun", sorted(KNOWN.items()))
def test_known_classes_get_their_basic_level_noun(index, noun):
    assert class_nouns()[index] == noun, class_name(index)


def test_known_class_names_are_the_ones_meant():
    names = {i: class_name(i).lower() for i in KNOWN}
    assert "granny smith" in names[948] and "egyptian" in names[285] and "tabby" in names[281]
    assert names[967] == "espresso" and "fox squirrel" in names[335] and names[985] == "daisy"
    assert names[812] == "space shuttle" and "monarch" in names[323] and names[671] == "mountain bike"


def test_every_class_has_a_noun_and_the_vocabulary_is_open():
    nouns = class_nouns()
    assert len(nouns) == 1000 and all(n and n == n.lower() for n in nouns)
    assert set(nouns) <= set(open_nouns()) and "person" in open_nouns()
    assert len(open_nouns()) >= 300
    m = class_to_noun_matrix()
    assert m.shape == (1000, len(open_nouns())) and bool((m.sum(1) == 1).all())


def test_plurals():
    assert [plural(n) for n in ("cat", "person", "sheep", "butterfly", "fox", "mouse", "jellyfish", "goose")] == \
        ["cats", "people", "sheep", "butterflies", "foxes", "mice", "jellyfish", "geese"]
    forms = singular_forms()
    assert forms["people"] == "person" and forms["wolves"] == "wolf" and forms["dog"] == "dog"


def test_open_nouns_name_photo_world_nouns():
    assert in_photo_noun("cat", "cat") and in_photo_noun("bee", "insect") and in_photo_noun("butterfly", "insect")
    assert not in_photo_noun("dog", "cat") and not in_photo_noun("apple", "orange")
