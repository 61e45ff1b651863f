#!/bin/sh
# linux-gru: Linux mm/ and block/ C source, a 2 x 448 GRU, 25 minutes on one thread.
# Rebuild: sh recipes/linux-gru.sh (from the repository root, after `pip install -e .`; corpora are built on first use).
# The training lines end with the commands in checkpoints/linux-gru/card.json, in order (tests/test_recipes.py).
# --batch-size 64 --seq-len 128 pin the CPU defaults of the time (now 16 x 64; the card's train_config has them).
set -e
python -m core.cli.train --corpus linux --out runs/linux-gru --cell gru --n-layer 2 --hidden-size 448 --lr 2e-3 --max-minutes 25 --checkpoint-every 250 --threads 1 --batch-size 64 --seq-len 128
# shipping copy: fp16 weights, no optimizer state
rnnlens checkpoint export runs/linux-gru checkpoints/linux-gru --overwrite
