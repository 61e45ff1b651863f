"""Stacked Attention Networks for VQA (Yang et al. 2016) on a frozen CNN grid, with a many-to-one LSTM question.

Question: word embeddings -> LSTM, final hidden state u_0 (many-to-one). Image: the grid of L annotation
vectors, each projected to v_i = tanh(W v_i^cnn). Each hop k:
    h_A = tanh(W_I v + W_Q u_{k-1})     (B, L, A)
    p_k = softmax(w_P h_A)               (B, L)   attention over the grid
    u_k = u_{k-1} + sum_i p_ki v_i       the refined query
The answer is a softmax classifier over the answer vocabulary applied to u_K. For multiple choice, each
candidate answer is encoded by its own LSTM (its final state c) and scored by c . W_C u_K.
With use_image=False the same model is the question-only baseline: u_0 alone goes to the classifier.

Noun evidence (photo world, with concepts): the question's noun words pick their concept channels
(core.vision.concepts.copy_map), giving a per-cell evidence map e (B, L) for what is asked about. Each hop adds
g_k e to its attention logits, and a count pathway (core.vqa.evidence) turns the sorted top cells of e into a
vector added to u_K: how strongly and how widely the named noun shows, which says "zero" from "one" and yes from no.
The gain g_k is read off the question (a linear map of u_0), so a question can turn the evidence down where the
noun it names is not what to look at: "what is to the left of the car?" asks about the thing beside the car.

Colour channels (photo world, core.vqa.colours): each cell's share of pixels per basic colour name, appended to
the raw grid and passed through unprojected, beside the concepts. Each hop also adds W_c [a_k; a_k - m] to u_k,
where a_k = sum_i p_ki c_i are the colour shares under its attention and m the whole image's, so that "what colour
is the car?" reads the attended colours directly, and how they stand out from the background.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from core.vision.concepts import ConceptLayer, read_annotations
from core.vision.grounded import attention_mass_loss
from core.vqa.evidence import CountPathway, noun_evidence


@dataclass
class VQAConfig:
    vocab_size: int
    n_answers: int
    feature_dim: int = 192
    grid: int = 14
    embed_size: int = 64
    hidden_size: int = 128
    attention_size: int = 64
    hops: int = 2
    dropout: float = 0.1
    use_image: bool = True
    encoder: str = "mid"          # the encoder stage whose grids the model reads (core.vision.encoder)
    input_dim: int = 0            # > 0: grids of this width first go through a frozen projection to feature_dim
    concepts: int = 0             # > 0: plus this many per-cell noun concepts of the ImageNet head (core.vision.concepts)
    noun_evidence: bool = False   # the question's nouns' concept maps steer attention and feed a count pathway
    colours: int = 0              # > 0: the grid ends with this many per-cell colour-name shares (core.vqa.colours)

    def to_dict(self) -> dict:
        return asdict(self)


class StackedAttentionVQA(nn.Module):
    """Question LSTM + stacked attention over (B, L, D) grids + answer classifier and candidate scorer."""

    def __init__(self, cfg: VQAConfig) -> None:
        super().__init__()
        self.cfg = cfg
        D, E, H, A = cfg.feature_dim, cfg.embed_size, cfg.hidden_size, cfg.attention_size
        self.embed = nn.Embedding(cfg.vocab_size, E, padding_idx=0)
        self.question_lstm = nn.LSTM(E, H, batch_first=True)
        if cfg.use_image:
            self.reduce = nn.Linear(cfg.input_dim, D).requires_grad_(False) if cfg.input_dim else None
            self.concepts = ConceptLayer(n_concepts=cfg.concepts) if cfg.concepts else None
            self.norm = nn.LayerNorm(D)
            self.project = nn.Linear(D + cfg.concepts + cfg.colours, H)
            self.att_image = nn.ModuleList(nn.Linear(H, A, bias=False) for _ in range(cfg.hops))
            self.att_query = nn.ModuleList(nn.Linear(H, A) for _ in range(cfg.hops))
            self.att_out = nn.ModuleList(nn.Linear(A, 1) for _ in range(cfg.hops))
            if cfg.noun_evidence:
                if not cfg.concepts:
                    raise ValueError("noun evidence needs concepts")
                self.register_buffer("copy_map", torch.zeros(cfg.concepts, cfg.vocab_size))   # (K, V), frozen
                self.evidence_gate = nn.Linear(H, cfg.hops)                 # u_0 -> gain of each hop
                nn.init.zeros_(self.evidence_gate.weight)
                nn.init.constant_(self.evidence_gate.bias, 0.5)
                self.count = CountPathway(H)
            self.colour_read = nn.Linear(2 * cfg.colours, H) if cfg.colours else None
        self.classifier = nn.Linear(H, cfg.n_answers)
        self.candidate_lstm = nn.LSTM(E, H, batch_first=True)
        self.candidate_proj = nn.Linear(H, H, bias=False)
        self.drop = nn.Dropout(cfg.dropout)

    def encode_words(self, embedded: torch.Tensor, tokens: torch.Tensor, lstm: nn.LSTM) -> torch.Tensor:
        """Final LSTM hidden state of each padded sequence: (B, T, E) -> (B, H)."""
        lengths = (tokens != 0).sum(1).clamp_min(1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(embedded, lengths, batch_first=True, enforce_sorted=False)
        _, (h, _) = lstm(packed)
        return h[-1]                                                   # (B, H)

    @torch.no_grad()
    def read(self, feats: torch.Tensor) -> torch.Tensor:
        """Raw grids (N, L, input_dim + colours) -> frozen projection, concepts and the colours passed through
        (N, L, feature_dim + concepts + colours)."""
        n = self.cfg.input_dim
        return torch.cat([read_annotations(feats[..., :n], self.reduce, self.concepts), feats[..., n:].float()], -1)

    def fuse(self, embedded: torch.Tensor, tokens: torch.Tensor, feats: torch.Tensor | None,
             image_index: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Fused query u_K (B, H) and the attention of every hop (B, K, L) from embedded questions.

        feats (N, L, D) holds N images; question b asks about image image_index[b] (default: b). The
        image-side projections are computed once per image, so many questions per image cost little. Raw grids
        (N, L, input_dim + colours) pass the frozen projection first; training feeds them already read."""
        u = self.encode_words(self.drop(embedded), tokens, self.question_lstm)    # (B, H)
        if not self.cfg.use_image:
            return u, u.new_zeros(u.shape[0], 0, 0)
        if image_index is None:
            image_index = torch.arange(len(u))
        feats = feats.float()
        if self.cfg.input_dim and feats.shape[-1] == self.cfg.input_dim + self.cfg.colours:
            feats = self.read(feats)                                                # (N, L, D + K + C)
        D, K = self.cfg.feature_dim, self.cfg.concepts
        grid = torch.cat([self.norm(feats[..., :D]), feats[..., D:]], dim=-1)       # (N, L, D + K + C)
        v = torch.tanh(self.project(grid))                                          # (N, L, H)
        evidence = (noun_evidence(feats[..., D:D + K][image_index], tokens, self.copy_map)  # (B, L)
                    if self.cfg.noun_evidence else None)
        gains = self.evidence_gate(u) if evidence is not None else None             # (B, hops)
        colours = feats[..., D + K:][image_index] if self.colour_read is not None else None   # (B, L, C) shares
        alphas = []
        for k in range(self.cfg.hops):
            keys = self.att_image[k](self.drop(v))[image_index]                      # (B, L, A)
            h = torch.tanh(keys + self.att_query[k](u)[:, None])                     # (B, L, A)
            logits = self.att_out[k](h).squeeze(-1)                                  # (B, L)
            if evidence is not None:
                logits = logits + gains[:, k:k + 1] * evidence
            p = F.softmax(logits, dim=1)                                              # (B, L)
            u = u + torch.bmm(p[:, None], v[image_index]).squeeze(1)                  # (B, H)
            if self.colour_read is not None:
                shares = torch.bmm(p[:, None], colours).squeeze(1)                  # (B, C) attended
                u = u + self.colour_read(torch.cat([shares, shares - colours.mean(1)], -1))
            alphas.append(p)
        if evidence is not None:
            u = u + self.count(evidence, tokens, self.copy_map)
        return u, torch.stack(alphas, 1)                                            # (B, H), (B, K, L)

    def forward(self, tokens: torch.Tensor, feats: torch.Tensor | None = None, image_index: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Answer logits (B, n_answers), attention (B, K, L) and the fused query (B, H) for (B, T) tokens."""
        u, alphas = self.fuse(self.embed(tokens), tokens, feats, image_index)
        return self.classifier(self.drop(u)), alphas, u

    def score_candidates(self, u: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
        """Multiple choice: (B, H) fused queries and (B, C, Tc) candidate tokens -> (B, C) scores."""
        B, C, Tc = candidates.shape
        flat = candidates.reshape(B * C, Tc)
        c = self.encode_words(self.embed(flat), flat, self.candidate_lstm).view(B, C, -1)   # (B, C, H)
        return torch.einsum("bch,bh->bc", c, self.candidate_proj(u))

    def candidate_logprobs(self, logits: torch.Tensor, u: torch.Tensor, candidates: torch.Tensor,
                           answer_ids: torch.Tensor) -> torch.Tensor:
        """Multiple choice as a product of two experts: (B, C) log-softmax of the candidate scorer plus the answer
        classifier's log-probability of each candidate, when every candidate of the question is in the answer
        vocabulary. answer_ids (B, C): the candidates' answer ids, -1 for one outside the vocabulary, n_answers
        for an empty slot (scored -inf). On the photo world's validation questions the two together pick the
        right candidate more often than either alone."""
        empty = answer_ids == self.cfg.n_answers                                        # (B, C)
        scorer = torch.log_softmax(self.score_candidates(u, candidates).masked_fill(empty, float("-inf")), -1)
        classifier = torch.log_softmax(logits, -1).gather(1, answer_ids.clamp(0, self.cfg.n_answers - 1))
        known = ((answer_ids >= 0) | empty).all(-1, keepdim=True)                       # (B, 1)
        return scorer + torch.where(known & ~empty, classifier, torch.zeros_like(classifier))


def vqa_loss(model: StackedAttentionVQA, tokens: torch.Tensor, feats: torch.Tensor | None, image_index: torch.Tensor,
             answers: torch.Tensor, candidates: torch.Tensor, target: torch.Tensor, mc_weight: float = 0.5,
             attention_targets: torch.Tensor | None = None, attention_weight: float = 0.0
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """Classification cross-entropy plus mc_weight x the candidate-scoring cross-entropy, plus attention_weight x
    -log(attention mass on the question's objects) at every hop when (B, L) grid targets are given (rows of zeros:
    nothing to look at; core.vision.grounded); (loss, logits)."""
    logits, alphas, u = model(tokens, feats, image_index)
    scores = model.score_candidates(u, candidates)                      # (B, C)
    scores = scores.masked_fill((candidates == 0).all(-1), float("-inf"))  # padded candidate slots
    loss = F.cross_entropy(logits, answers) + mc_weight * F.cross_entropy(scores, target)
    if attention_targets is not None and attention_weight > 0 and alphas.shape[1]:
        loss = loss + attention_weight * attention_mass_loss(alphas, attention_targets[:, None].expand_as(alphas))
    return loss, logits
