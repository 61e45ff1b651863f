#!/bin/sh
# vqa-easy: Stacked Attention Network (2 hops) and its question-only baseline on easy-VQA, on one CPU thread.
# Rebuild: sh recipes/vqa-easy.sh (from the repository root; encoder grids are cached in data/vqa/ on first use).
# The training lines end with the commands in checkpoints/vqa-easy/card.json, in order (tests/test_recipes.py).
set -e
python -m core.cli.vqa_train --out checkpoints/vqa-easy --seed 0 --threads 1 --max-steps 5000 --max-minutes 30 --eval-every 250 --half
