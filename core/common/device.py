"""Where a model runs: `--device auto|cpu|cuda|mps` resolved to a torch.device, its bf16 autocast, its name.

auto picks CUDA when a GPU is visible, else Apple's MPS, else the CPU. Asking for a device that is not there
raises DeviceError with a message that says what is (the CLIs print it as one line). Every trainer, evaluator
and sampler shares these helpers: `resolve_device`, `autocast`, `describe` (the CLIs' --device flag:
`core.cli.args.add_device_arg`).
"""
import contextlib
import platform

import torch

DEVICES = ("auto", "cpu", "cuda", "mps")
DEVICE_HELP = "where to run: auto (cuda, else mps, else cpu), cpu, cuda or mps"


class DeviceError(ValueError):
    """The asked-for device is unknown or absent on this machine; the message says which devices are here."""


def _mps_available() -> bool:
    return bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()


def available_devices() -> list[str]:
    """The device kinds usable here, best first: some of cuda, mps, and always cpu."""
    return [name for name, ok in (("cuda", torch.cuda.is_available()), ("mps", _mps_available())) if ok] + ["cpu"]


def resolve_device(name: str = "auto", local_rank: int = 0) -> torch.device:
    """The torch.device for a --device value (cuda: GPU local_rank, as torchrun numbers them)."""
    if name not in DEVICES:
        raise DeviceError(f"--device must be one of {', '.join(DEVICES)}, not {name!r}")
    here = available_devices()
    kind = here[0] if name == "auto" else name
    if kind not in here:
        reason = {"cuda": f"no CUDA GPU is visible to torch {torch.__version__} (torch.cuda.is_available() is "
                          f"False: no GPU, no driver, or a CPU-only torch build)",
                  "mps": "Apple's MPS backend is not available on this machine"}[kind]
        raise DeviceError(f"--device {kind}: {reason}; use --device auto or one of: {', '.join(here)}")
    if kind == "cuda":
        count = torch.cuda.device_count()
        if local_rank >= count:
            raise DeviceError(f"process {local_rank} needs GPU {local_rank} but only {count} GPU(s) are visible; "
                              f"start at most {count} processes per node")
        return torch.device("cuda", local_rank)
    return torch.device(kind)


def bf16_supported(device: torch.device) -> bool:
    """Whether bfloat16 autocast pays on this device: CUDA GPUs from Ampere on, CPUs with bf16 instructions
    (AVX-512-BF16 or AMX); not MPS. Without them bf16 is emulated: a 2 x 256 LSTM step (batch 64 x 128, one
    thread) took 27-29 s under bf16 autocast vs 8.5-9.5 s in float32 on this project's AVX-512 Xeon."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return device.type == "cpu" and (torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())


def autocast(device: torch.device, bf16: bool):
    """A bfloat16 autocast context for device when bf16 is asked for and supported, else a no-op context."""
    if bf16 and bf16_supported(device):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def describe(device: torch.device) -> str:
    """The device's name for a model card, e.g. 'cuda: NVIDIA H100 80GB HBM3' or 'cpu: x86_64, 2 threads'."""
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    if device.type == "mps":
        return f"mps: Apple {platform.machine()}"
    threads = torch.get_num_threads()
    return f"cpu: {platform.processor() or platform.machine()}, {threads} thread{'s' if threads != 1 else ''}"

