"""What the Gradients page shows on its first visit, computed once into dashboard/gradients_precomputed.json:
every copy-problem run its sliders can ask for, and the shipped linux-* models' curves over the default text.

`python -m dashboard.precompute` (seeded: the same file each time; tests/test_page_gradients.py checks stored
runs against fresh ones). The page then opens without training or backpropagating anything.
"""
import json

import torch

from core.gradients.memory_task import MemoryConfig, train_memory
from dashboard.gradients import (PRECOMPUTED, TEXT_LENGTH, comparison, real_text, result_to_json, run_key,
                                 slider_runs, text_curve, text_key)


def main() -> None:
    torch.set_num_threads(1)
    memory = {run_key(kw): result_to_json(train_memory(MemoryConfig(**kw))) for kw in slider_runs()}
    text = real_text(TEXT_LENGTH)[:TEXT_LENGTH + 1]
    curves = {text_key(str(c.path), c.card.get("steps"), text): text_curve(str(c.path), text) for c in comparison()[0]}
    PRECOMPUTED.write_text(json.dumps({"memory": memory, "text": curves}, separators=(",", ":")))


if __name__ == "__main__":
    main()
