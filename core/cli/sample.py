"""rnnlens sample: stream text from a checkpoint (temperature, top-k, greedy, beam), or free beside clamped."""
import argparse
import sys

from core.charlm.checkpoint import CheckpointError, load_checkpoint
from core.charlm.corpus import CorpusError
from core.charlm.sample import (
    MAX_BEAM,
    MAX_BEAM_CHARS,
    MAX_PRIME,
    beam_search,
    read_prime_file,
    stream_sample,
    validate_sampling,
)
from core.cli.args import add_device_arg, fail
from core.cli.intervene import add_sampling_args, print_side_by_side
from core.common.config_args import bounded
from core.common.device import DeviceError, resolve_device
from core.lens.intervene import InterventionError


def parser() -> argparse.ArgumentParser:
    """The sample command's arguments."""
    p = argparse.ArgumentParser(prog="rnnlens sample", description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", required=True, help="checkpoint directory")
    add_sampling_args(p)
    source = p.add_mutually_exclusive_group()
    source.add_argument("--prime", default="", help="text the model continues")
    source.add_argument("--prime-file", help=f"UTF-8 file the model continues (at most {MAX_PRIME:,} characters)")
    add_device_arg(p)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--greedy", action="store_true", help="always take the likeliest character")
    mode.add_argument("--beam", type=bounded(int, 0, MAX_BEAM), default=0,
                      help=f"beam search with this many beams (0: off; beam x length at most {MAX_BEAM_CHARS:,})")
    p.add_argument("--clamp", action="append", default=[], metavar="L:KIND:UNIT=VALUE",
                   help="fix a cell (h or c) at every step, e.g. 1:c:317=0.9 or =mean; prints the free and the "
                   "clamped sample from the same seed and their diff (repeatable)")
    p.add_argument("--ablate", action="append", default=[], metavar="L:KIND:UNIT",
                   help="clamp a cell to its mean over the corpus val split (repeatable)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Print a sample (streamed), a beam search result, or free and clamped samples with their diff."""
    args = parser().parse_args(argv)
    try:
        prime = read_prime_file(args.prime_file) if args.prime_file else args.prime
        validate_sampling(args.temperature, args.length, args.top_k, args.beam or 1, args.seed, prime)
        ckpt = load_checkpoint(args.checkpoint)
        ckpt.model.to(resolve_device(args.device))
        if args.clamp or args.ablate:
            if args.beam or args.greedy:
                raise ValueError("--clamp/--ablate sample with a temperature: drop --beam and --greedy")
            print_side_by_side(ckpt, args.clamp, args.ablate, prime, args.length, args.temperature, args.seed,
                               args.top_k)
            return 0
    except (OSError, ValueError, CheckpointError, CorpusError, DeviceError, InterventionError) as e:
        return fail(e)
    if args.beam:
        print(prime + beam_search(ckpt.model, ckpt.vocab, prime, args.length, args.beam))
        return 0
    sys.stdout.write(prime)
    for ch in stream_sample(ckpt.model, ckpt.vocab, prime, args.length, args.temperature, args.top_k,
                            args.greedy, args.seed):
        sys.stdout.write(ch)
        sys.stdout.flush()
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
