"""rnnlens core: character-level RNN language models and the tools that look inside them (no UI)."""
