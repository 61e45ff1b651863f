"""Gradient flow back through time: vanilla RNN vs LSTM, clipping, the copy problem."""
