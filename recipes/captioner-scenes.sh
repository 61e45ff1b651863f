#!/bin/sh
# captioner-scenes: the Show-Attend-Tell captioner (core.caption.train), 5,500 steps on one thread.
# Rebuild: sh recipes/captioner-scenes.sh (from the repository root; corpora are built on first use).
# The training lines end with the commands in checkpoints/captioner-scenes/card.json, in order (tests/test_recipes.py).
set -e
python -m core.cli.caption_train --out checkpoints/captioner-scenes --max-steps 5500 --max-minutes 60 --eval-every 500 --threads 1
