"""The first step of a request, learned from labelled requests: answer in words, or which tool.

The word rules of ``firstcall.py`` were written one miss at a time and did not carry over to requests
nobody had seen: on five held-out sets written by people who had not read them, the right first
tool came 72, 78, 73, 87 and 63% of the time. A plain classifier trained on the labelled requests
(multinomial logistic regression over words and word pairs, TF-IDF weighted), with each set scored
by a model trained without it, chose the right first tool for 89% of the requests that need one
(``python -m assistant.intent_train --loso`` repeats the measurement); on a set written afterwards
to measure it, run once in the agent, 90% (the rules: 73%).

What the classifier sees is the request's own words, with the workspace's names replaced by what
they are (``_file_``, ``_folder_``, ``_name_``) and numbers by ``_num_``, plus a word saying the
request points at the workspace (``_pointer_``) or follows earlier turns (``_followup_``): the
labelled requests were all written about one small project, and a user's project has other names.

Inference is pure Python over a small JSON file (``data/intent.json``, written by
``assistant/intent_train.py``); nothing here runs untrusted text: workspace names only select which
placeholder replaces a word.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from typing import Any

ANSWER = "answer"
MODEL_FILE = Path(__file__).with_name("data") / "intent.json"
WORD = re.compile(r"\w+")
NUMBER = re.compile(r"\d+(?:\.\d+)?")
MIN_FORM = 3  # shorter stems of a name ("io" of io.py) are too often plain words


def intent_text(request: str, names: Sequence[str], files: Sequence[str], pointer: str = "",
                followup: bool = False) -> str:  # fmt: skip
    """The request as the classifier sees it: names of the workspace replaced by their kind."""
    text = request.lower()
    file_set = set(files)
    meta = []
    for name in sorted(names, key=len, reverse=True):
        kind = "_folder_" if name.endswith("/") else "_file_" if name in file_set else "_name_"
        meta.append(kind)
        base = name.rstrip("/").rsplit("/", 1)[-1].lower()
        for form in sorted({name.lower(), base, base.rsplit(".", 1)[0]}, key=len, reverse=True):
            if len(form) >= MIN_FORM:
                text = re.sub(r"(?<![\w.])" + re.escape(form) + r"(?!\w)", f" {kind} ", text)
    text = NUMBER.sub(" _num_ ", text)
    if pointer:
        meta.append("_pointer_")
    if followup:
        meta.append("_followup_")
    return " ".join([text, *meta])


def features(text: str) -> Counter[str]:
    """Words and pairs of neighbouring words, counted."""
    words = WORD.findall(text.lower())
    return Counter(words + [f"{a} {b}" for a, b in pairwise(words)])


def weighted(counts: Mapping[str, int], idf: Mapping[str, float]) -> dict[str, float]:
    """Sublinear TF-IDF, L2-normalised; terms the model never saw are dropped."""
    vec = {t: (1.0 + math.log(c)) * idf[t] for t, c in counts.items() if t in idf}
    norm = math.sqrt(sum(v * v for v in vec.values()))
    return {t: v / norm for t, v in vec.items()} if norm else {}


@dataclass(frozen=True)
class IntentModel:
    classes: tuple[str, ...]
    idf: Mapping[str, float]
    weights: Mapping[str, Sequence[float]]  # term -> one weight per class
    bias: Sequence[float]
    answer_at: float  # P(answer) at or above this: answer in words
    trained_on: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> IntentModel:
        classes = tuple(str(c) for c in data["classes"])
        weights = {str(t): [float(w) for w in ws] for t, ws in data["weights"].items()}
        if any(len(ws) != len(classes) for ws in weights.values()) or len(data["bias"]) != len(classes):
            raise ValueError("intent model: weights do not match its classes")
        idf = {str(t): float(v) for t, v in data["idf"].items()}
        bias = [float(b) for b in data["bias"]]
        return cls(classes, idf, weights, bias, float(data["answer_at"]), tuple(data.get("trained_on", ())))

    def probabilities(self, text: str) -> dict[str, float]:
        scores = list(self.bias)
        for term, value in weighted(features(text), self.idf).items():
            for i, w in enumerate(self.weights.get(term, ())):
                scores[i] += w * value
        top = max(scores)
        exp = [math.exp(s - top) for s in scores]
        total = sum(exp)
        return {c: e / total for c, e in zip(self.classes, exp, strict=True)}

    def choose(self, text: str, offered: Sequence[str]) -> tuple[str | None, dict[str, float]]:
        """(``ANSWER``, the tool to call, or None when none of the tools it knows is offered; the
        probabilities). A tool not offered is never chosen."""
        probs = self.probabilities(text)
        if probs.get(ANSWER, 0.0) >= self.answer_at:
            return ANSWER, probs
        tools = [(p, c) for c, p in probs.items() if c != ANSWER and c in offered]
        return (max(tools)[1] if tools else None), probs


@lru_cache(maxsize=1)
def load(path: Path = MODEL_FILE) -> IntentModel | None:
    """The shipped model, or None when its file is missing or unreadable (the model's own call
    probability decides then, as before)."""
    try:
        return IntentModel.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def describe(tool: str, probs: Mapping[str, float]) -> str:
    """The why of a decision: "intent read_file 0.62 (answer 0.11)"."""
    answer = probs.get(ANSWER, 0.0)
    if tool == ANSWER:
        return f"intent answer {answer:.2f}"
    return f"intent {tool} {probs.get(tool, 0.0):.2f} (answer {answer:.2f})"
