"""The cell lens (Karpathy, Johnson & Fei-Fei 2015): read, rank, check, intervene on and attribute single cells."""
