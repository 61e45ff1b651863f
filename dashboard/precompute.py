"""What the Gradients page shows on its first visit, computed once into dashboard/gradients_precomputed.json:
every copy-problem run its sliders can ask for, and the shipped linux-* models' curves over the default text; and
the Tour's choice of its five famous cells (a ranking of every cell over a page each) into dashboard/tour_cells.json.

`python -m dashboard.precompute` (seeded: the same files each time; tests/test_page_gradients.py and
tests/test_page_tour.py check stored results against fresh ones). The pages then open without training,
backpropagating or ranking anything.
"""
import json

import torch

from core.gradients.memory_task import MemoryConfig, train_memory
from dashboard import tour_cells
from dashboard.gradients import (
    PRECOMPUTED,
    TEXT_LENGTH,
    comparison,
    real_text,
    result_to_json,
    run_key,
    slider_runs,
    text_curve,
    text_key,
)


def main() -> None:
    torch.set_num_threads(1)
    memory = {run_key(kw): result_to_json(train_memory(MemoryConfig(**kw))) for kw in slider_runs()}
    text = real_text(TEXT_LENGTH)[:TEXT_LENGTH + 1]
    curves = {text_key(str(c.path), c.card.get("steps"), text): text_curve(str(c.path), text) for c in comparison()[0]}
    PRECOMPUTED.write_text(json.dumps({"memory": memory, "text": curves}, separators=(",", ":")))
    tour_cells.PRECOMPUTED.write_text(json.dumps(tour_cells.stored_choices(), indent=1) + "\n")


if __name__ == "__main__":
    main()
