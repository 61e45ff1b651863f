#!/bin/sh
# linux-lstm: Linux mm/ and block/ C source, a 2 x 384 LSTM (seed 11), 40 minutes, then resumed to step 2750.
# Rebuild: sh recipes/linux-lstm.sh (from the repository root, after `pip install -e .`; corpora are built on first use).
# The training lines end with the commands in checkpoints/linux-lstm/card.json, in order (tests/test_recipes.py).
# --batch-size 64 --seq-len 128 pin the CPU defaults of the time (now 16 x 64; the card's train_config has them).
set -e
python -m core.cli.train --corpus linux --out runs/linux-384-s11 --cell lstm --n-layer 2 --hidden-size 384 --lr 2e-3 --max-minutes 40 --threads 1 --seed 11 --checkpoint-every 250 --batch-size 64 --seq-len 128
python -m core.cli.train --corpus linux --out runs/linux-lstm-s11 --resume --max-steps 2750 --max-minutes 0 --threads 1
# shipping copy: fp16 weights, no optimizer state
rnnlens checkpoint export runs/linux-lstm-s11 checkpoints/linux-lstm --overwrite
# cells emerging: the same configuration retrained from scratch for 2,000 steps, probed every 100, stored in samples.json
rnnlens emergence --checkpoint checkpoints/linux-lstm --retrain 2000 --every 100 --out runs/linux-lstm-emergence --threads 1 --attach
