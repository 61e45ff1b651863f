"""The photo world's object and background catalogue, read off the Tux Paint packages by hand.

Each noun is the basic-level name of a group of photo stamps (`tuxpaint-stamps-default`, paths under
usr/share/tuxpaint/stamps/), taken from the stamp's folder (animals/mammals/cats -> cat) or, where the folder
is broad (food/fruit), from the first line of its description (.txt): "A “Fuji” apple." -> apple.
Only cut-out photos are listed: cartoons, line drawings, silhouettes, near-transparent stamps and
exact duplicates (military/fireman240a.png = people/fireman240a.png) are left out.
Backgrounds are the real-photo templates of `tuxpaint-data` (usr/share/tuxpaint/templates/), each with the
phrase a caption uses for it; sheep, jellyfish, lighthouse and the wool mill show objects and are not used.
"""
from __future__ import annotations

from functools import lru_cache

NOUNS: dict[str, tuple[str, ...]] = {
    "bird": tuple(f"animals/birds/{n}.png" for n in (
        "adelaide-rosella", "albino_peahen", "blackbird", "chicken_profile", "crow", "crowned_crane", "cuckoo",
        "drake", "duck", "gander", "guineafowl", "helmeted_guineafowl", "hen", "heron_greatblue",
        "heron_greatblue_flying", "lark", "little-penguin", "magellanic_penguin", "magpie", "nandou", "ostrich",
        "owl", "peacock", "pelican", "penguin", "pigeon", "pink_flamingo", "quetzal", "rainbow-lorikeet",
        "rooster", "seagull", "silver-gull", "tucan", "turkey", "vulture")),
    "fish": tuple(f"animals/fish/{n}.png" for n in (
        "bluegroper", "butterflyfish", "clownfish", "coraltrout", "dolphinfish", "lionfish", "moonwrasse",
        "stripedfish")),
    "insect": tuple(f"animals/insects/{n}.png" for n in (
        "bee", "fly", "grasshopper", "hornet", "hoverfly", "mantis", "xanthia")),
    "frog": ("animals/amphibians/frog.png", "animals/amphibians/frog-1.png"),
    "lizard": ("animals/lizards/iguana.png",),
    "monkey": ("animals/mammals/apes/chimp.png", "animals/mammals/apes/gorilla.png",
               "animals/mammals/apes/tamarin_emperor.png"),
    "dolphin": ("animals/mammals/aquatic/dolphin.png", "animals/mammals/aquatic/orca.png"),
    "whale": ("animals/mammals/aquatic/whale.png",),
    "seal": ("animals/mammals/aquatic/sea_lion.png",),
    "otter": ("animals/mammals/aquatic/otter.png",),
    "bear": ("animals/mammals/bears/bear.png", "animals/mammals/bears/european-bear.png"),
    "cow": tuple(f"animals/mammals/bovines/{n}.png" for n in ("bison", "bull", "cow", "cow_white", "yak", "zebu")),
    "antelope": tuple(f"animals/mammals/bovines/{n}.png" for n in (
        "gnu-baby-stand", "gnu-baby", "gnu-sitting", "gnu-stand", "indian_blackbuck")),
    "goat": ("animals/mammals/bovines/goat.png", "animals/mammals/bovines/mountaingoat.png"),
    "sheep": ("animals/mammals/bovines/ram.png", "animals/mammals/bovines/sheep.png",
              "animals/mammals/bovines/sheep_lamb.png"),
    "camel": ("animals/mammals/camel/camel.png", "animals/mammals/camel/dromedary.png"),
    "cat": tuple(f"animals/mammals/cats/{n}.png" for n in ("lion", "lion-2", "tiger", "tiger_sumatran")),
    "deer": tuple(f"animals/mammals/deer/{n}.png" for n in ("caribou", "deer", "doe", "wapiti")),
    "dog": ("animals/mammals/dogs/dingo.png", "animals/mammals/dogs/dog.png", "animals/mammals/dogs/fox.png"),
    "horse": ("animals/mammals/equines/donkey.png", "animals/mammals/equines/donkey_eating.png",
              "animals/mammals/equines/horse.png"),
    "zebra": ("animals/mammals/equines/zebra.png",),
    "elephant": ("animals/mammals/elephant.png",),
    "giraffe": ("animals/mammals/giraffe.png",),
    "hippo": ("animals/mammals/hippopotamus.png",),
    "rhino": ("animals/mammals/rhino_black.png",),
    "pig": ("animals/mammals/pig.png", "animals/mammals/pig_golden.png", "animals/mammals/pig_golden2.png",
            "animals/mammals/wildboar.png"),
    "rabbit": ("animals/mammals/rabbit_little.png", "animals/mammals/rodents/rabbit.png",
               "animals/mammals/rodents/rabbit-2.png"),
    "mouse": ("animals/mammals/rodents/mouse.png", "animals/mammals/rodents/rat.png"),
    "squirrel": ("animals/mammals/rodents/squirrel.png",),
    "kangaroo": ("animals/marsupials/kangaroo.png",),
    "koala": ("animals/marsupials/koala.png",),
    "apple": tuple(f"food/fruit/{n}.png" for n in (
        "apple_fuji", "apple_granny_smith", "apple_green", "apple_red", "apple_sierra_beauty")),
    "apricot": ("food/fruit/Apricot_whole.png", "food/fruit/apricot.png"),
    "strawberry": ("food/fruit/Strawberry2.png", "food/fruit/strawberry.png"),
    "orange": ("food/fruit/mandarine.png", "food/fruit/orange.png", "food/fruit/orange_seville.png",
               "food/fruit/sliced_orange.png"),
    "lemon": ("food/fruit/lemon.png", "food/fruit/sliced_lime.png"),
    "cherry": ("food/fruit/Cherry_Stella.png",),
    "banana": ("food/fruit/banana.png",),
    "grapes": ("food/fruit/grapes.png",),
    "kiwi": ("food/fruit/kiwi.png",),
    "mango": ("food/fruit/mango.png",),
    "pear": ("food/fruit/pear.png",),
    "pineapple": ("food/fruit/pineapple.png",),
    "nut": ("food/nuts/almond.png", "food/nuts/pecan.png", "food/nuts/walnut.png", "food/nuts/walnut_shelled.png"),
    "pepper": ("food/vegetables/chilepepper.png", "food/vegetables/pepper.png", "food/vegetables/yellowpepper.png"),
    "lettuce": ("food/vegetables/lettuce.png", "food/vegetables/redlettuce.png"),
    "garlic": ("food/vegetables/garlic.png", "food/vegetables/garlics.png"),
    "mushroom": ("food/vegetables/mushroom.png", "plants/mushrooms/cep.png", "plants/mushrooms/cep-1.png",
                 "plants/mushrooms/cep-2.png"),
    "pumpkin": ("food/vegetables/pumpkin_small.png", "food/vegetables/pattypan_squash.png"),
    "potato": ("food/vegetables/potato.png", "food/vegetables/yam.png"),
    "broccoli": ("food/vegetables/broccoli.png",),
    "carrot": ("food/vegetables/carrot.png",),
    "corn": ("food/vegetables/corn.png",),
    "eggplant": ("food/vegetables/eggplant.png",),
    "onion": ("food/vegetables/onion.png",),
    "tomato": ("food/vegetables/tomato.png",),
    "guitar": tuple(f"hobbies/music/string/{n}.png" for n in (
        "guitar2", "guitar_classical", "guitar_electric", "guitar_electric_bass")),
    "violin": ("hobbies/music/string/violin.png", "hobbies/music/string/cello.png"),
    "drum": ("hobbies/music/percussion/drum_tomtom_floor.png", "hobbies/music/percussion/drumkit.png"),
    "trumpet": ("hobbies/music/brass/trumpet.png",),
    "camera": ("hobbies/camera_35mm.png",),
    "lightbulb": ("household/Lightbulb.png",),
    "cup": ("household/dishes/mug.png",),
    "teapot": ("household/dishes/teapot.png", "household/kettle.png", "household/dishes/pitcher_small.png"),
    "bin": ("household/garbagecan.png", "household/home_compost_bin.png", "household/wheelie_bin.png"),
    "toy": ("household/rubberduck.png",),
    "toilet": ("household/toilet.png",),
    "hammer": ("household/tools/hammer.png", "household/tools/mallet_metal.png"),
    "wrench": ("household/tools/wrench.png", "household/tools/wrench_adjustable.png",
               "household/tools/wrench_plumbers.png"),
    "saw": ("household/tools/saw.png",),
    "toolbox": ("household/tools/toolbox.png",),
    "person": ("people/fireman200b.png", "people/fireman240a.png", "space/spacewalk.png"),
    "flower": tuple(f"plants/flowers/{n}.png" for n in (
        "adeenia", "anemone_red", "anthoorium", "bolsom", "chemparathi", "daffodil", "flower1", "flower10",
        "flower2", "flower3", "flower4", "flower5", "flower6", "flower7", "flower8", "flower9", "iris",
        "marigold", "pigface", "plastic/chuvanna_plastic_poo", "red-gazania", "rose", "whitestar-petunia",
        "yellow-flower")),
    "plant": ("plants/lavender.png", "plants/thyme.png", "plants/lettuce_bolted.png"),
    "tree": ("plants/trees/holm_oak.png", "plants/trees/liberia-palm.png", "plants/trees/tree336.png",
             "seasonal/christmas/Christmas_Tree_photo.png"),
    "pinecone": ("plants/trees/pinecone.png",),
    "candle": ("seasonal/candle.png",),
    "candy": ("seasonal/christmas/Candy_cane_photo_1.png", "seasonal/christmas/Candy_cane_photo_2.png"),
    "gravestone": tuple(f"seasonal/halloween/grave-{c}.png" for c in "abdefghij"),
    "egg": ("seasonal/easter/wrapped_chocolate_easter_egg.png", "seasonal/easter/wrapped_chocolate_easter_egg_2.png"),
    "moon": ("space/moon/moon_3qt.png", "space/moon/moon_crescent.png", "space/moon/moon_full.png"),
    "planet": tuple(f"space/planets/{n}.png" for n in (
        "1_mercury", "2_venus", "3_earth", "4_mars", "5_jupiter", "6_saturn", "7_uranus", "8_neptune", "9_pluto")),
    "spacecraft": ("space/apollo_lander.png", "space/voyager2.png"),
    "ball": tuple(f"sports/{n}.png" for n in (
        "australian_rules_football", "basketball", "cricketball", "football", "soccer", "tennis_ball")),
    "racket": ("sports/tennis_racket.png",),
    "trophy": ("sports/trophy_cup.png",),
    "mailbox": ("town/uk_post_box.png", "town/usps_mailbox.png"),
    "car": ("vehicles/auto/beetle.png", "vehicles/auto/sedan.png", "vehicles/auto/sportscar2.png",
            "vehicles/race/indycar.png"),
    "truck": ("vehicles/auto/truck.png", "vehicles/emergency/firetruck.png", "vehicles/garbagetruck.png",
              "vehicles/construction/dumper.png"),
    "tank": ("military/vehicles/bradley.png", "military/vehicles/infantry-stryker.png"),
    "airplane": ("vehicles/flight/planes/747.png", "military/vehicles/f22_raptor.png"),
    "boat": ("vehicles/ship/chineseJunk.png", "vehicles/ship/walnutBoat.png"),
    "bus": ("vehicles/masstransit/green_korean_bus.png",),
    "tricycle": ("vehicles/cycle/pink_tricycle.png",),
    "balloon": ("vehicles/flight/balloon360.png",),
    "wheel": ("vehicles/wheel_tractor.png",),
}

PLURALS = {"mouse": "mice", "sheep": "sheep", "deer": "deer", "fish": "fish", "grapes": "grapes", "corn": "corn",
           "garlic": "garlic", "broccoli": "broccoli", "person": "people"}

# template file -> (caption phrase, held out of training?)
BACKGROUNDS: dict[str, tuple[str, bool]] = {
    "burnt_bark.jpg": ("on burnt bark", False),
    "cliff.jpg": ("in front of a cliff", False),
    "corn_maze.jpg": ("in a field", False),
    "mossy_bark.jpg": ("on mossy bark", True),
    "mossy_log.jpg": ("on a mossy log", False),
    "mudstone.jpg": ("on stone", True),
    "ocean_splash.jpg": ("by the sea", True),
    "ocean_waves.jpg": ("by the sea", False),
    "redwoods_above.jpg": ("under tall trees", False),
    "rocks.jpg": ("on rocks", False),
    "spiders_web.jpg": ("in front of a spider web", False),
    "sun_behind_clouds.jpg": ("under a cloudy sky", False),
    "sun_behind_leaves.jpg": ("under green leaves", False),
    "trees_above.jpg": ("under tall trees", True),
    "trees_at_dusk.jpg": ("in front of trees at dusk", False),
}
TEXTURES = {"brick": "in front of a brick wall", "grass": "on grass", "gravel": "on gravel"}


def plural(noun: str) -> str:
    """English plural of a catalogue noun."""
    if noun in PLURALS:
        return PLURALS[noun]
    if noun.endswith(("s", "sh", "ch", "x")) or noun in ("tomato", "potato", "mango"):
        return noun + "es"
    if noun.endswith("y") and noun[-2] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + "s"


@lru_cache(maxsize=1)
def noun_forms() -> dict[str, str]:
    """Every word that names a catalogue noun (singular and plural last word) -> the noun."""
    out = {}
    for noun in NOUNS:
        out[noun] = noun
        out[plural(noun).split()[-1]] = noun
    return out
