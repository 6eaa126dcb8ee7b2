"""Token confidence against correctness: is a failing answer less confident than a passing one?

Direct-mode runs record, per attempt, the probability the model gave each token it wrote
(``confidence``: mean and minimum token probability). ``confidence_report`` compares passing and
failing attempts: the mean of each measure per verdict and the AUROC of each as a predictor of
passing (0.5: no better than chance; 1: every passing answer more confident than every failing
one), with a bootstrap interval over attempts. ``chart`` draws both distributions.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from .store import FINAL_VERDICTS, RunStore, latest_by_key

MEASURES = ("mean_prob", "min_prob")


def auroc(positive: list[float], negative: list[float]) -> float:
    """P(a random positive scores above a random negative), ties counted half (Mann-Whitney U / n1 n2)."""
    if not positive or not negative:
        return float("nan")
    ranked = sorted([(v, 1) for v in positive] + [(v, 0) for v in negative])
    rank_sum = 0.0
    i = 0
    while i < len(ranked):  # average ranks over ties
        j = i
        while j < len(ranked) and ranked[j][0] == ranked[i][0]:
            j += 1
        mean_rank = (i + j + 1) / 2  # ranks are 1-based: i+1 .. j
        rank_sum += mean_rank * sum(1 for k in range(i, j) if ranked[k][1] == 1)
        i = j
    n1, n2 = len(positive), len(negative)
    return (rank_sum - n1 * (n1 + 1) / 2) / (n1 * n2)


def _bootstrap(positive: list[float], negative: list[float], iters: int = 1000, seed: int = 0) -> list[float]:
    rng = random.Random(seed)
    values = sorted(auroc(rng.choices(positive, k=len(positive)), rng.choices(negative, k=len(negative)))
                    for _ in range(iters))  # fmt: skip
    return [round(values[int(0.025 * iters)], 3), round(values[int(0.975 * iters) - 1], 3)]


def scored_attempts(store: RunStore) -> list[tuple[bool, dict[str, float]]]:
    out = []
    for r in latest_by_key(store.load_attempts().records).values():
        conf = r.get("confidence")
        if r.get("verdict") in FINAL_VERDICTS and isinstance(conf, dict) and conf.get("tokens"):
            out.append((r["verdict"] == "passed", conf))
    return out


def confidence_report(store: RunStore) -> dict[str, Any]:
    attempts = scored_attempts(store)
    report: dict[str, Any] = {"run": store.name, "attempts": len(attempts),
                              "passed": sum(1 for ok, _ in attempts if ok)}  # fmt: skip
    for m in MEASURES:
        pos = [c[m] for ok, c in attempts if ok]
        neg = [c[m] for ok, c in attempts if not ok]
        entry: dict[str, Any] = {
            "passed_mean": round(sum(pos) / len(pos), 4) if pos else None,
            "failed_mean": round(sum(neg) / len(neg), 4) if neg else None,
        }
        if pos and neg:
            entry["auroc"] = round(auroc(pos, neg), 3)
            entry["auroc_ci95"] = _bootstrap(pos, neg)
        report[m] = entry
    return report


def chart(store: RunStore, path: Path) -> None:
    from .report import _pyplot

    plt = _pyplot()
    attempts = scored_attempts(store)
    report = confidence_report(store)
    fig, axes = plt.subplots(1, len(MEASURES), figsize=(10, 3.8))
    for ax, m in zip(axes, MEASURES, strict=True):
        for ok, color, label in ((True, "#2a9d8f", "passed"), (False, "#e76f51", "failed")):
            ax.hist([c[m] for o, c in attempts if o == ok], bins=20, range=(0, 1), alpha=0.6, color=color, label=label)
        a = report[m].get("auroc")
        ax.set_title(f"{m.replace('_', ' ')} per answer — AUROC {a if a is not None else 'n/a'}", fontsize=9)
        ax.set_xlabel("token probability")
        ax.legend()
    fig.suptitle(f"{store.name}: confidence of passing and failing answers", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
