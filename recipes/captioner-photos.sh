#!/bin/sh
# captioner-photos: the Show-Attend-Tell captioner on the photo world (Tux Paint photo cut-outs on real
# backgrounds), reading the encoder's late stage plus the ImageNet head's concepts per cell, with the copy path
# and supervised attention; the best validation step (1400 of 1800) is kept.
# Rebuild: sh recipes/captioner-photos.sh (from the repository root, after `pip install -e .`); feature extraction of the 6,550 images
# takes about half an hour on 2 cores, training about 10 minutes.
# The training lines end with the commands in checkpoints/captioner-photos/card.json, in order (tests/test_recipes.py).
set -e
rnnlens photos fetch
python -m core.cli.caption_train --world photos --encoder late --project-dim 256 --concepts --copy --feature-drop 0.15 --attend-nouns 0.5 --train-scenes 6000 --val-scenes 250 --test-scenes 300 --cache-dir data/caption --out checkpoints/captioner-photos --overwrite --max-steps 1800 --max-minutes 25 --eval-every 200 --hidden-size 256 --embed-size 64 --attention-size 128 --dropout 0.4 --device cpu
