"""The command lines: one module per command, each a thin argparse layer over a library call."""
