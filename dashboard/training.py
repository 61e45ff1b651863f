"""Background training jobs for the Train page.

Each job runs core.charlm.train.train in its own process (so a training loop never holds the server's GIL and one
user's job does not slow other sessions); a reader thread turns the job's events into a snapshot the page
polls. The registry lives in st.cache_resource: jobs survive reruns and a closed tab, and the checkpoint is
written to disk by the trainer itself.
"""
import contextlib
import dataclasses
import hashlib
import multiprocessing as mp
import os
import queue
import re
import sys
import threading
import time
import types
from pathlib import Path

import streamlit as st

from core.charlm.checkpoint import CheckpointError, claim_output
from core.charlm.corpus import CorpusError, check_user_text
from core.charlm.settings import TrainConfig, resume_config
from core.common.device import available_devices, describe, resolve_device
from core.common.events import (
    CheckpointEvent,
    CurveEvent,
    DoneEvent,
    SampleEvent,
    StartEvent,
    StepEvent,
    ValEvent,
)
from core.common.io import OutputError, read_json
from dashboard.models import runs_dir
from dashboard.train_worker import JobExited, JobFailed, run_job

MAX_RUNNING = int(os.environ.get("RNNLENS_MAX_JOBS", "2"))
MAX_UPLOAD_MB = int(os.environ.get("RNNLENS_MAX_UPLOAD_MB", "20"))


@contextlib.contextmanager
def _bare_main():
    """A spawned child first re-runs the parent's __main__ file; under `streamlit run` that is the app script,
    which would run in bare mode in every job (29 "missing ScriptRunContext" warnings, seconds of imports).
    Hide it while the child starts."""
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


class JobError(RuntimeError):
    """A job cannot be started (message says why)."""


def check_upload(raw: bytes) -> str:
    """An uploaded file's text, or CorpusError saying why it cannot be trained on (size limit included)."""
    if len(raw) > MAX_UPLOAD_MB * 2**20:
        raise CorpusError(f"the file has {len(raw) / 2**20:.1f} MB; the limit here is {MAX_UPLOAD_MB} MB")
    return check_user_text(raw)


def save_upload(filename: str, text: str) -> Path:
    """Store an uploaded text under runs/_uploads/<hash>/<name>.txt (its stem becomes the corpus name)."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", Path(filename).stem).strip("-") or "upload"
    data = text.encode("utf-8")
    path = runs_dir() / "_uploads" / hashlib.sha256(data).hexdigest()[:12] / f"{stem}.txt"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return path


def devices() -> list[str]:
    """The devices a run can use on this server, best first (["cpu"] alone without a GPU)."""
    return available_devices()


def device_name(device: str) -> str:
    """What a run on `device` trains on, e.g. 'cuda: NVIDIA H100 80GB HBM3' or 'cpu: x86_64, 2 threads'."""
    return describe(resolve_device(device))


def run_name(corpus: str, cell: str, n_layer: int, hidden_size: int | None) -> str:
    """A fresh run directory name, e.g. shakespeare-lstm-2x128-20261127-233001 (2xauto: the size left to the run)."""
    return f"{Path(corpus).stem}-{cell}-{n_layer}x{hidden_size or 'auto'}-{time.strftime('%Y%m%d-%H%M%S')}"


@dataclasses.dataclass
class JobSnapshot:
    """What the page shows about a job at one moment (a copy: safe to read without the lock)."""
    name: str
    cfg: TrainConfig
    status: str  # "running" | "stopping" | "stopped" | "done" | "error"
    step: int
    progress: float
    tokens_per_s: float | None
    curve: list[dict]  # the trainer's loss curve (samples.json "curve"): step, train_loss, val_loss, tokens_per_s
    samples: list[dict]  # step, text
    val_bpc: float | None  # on the first cfg.eval_chars validation characters, as training runs
    final_bpc: float | None  # on the whole validation split, when the run has ended
    settings_note: str  # the model the run trains, as its auto settings chose it, once it has started ("" before)
    path: str | None
    error: str | None
    elapsed_s: float
    minutes: float  # the training time this leg of the run was given (a resume offers as much again)

    @property
    def active(self) -> bool:
        return self.status in ("running", "stopping")

    @property
    def starting(self) -> bool:
        """Running, but no training step reported yet (the child process reads the corpus and builds the model)."""
        return self.status == "running" and self.step == 0 and self.tokens_per_s is None


class Job:
    """One training run in a child process; the trainer's events are folded into what the page shows."""

    def __init__(self, cfg: TrainConfig, previous: "Job | None" = None, minutes: float | None = None):
        self.cfg = cfg
        self.minutes = minutes or cfg.max_minutes or 5.0
        self._lock = threading.Lock()
        self._status, self._error, self._path = "running", None, None
        self._step, self._progress, self._tps, self._val_bpc, self._final_bpc = 0, 0.0, None, None, None
        self._curve: list[dict] = []  # the trainer's own curve: carried over (StartEvent), then each new point
        self._settings_note = ""
        self._samples: list[dict] = list(previous._samples) if previous else []
        self._elapsed_before = previous.snapshot().elapsed_s if previous else 0.0
        self._started = time.monotonic()
        self._ended: float | None = None
        ctx = mp.get_context("spawn")
        self._events, self._stop = ctx.Queue(), ctx.Event()
        self._proc = ctx.Process(target=run_job, args=(cfg, self._events, self._stop), daemon=True)
        with _bare_main():
            self._proc.start()
        threading.Thread(target=self._read, daemon=True, name=f"rnnlens-job-{self.name}").start()

    @property
    def name(self) -> str:
        return os.path.basename(os.path.normpath(self.cfg.out))

    def stop(self) -> None:
        """Ask the trainer to save a checkpoint and return."""
        self._stop.set()
        with self._lock:
            if self._status == "running":
                self._status = "stopping"

    def _read(self) -> None:
        while True:
            try:
                event = self._events.get(timeout=0.5)
            except queue.Empty:
                if self._proc.is_alive():
                    continue
                event = JobExited()  # killed without a word
            with self._lock:
                over = self._apply(event)
            if over:
                self._proc.join(timeout=5)
                return

    def _apply(self, e) -> bool:
        """Fold one event into the state; True when the job is over."""
        if isinstance(e, StartEvent):
            self._curve, self._settings_note = list(e.curve), e.settings_note
        elif isinstance(e, StepEvent):
            self._step, self._progress, self._tps = e.step, e.progress, e.tokens_per_s
        elif isinstance(e, ValEvent):
            self._val_bpc = e.val_bpc
        elif isinstance(e, CurveEvent):
            self._curve.append(e.point)
        elif isinstance(e, SampleEvent):
            self._samples.append({"step": e.step, "text": e.text})
        elif isinstance(e, CheckpointEvent):
            self._path = e.path
        elif isinstance(e, DoneEvent):
            self._path, self._final_bpc = e.path, e.val_bpc
            self._add_final_sample(e.path)
        elif isinstance(e, JobFailed):
            self._status, self._error = "error", e.message
        elif isinstance(e, JobExited):
            if self._status != "error":
                if self._path is None:
                    self._status, self._error = "error", "the training process ended without a checkpoint"
                else:
                    self._status = "stopped" if self._stop.is_set() else "done"
            self._ended = time.monotonic()
            return True
        return False

    def _add_final_sample(self, path: str) -> None:
        """The trainer stores a sample of the finished model in its timeline: show it if it was not sent."""
        try:
            final = read_json(Path(path) / "samples.json", "sample timeline")["timeline"][-1]
        except (OSError, ValueError, KeyError, IndexError, TypeError):
            return
        if not self._samples or self._samples[-1]["step"] != final["step"]:
            self._samples.append({"step": final["step"], "text": final["text"]})

    def snapshot(self) -> JobSnapshot:
        with self._lock:
            end = self._ended if self._ended is not None else time.monotonic()
            return JobSnapshot(
                name=self.name, cfg=self.cfg, status=self._status, step=self._step, progress=self._progress,
                tokens_per_s=self._tps, curve=list(self._curve), samples=list(self._samples),
                val_bpc=self._val_bpc, final_bpc=self._final_bpc, settings_note=self._settings_note,
                path=self._path, error=self._error,
                elapsed_s=self._elapsed_before + end - self._started, minutes=self.minutes)


class JobRegistry:
    """All training jobs of this server process, by run name."""

    def __init__(self, max_running: int = MAX_RUNNING):
        self.max_running = max_running
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def start(self, cfg: TrainConfig, minutes: float | None = None) -> Job:
        """Start cfg as a new job (or resume it when cfg.resume, for `minutes` more) unless too many are running."""
        name = os.path.basename(os.path.normpath(cfg.out))
        with self._lock:
            previous = self._jobs.get(name)
            if previous and previous.snapshot().active:
                raise JobError(f"'{name}' is still running.")
            running = sum(job.snapshot().active for job in self._jobs.values())
            if running >= self.max_running:
                raise JobError(f"{running} training jobs are already running on this server (the limit is "
                               f"{self.max_running}); stop one or wait until one finishes.")
            try:  # the trainer's own check and lock, tried here so that a refusal shows at once
                claim_output(cfg.out, resume=cfg.resume, overwrite=cfg.overwrite).release()
            except OutputError as err:
                raise JobError(str(err)) from None
            job = Job(cfg, previous if cfg.resume else None, minutes)
            self._jobs[name] = job
            return job

    def resume(self, name: str, minutes: float) -> Job:
        """Continue a finished or stopped job from its checkpoint for `minutes` more."""
        job = self.get(name)
        try:
            cfg = resume_config(job.cfg, minutes)
        except CheckpointError:
            raise JobError(f"'{name}' has no training state to resume from.") from None
        return self.start(cfg, minutes)

    def get(self, name: str | None) -> Job | None:
        with self._lock:
            return self._jobs.get(name) if name else None

    def names(self) -> list[str]:
        """Run names, newest first."""
        with self._lock:
            return list(reversed(self._jobs))


@st.cache_resource
def registry() -> JobRegistry:
    """The process-wide job registry, shared by every session."""
    return JobRegistry()
