#!/bin/sh
# austen-lstm: Jane Austen's novels (janeaustenr), a 2 x 384 LSTM, 55 minutes on one thread.
# Rebuild: sh recipes/austen-lstm.sh (from the repository root, after `pip install -e .`; corpora are built on first use).
# The training lines end with the commands in checkpoints/austen-lstm/card.json, in order (tests/test_recipes.py).
# --batch-size 64 --seq-len 128 pin the CPU defaults of the time (now 16 x 64; the card's train_config has them).
set -e
python -m core.cli.train --corpus austen --out runs/austen-lstm --cell lstm --n-layer 2 --hidden-size 384 --lr 2e-3 --max-minutes 55 --checkpoint-every 250 --threads 1 --batch-size 64 --seq-len 128
# shipping copy: fp16 weights, no optimizer state
rnnlens checkpoint export runs/austen-lstm checkpoints/austen-lstm --overwrite
# cells emerging: the same configuration retrained from scratch for 2,300 steps, probed every 100, stored in samples.json
rnnlens emergence --checkpoint checkpoints/austen-lstm --retrain 2300 --every 100 --out runs/austen-lstm-emergence --threads 1 --attach
