#!/bin/sh
# shakespeare-lstm: Shakespeare's plays, a 2 x 512 LSTM trained for 117 minutes, then fine-tuned with dropout 0.25.
# Rebuild: sh recipes/shakespeare-lstm.sh (from the repository root, after `pip install -e .`; corpora are built on first use).
# The training lines end with the commands in checkpoints/shakespeare-lstm/card.json, in order (tests/test_recipes.py).
# --batch-size 64 --seq-len 128 pin the CPU defaults of the time (now 16 x 64; the card's train_config has them).
set -e
# The first run's own command was not recorded in the card; this line is rebuilt from its
# train_config (2 x 512, lr 2e-3, checkpoints every 250 steps) and the budget it was resumed to.
python -m core.cli.train --corpus shakespeare --out runs/shakespeare-lstm --cell lstm --n-layer 2 --hidden-size 512 --lr 2e-3 --max-minutes 117 --checkpoint-every 250 --threads 2 --batch-size 64 --seq-len 128
python -m core.cli.train --corpus shakespeare --out runs/shakespeare-lstm --resume --max-minutes 117 --threads 2
python -m core.cli.train --corpus shakespeare --out runs/shakespeare-ft --init-from runs/shakespeare-lstm --dropout 0.25 --lr 1e-3 --max-minutes 45 --threads 1 --checkpoint-every 250 --batch-size 64 --seq-len 128
# shipping copy: fp16 weights, no optimizer state
rnnlens checkpoint export runs/shakespeare-ft checkpoints/shakespeare-lstm --overwrite
