#!/bin/sh
# vqa-photos: Stacked Attention Network (2 hops) and its question-only baseline on the photo world's generated
# questions (core.vqa.photo_questions), reading the encoder's late stage through a frozen PCA to 256 dimensions plus
# the concepts and per-cell colour shares (core.vqa.colours), with question-gated noun evidence (core.vqa.evidence)
# and supervised attention on the question's objects, on one CPU thread. Rebuild: sh recipes/vqa-photos.sh (from the
# repository root, after `pip install -e .`). The first run encodes the 5,000 + 250 + 300 photos into data/caption/ (the captioner's feature
# cache, shared with captioner-photos), counts their colours there, and writes the questions to data/vqa/. Each model
# stops at 1,200 steps or 20 minutes, whichever comes first.
# The training line is the command in checkpoints/vqa-photos/card.json (tests/test_recipes.py).
set -e
rnnlens photos fetch
python -m core.cli.vqa_train --world photos --concepts --noun-evidence --colours --attend-objects 0.5 --train-images 5000 --val-images 250 --test-images 300 --photo-features data/caption --out checkpoints/vqa-photos --overwrite --embed-size 64 --hidden-size 256 --attention-size 128 --dropout 0.3 --batch-images 16 --lr 2e-3 --max-steps 1200 --max-minutes 20 --eval-every 200 --seed 1 --threads 1 --half
