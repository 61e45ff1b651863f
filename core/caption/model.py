"""Soft-attention LSTM decoder of Show, Attend and Tell (Xu et al. 2015, "deterministic soft attention").

At each word t: e_ti = w^T tanh(W_a a_i + W_h h_{t-1}) (attention MLP), alpha_t = softmax(e_t) over the
L grid locations, context z_t = beta_t * sum_i alpha_ti a_i with the gating scalar beta_t = sigmoid(f(h_{t-1})),
LSTM input [E y_{t-1}; z_t], deep output p(y_t) = softmax(L_o(E y_{t-1} + L_h h_t + L_z z_t)).
h_0, c_0 come from MLPs of the mean annotation. Training adds the doubly stochastic penalty
lambda * sum_i (1 - sum_t alpha_ti)^2. Checkpoints hold the decoder only (safetensors + JSON).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import nn

from core.common.folders import (
    WIDTH,
    CheckpointError,
    FolderFiles,
    check_fields,
    check_kind,
    config_from_json,
    expected_tensors,
    read_folder,
)
from core.common.io import atomic_directory, write_json
from core.common.words import WordVocab
from core.vision.concepts import ConceptLayer, read_annotations
from core.vision.encoder import STAGES, reading_problem

KIND = "captioner"  # config.json's "kind"
CONFIG_LIMITS = {**dict.fromkeys(("feature_dim", "embed_size", "hidden_size", "attention_size"), WIDTH),
                 "vocab_size": (5, 1_000_000), "grid": (1, 64), "input_dim": (0, WIDTH[1]), "concepts": (0, WIDTH[1]),
                 "dropout": (0, 0.99), "feature_drop": (0, 0.99)}


class CaptionCheckpointError(CheckpointError):
    """A captioner checkpoint directory that cannot be loaded; the message says why."""


@dataclass
class DecoderConfig:
    vocab_size: int
    feature_dim: int = 192
    grid: int = 14
    embed_size: int = 64
    hidden_size: int = 256
    attention_size: int = 128
    dropout: float = 0.3
    encoder: str = "mid"          # the encoder stage whose annotations this decoder reads (core.vision.encoder)
    input_dim: int = 0            # > 0: annotations of this width are first projected to feature_dim (frozen PCA)
    concepts: int = 0             # > 0: append this many per-cell noun log-lifts (core.vision.concepts)
    feature_drop: float = 0.0     # training only: chance to hide an image's projected annotations (concepts stay)
    copy: bool = False            # with concepts: a gated path from the attended concepts to their noun words


class AttentionDecoder(nn.Module):
    """LSTM decoder with soft attention over (B, L, D) annotation vectors."""

    def __init__(self, cfg: DecoderConfig) -> None:
        super().__init__()
        self.cfg = cfg
        E, H, A = cfg.embed_size, cfg.hidden_size, cfg.attention_size
        self.project = nn.Linear(cfg.input_dim, cfg.feature_dim).requires_grad_(False) if cfg.input_dim else None
        self.concepts = ConceptLayer(n_concepts=cfg.concepts) if cfg.concepts else None
        self.norm = nn.LayerNorm(cfg.feature_dim)
        D = cfg.feature_dim + cfg.concepts                    # width of an annotation the decoder attends over
        self.embed = nn.Embedding(cfg.vocab_size, E)
        self.init_h, self.init_c = nn.Linear(D, H), nn.Linear(D, H)
        self.att_feat, self.att_hid, self.att_out = nn.Linear(D, A), nn.Linear(H, A), nn.Linear(A, 1)
        self.gate = nn.Linear(H, 1)
        self.lstm = nn.LSTMCell(E + D, H)
        self.out_h, self.out_z = nn.Linear(H, E), nn.Linear(D, E)
        self.head = nn.Linear(E, cfg.vocab_size)
        self.drop = nn.Dropout(cfg.dropout)
        if cfg.copy:                                          # (K, V): concept k -> the words that name its noun
            self.register_buffer("copy_map", torch.zeros(cfg.concepts, cfg.vocab_size))
            self.copy_gate = nn.Linear(H, 1)

    @torch.no_grad()
    def read(self, feats: torch.Tensor) -> torch.Tensor:
        """Raw annotations (B, L, input_dim) -> frozen projection and concepts (B, L, feature_dim + concepts)."""
        return read_annotations(feats, self.project, self.concepts)

    def prepare(self, feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Normalised annotations (B, L, D), their attention projection (B, L, A) and the initial (h, c).
        Raw annotations (B, L, input_dim) are read first (`read`); training feeds them already read,
        which is the same thing computed once."""
        feats = feats.float()
        if self.cfg.input_dim and feats.shape[-1] == self.cfg.input_dim:
            feats = self.read(feats)                          # (B, L, feature_dim + K)
        base, concepts = feats[..., :self.cfg.feature_dim], feats[..., self.cfg.feature_dim:]
        base = self.norm(base)                                # (B, L, feature_dim)
        if self.training and self.cfg.feature_drop:           # make the words lean on the concepts as well
            base = base * (torch.rand(base.shape[0], 1, 1, device=base.device) >= self.cfg.feature_drop)
        a = torch.cat([base, concepts], dim=-1)               # (B, L, D)
        mean = a.mean(dim=1)                                  # (B, D)
        state = (torch.tanh(self.init_h(mean)), torch.tanh(self.init_c(mean)))
        return a, self.att_feat(a), state

    def step(self, a: torch.Tensor, a_proj: torch.Tensor, prev: torch.Tensor,
             state: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor], torch.Tensor]:
        """One word: prev (B,) -> logits (B, V), new state, attention alpha (B, L)."""
        h, c = state
        e = self.att_out(torch.tanh(a_proj + self.att_hid(h)[:, None, :])).squeeze(-1)  # (B, L)
        alpha = F.softmax(e, dim=-1)                                                     # (B, L)
        z = torch.sigmoid(self.gate(h)) * torch.bmm(alpha[:, None, :], a).squeeze(1)     # (B, D)
        y = self.embed(prev)                                                             # (B, E)
        h, c = self.lstm(torch.cat([y, z], dim=-1), (h, c))
        logits = self.head(self.drop(y + self.out_h(self.drop(h)) + self.out_z(z)))      # (B, V)
        if self.cfg.copy:                                     # copy what the concepts under the attention say
            said = z[:, self.cfg.feature_dim:] @ self.copy_map                           # (B, V)
            logits = logits + F.softplus(self.copy_gate(h)) * said
        return logits, (h, c), alpha

    def forward(self, feats: torch.Tensor, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Teacher forcing: tokens (B, T) starting with <start> -> logits (B, T-1, V), alphas (B, T-1, L)."""
        a, a_proj, state = self.prepare(feats)
        logits, alphas = [], []
        for t in range(tokens.shape[1] - 1):
            lg, state, alpha = self.step(a, a_proj, tokens[:, t], state)
            logits.append(lg)
            alphas.append(alpha)
        return torch.stack(logits, 1), torch.stack(alphas, 1)


def caption_loss(logits: torch.Tensor, alphas: torch.Tensor, targets: torch.Tensor, pad: int = 0,
                 alpha_c: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-entropy over non-pad targets (B, T) plus the doubly stochastic penalty; returns (total, ce)."""
    ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=pad)
    keep = (targets != pad).float()[..., None]                       # (B, T, 1)
    coverage = (alphas * keep).sum(dim=1)                            # (B, L)
    return ce + alpha_c * ((1.0 - coverage) ** 2).mean(), ce


CHECKPOINT_FILES = ("model.safetensors", "config.json", "vocab.json", "card.json")  # what save_captioner writes


def save_captioner(out: str | Path, model: AttentionDecoder, vocab: WordVocab, card: dict) -> Path:
    """Write model.safetensors (decoder only, fp16), config.json, vocab.json and card.json; replaces out whole."""
    with atomic_directory(out) as staging:
        weights = {k: (v.detach().half() if v.is_floating_point() else v).cpu().contiguous()
                   for k, v in model.state_dict().items()}
        save_file(weights, str(staging / "model.safetensors"))
        write_json(staging / "config.json", {"kind": KIND, **asdict(model.cfg)})
        write_json(staging / "vocab.json", vocab.itos, indent=None)
        write_json(staging / "card.json", card)
    return Path(out)


@dataclass
class Captioner:
    """A loaded decoder checkpoint (eval mode, cpu)."""
    path: Path
    model: AttentionDecoder
    vocab: WordVocab
    card: dict


def parse_decoder_config(raw) -> DecoderConfig:
    """A config.json's content as a DecoderConfig: kind, keys, types, sizes and a known encoder stage (whether
    its grid fits that encoder is checked where they meet: encoder_problem)."""
    cfg = config_from_json(DecoderConfig, check_kind(raw, KIND, "config.json", CaptionCheckpointError),
                           "config.json", CaptionCheckpointError, CONFIG_LIMITS)
    if cfg.encoder not in STAGES:
        raise CaptionCheckpointError(f"config.json: encoder {cfg.encoder!r} is not one of {', '.join(STAGES)}")
    return cfg


def encoder_problem(cfg: DecoderConfig) -> str | None:
    """Why a decoder cannot read the annotations of its encoder stage (grid or width), or None."""
    problem = reading_problem(cfg.encoder, cfg.grid, cfg.input_dim or cfg.feature_dim)
    return f"config.json: {problem}" if problem else None


def _load_from(path: Path, files: FolderFiles) -> Captioner:
    cfg = parse_decoder_config(files.json("config.json", "model config"))
    itos = files.json("vocab.json", "vocabulary")
    try:
        vocab = WordVocab(itos)
    except ValueError as e:
        raise CaptionCheckpointError(f"vocab.json: {e}") from None
    if len(vocab) != cfg.vocab_size:
        raise CaptionCheckpointError(f"vocab.json has {len(vocab)} words, config.json says {cfg.vocab_size}")
    card = check_fields(files.json("card.json", "model card", {}), {}, "card.json", error=CaptionCheckpointError)
    weights = files.weights("model.safetensors", expected_tensors(lambda: AttentionDecoder(cfg), "config.json",
                                                                  CaptionCheckpointError))
    model = AttentionDecoder(cfg)
    model.load_state_dict(weights)
    return Captioner(path, model.eval(), vocab, card)


def load_captioner(path: str | Path) -> Captioner:
    """Load a captioner checkpoint directory through core.common.folders (every file bounded and checked, sizes
    before anything is allocated); raises CaptionCheckpointError naming the file."""
    path = Path(path)
    return read_folder(path, lambda files: _load_from(path, files), CaptionCheckpointError)
