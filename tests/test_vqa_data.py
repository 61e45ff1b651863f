"""easy-VQA from the pinned package: split sizes, question types, shape masks, question preparation."""
import numpy as np
import pytest

from core.vqa.data import (
    MAX_WORDS,
    QUESTION_TYPES,
    UNK,
    QuestionError,
    answer_list,
    load_split,
    prepare_question,
    question_type,
    question_vocab,
    select_images,
    shape_mask,
)


@pytest.fixture(scope="module")
def splits():
    return {name: load_split(name) for name in ("train", "test")}


def test_package_split_sizes_are_the_published_ones(splits):
    assert [len(splits[s].paths) for s in ("train", "test")] == [4000, 1000]
    assert [len(splits[s].questions) for s in ("train", "test")] == [38575, 9673]
    assert len(answer_list()) == 13 and {"yes", "no", "circle", "teal"} <= set(answer_list())
    test = splits["test"]
    assert test.image_index.min() == 0 and test.image_index.max() == 999


def test_every_question_has_a_type_and_all_types_occur(splits):
    types = splits["test"].types()
    assert set(types) == set(QUESTION_TYPES)
    assert question_type("is there not a red shape in the image?") == "colour yes/no (negated)"
    assert question_type("what is the blue shape?") == "what shape"
    assert question_type("what is the color of the triangle?") == "what colour"


def test_shape_mask_is_the_shape_and_shares_the_answer_colour(splits):
    test = splits["test"]
    colour_of: dict[str, set] = {}
    for q, (text, a) in enumerate(zip(test.questions[:400], test.answers[:400])):
        if question_type(text) != "what colour":
            continue
        img = np.asarray(test.image(test.image_index[q]))
        mask = shape_mask(test.image(test.image_index[q]))
        assert 0.005 < mask.mean() < 0.5                          # one shape, not the background
        assert not mask[0].all() and not mask[:, 0].all()
        inside = img[mask].reshape(-1, 3)
        colours, counts = np.unique(inside, axis=0, return_counts=True)
        colour_of.setdefault(answer_list()[a], set()).add(tuple(colours[counts.argmax()]))
    assert len(colour_of) >= 4
    assert all(len(c) == 1 for c in colour_of.values()), colour_of   # one fill colour per colour name
    assert len({next(iter(c)) for c in colour_of.values()}) == len(colour_of)


def test_select_images_keeps_every_question_of_those_images(splits):
    test = splits["test"]
    sub = select_images(test, np.array([5, 2]), "two")
    assert sub.paths == [test.paths[2], test.paths[5]]
    expected = [q for q, i in zip(test.questions, test.image_index) if i in (2, 5)]
    assert sub.questions == expected and set(sub.image_index) == {0, 1}


def test_unknown_words_empty_and_very_long_questions():
    vocab = question_vocab(["what color is the shape?"])
    q = prepare_question("What HUE is the shape?", vocab)
    assert q.words == ["what", UNK, "is", "the", "shape"] and q.unknown == ["hue"]
    assert "hue" in q.notes()[0]
    assert prepare_question("What colour is the shape?", vocab).unknown == []  # British spelling is understood
    for empty, message in (("", "empty"), ("   ", "empty"), ("?!?", "has no word the model reads")):
        with pytest.raises(QuestionError, match=message):
            prepare_question(empty, vocab)
    long = prepare_question("what " * 2000, vocab)                 # 10,000 characters
    assert len(long.ids) == MAX_WORDS and long.truncated == 2000 - MAX_WORDS
    assert any("cut" in n for n in long.notes())
    with pytest.raises(QuestionError):
        prepare_question("?" * 10_000, vocab)
