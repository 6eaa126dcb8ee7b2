"""BM25 (Okapi) over chunk texts, and reciprocal-rank fusion: the lexical baseline and the hybrid.

Used by benchmarks/bench_retrieval_quality.py to compare against the embedders; small and
dependency-free (an inverted index in dicts), fine for tens of thousands of chunks.
"""

from __future__ import annotations

import math
import re
from collections import Counter

_TOKEN = re.compile(r"[a-z0-9]+")
STOPWORDS = frozenset(
    (
        "a", "an", "and", "are", "as", "at", "be", "by", "can", "do", "does", "for", "from", "how", "i", "if",
        "in", "is", "it", "its", "my", "of", "on", "or", "should", "so", "that", "the", "this", "to", "what",
        "when", "where", "which", "who", "why", "will", "with", "you", "your", "me", "we", "there", "their",
        "then", "than", "into", "about", "doing",
    )
)  # fmt: skip


def tokenize(text: str) -> list[str]:
    return [t for t in _TOKEN.findall(text.lower()) if t not in STOPWORDS]


class BM25:
    def __init__(self, docs: list[str], *, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1 = k1
        self.b = b
        self.postings: dict[str, list[tuple[int, int]]] = {}
        self.lengths: list[int] = []
        for i, doc in enumerate(docs):
            counts = Counter(tokenize(doc))
            self.lengths.append(sum(counts.values()))
            for term, tf in counts.items():
                self.postings.setdefault(term, []).append((i, tf))
        self.n = len(docs)
        self.avg = (sum(self.lengths) / self.n) if self.n else 0.0

    def idf(self, term: str) -> float:
        df = len(self.postings.get(term, ()))
        return math.log(1 + (self.n - df + 0.5) / (df + 0.5))

    def top(self, query: str, k: int) -> list[tuple[int, float]]:
        """The k best (doc index, score) pairs, best first."""
        scores: dict[int, float] = {}
        for term in set(tokenize(query)):
            idf = self.idf(term)
            for i, tf in self.postings.get(term, ()):
                norm = tf + self.k1 * (1 - self.b + self.b * self.lengths[i] / (self.avg or 1.0))
                scores[i] = scores.get(i, 0.0) + idf * tf * (self.k1 + 1) / norm
        return sorted(scores.items(), key=lambda kv: -kv[1])[:k]


def rrf(rankings: list[list[int]], k: int = 60, limit: int = 10) -> list[int]:
    """Reciprocal-rank fusion: items ranked high in any list come first."""
    score: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking):
            score[item] = score.get(item, 0.0) + 1.0 / (k + rank + 1)
    return sorted(score, key=lambda i: -score[i])[:limit]
