"""The command lines: one module per `rnnlens` subcommand, each a thin argparse layer over a library call."""
