"""Streamlit glue for rnnlens: cached loaders, background jobs, figure builders (pages stay thin)."""
