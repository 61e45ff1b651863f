#!/bin/sh
# captioner-photos: the Show-Attend-Tell captioner on the photo world (Tux Paint photo cut-outs on real
# backgrounds), reading the encoder's late stage; stopped by hand at about step 650 (val loss rising since 400),
# the best step (400) is kept. Rebuild: sh recipes/captioner-photos.sh (from the repository root).
# The training lines end with the commands in checkpoints/captioner-photos/card.json, in order (tests/test_recipes.py).
set -e
python -m core.caption.photos fetch
python -m core.caption.train --world photos --encoder late --project-dim 256 --train-scenes 1000 --val-scenes 250 --test-scenes 300 --cache-dir data/caption --out checkpoints/captioner-photos --max-steps 1000 --max-minutes 40 --eval-every 100 --hidden-size 256 --embed-size 64 --attention-size 128 --dropout 0.3
