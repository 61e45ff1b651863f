"""Image + question to answer, per-hop attention maps and per-word saliency in one call.

Word saliency is the L2 norm of the gradient of the chosen answer's logit with respect to each word's
embedding (Simonyan et al. 2014's gradient saliency, applied to the question words). An object answer can be
re-read from the open vocabulary under the last hop's attention (`open_answer`, the captioner's decoupled naming).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from core.vision.encoder import Encoder, to_input
from core.vision.faces import Face
from core.vision.naming import ConceptMemory, NounSource, make_namer
from core.vision.photo_stamps import noun_forms
from core.vqa.checkpoint import VQACheckpoint
from core.vqa.colours import colour_grid
from core.vqa.data import MAX_WORDS, Question, QuestionError, no_words, prepare_question, tokenize
from core.vqa.model import StackedAttentionVQA

# Unlike the captioner's decoder, the VQA model's certainty never keeps its noun against the concept memory: on the
# real dev photos (dev, outside-dev) any threshold lost photos to it (the README's naming section).
MODEL_NEVER_SURE = 2.0
MODEL_OWN = "the model's own answer"     # how a NounSource line names the VQA model's own noun (describe(own=))


@dataclass
class Answer:
    """What the model answered and why: probabilities over answers, maps per hop, saliency per word."""
    question: Question
    answers: list[str]
    probs: np.ndarray            # (A,) softmax over the answer vocabulary
    alphas: np.ndarray           # (K, g, g) attention of each hop
    saliency: np.ndarray         # (T,) gradient norm per question word
    question_only_probs: np.ndarray   # (A,) the question-only baseline's answer

    @property
    def best(self) -> tuple[str, float]:
        """The top answer and its probability."""
        i = int(self.probs.argmax())
        return self.answers[i], float(self.probs[i])

    def top(self, k: int = 5) -> list[tuple[str, float]]:
        """The k most probable answers with their probabilities."""
        order = np.argsort(-self.probs)[:k]
        return [(self.answers[i], float(self.probs[i])) for i in order]


@torch.no_grad()
def encode_image(image: Image.Image, encoder: Encoder, colours: bool = False) -> torch.Tensor:
    """An RGB image -> its (1, L, D) encoder grid (at the encoder stage's own input size), with the per-cell
    colour channels appended (1, L, D + N_COLOURS) when the model reads them."""
    grid = encoder(to_input([image], encoder.input_size))                       # (1, L, D)
    if not colours:
        return grid
    shares = colour_grid(image, int(round(grid.shape[1] ** 0.5)))               # (L, N_COLOURS)
    return torch.cat([grid, torch.from_numpy(shares).float()[None]], -1)


def _saliency(model: StackedAttentionVQA, tokens: torch.Tensor, feats: torch.Tensor, answer: int) -> np.ndarray:
    """(T,) gradient norm of the answer logit w.r.t. each word embedding (model weights untouched)."""
    with torch.enable_grad():
        embedded = model.embed(tokens).detach().requires_grad_(True)            # (1, T, E)
        u, _ = model.fuse(embedded, tokens, feats)
        score = model.classifier(u)[0, answer]
        (grad,) = torch.autograd.grad(score, embedded)
    return grad[0].norm(dim=-1).numpy()                                        # (T,)


def answer_question(ckpt: VQACheckpoint, feats: torch.Tensor, text: str) -> Answer:
    """Answer a question about an encoded image (1, L, D); raises QuestionError for an empty question."""
    question = prepare_question(text, ckpt.vocab)
    tokens = torch.tensor([question.ids])                                      # (1, T)
    model = ckpt.model
    with torch.no_grad():
        logits, alphas, _ = model(tokens, feats)                               # (1, A), (1, K, L)
        q_logits, _, _ = ckpt.question_only(tokens)
    probs = torch.softmax(logits[0], -1).numpy()
    g = model.cfg.grid
    return Answer(question, ckpt.answers, probs, alphas[0].reshape(-1, g, g).numpy(),
                  _saliency(model, tokens, feats, int(probs.argmax())), torch.softmax(q_logits[0], -1).numpy())


@torch.no_grad()
def choose(ckpt: VQACheckpoint, feats: torch.Tensor, text: str, candidates: list[str]) -> np.ndarray:
    """Multiple choice: (C,) softmax over the candidates' log-scores (each candidate encoded by its own LSTM,
    joined with the answer classifier's probability when all of them are answers it knows)."""
    question = prepare_question(text, ckpt.vocab)
    for k, c in enumerate(candidates):
        if not tokenize(c or ""):
            raise QuestionError(no_words(f"Candidate {k + 1}", c, "an answer such as \"circle\""))
    cand = [ckpt.vocab.ids(tokenize(c)[:MAX_WORDS]) for c in candidates]  # unknown answer words read as <unk>
    tokens = torch.zeros(1, len(cand), max(map(len, cand)), dtype=torch.long)  # (1, C, Tc)
    for k, ids in enumerate(cand):
        tokens[0, k, :len(ids)] = torch.tensor(ids)
    stoi = {a: i for i, a in enumerate(ckpt.answers)}
    answer_ids = torch.tensor([[stoi.get(c.strip().lower(), -1) for c in candidates]])   # (1, C)
    logits, _, u = ckpt.model(torch.tensor([question.ids]), feats)
    return torch.softmax(ckpt.model.candidate_logprobs(logits, u, tokens, answer_ids)[0], -1).numpy()


def names_a_thing(answer: Answer) -> bool:
    """Whether the model's answer is a photo-world noun, one the open vocabulary can read again (`open_source`)."""
    return answer.best[0] in noun_forms()


def open_source(answer: Answer, feats: torch.Tensor, head: torch.nn.Linear, image: Image.Image | None = None,
                faces: list[Face] | None = None) -> NounSource | None:
    """Where the open-vocabulary answer to an object question comes from: when the model answers a photo-world
    noun, the noun read from the concept memory of the raw late-stage grid feats (1, L, >= 1280) under the last
    hop's attention (core.vision.naming), or the model's own noun when the memory is unsure; None for other
    answers (colours, counts, yes/no). The memory names first however sure the model is (MODEL_NEVER_SURE)."""
    if not names_a_thing(answer):
        return None
    namer = make_namer(image, feats[0, :, :1280], head, faces, decoder_sure=MODEL_NEVER_SURE)
    word, prob = answer.best
    return namer.name(torch.from_numpy(answer.alphas[-1]).flatten(), word, word_prob=prob)


def open_answer(answer: Answer, feats: torch.Tensor, head: torch.nn.Linear, image: Image.Image | None = None,
                faces: list[Face] | None = None) -> str:
    """The answer in the open vocabulary (`open_source`'s word), other answers as they are."""
    src = open_source(answer, feats, head, image, faces)
    return answer.best[0] if src is None else src.word


def choose_open(answer: Answer, feats: torch.Tensor, head: torch.nn.Linear, candidates: list[str],
                image: Image.Image | None = None, faces: list[Face] | None = None) -> int:
    """Multiple choice among open-vocabulary nouns: the index of the candidate the concept memory of the raw
    late-stage grid feats (1, L, >= 1280) gives the most probability under the last hop's attention."""
    memory = ConceptMemory(feats[0, :, :1280], head, faces, image.size if image is not None else None)
    return int(memory.candidate_probs(torch.from_numpy(answer.alphas[-1]).flatten(), candidates).argmax())
