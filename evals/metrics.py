"""Pass rates with confidence intervals.

* pass@1 greedy (one sample per task): the fraction passed, with a Wilson score interval.
* pass@k from n samples per task: the unbiased estimator of Chen et al. (2021),
  1 - C(n-c, k) / C(n, k), averaged over tasks, with a bootstrap interval over tasks.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

Z95 = 1.959963984540054


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of k samples drawn from n (c correct) passes."""
    if n < k:
        raise ValueError(f"pass@{k} needs at least {k} samples, got {n}")
    if n - c < k:
        return 1.0
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


def wilson(successes: int, total: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (sound near 0 and 1, unlike p ± z·se)."""
    if total <= 0:
        return 0.0, 1.0
    p = successes / total
    denom = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denom
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denom
    # exact at the ends: 0 of n has 0 as its lower bound (centre - half rounds to 1e-17 there, which
    # put the interval above the rate and crashed the matrix chart's error bars)
    lo = 0.0 if successes <= 0 else max(0.0, min(p, centre - half))
    hi = 1.0 if successes >= total else min(1.0, max(p, centre + half))
    return lo, hi


def bootstrap_mean_ci(values: Sequence[float], iters: int = 2000, seed: int = 0) -> tuple[float, float]:
    """95% percentile bootstrap interval of the mean, resampling tasks."""
    if not values:
        return 0.0, 1.0
    rng = random.Random(seed)
    n = len(values)
    means = sorted(sum(rng.choices(values, k=n)) / n for _ in range(iters))
    return means[int(0.025 * iters)], means[min(iters - 1, int(0.975 * iters))]


def rate(successes: int, total: int) -> dict[str, float | int | list[float]]:
    lo, hi = wilson(successes, total)
    return {"passed": successes, "total": total, "rate": successes / total if total else 0.0, "ci95": [lo, hi]}


def pass_at_k_table(
    counts: dict[str, tuple[int, int]], ks: Sequence[int] = (1, 5, 10, 100)
) -> dict[str, dict[str, object]]:
    """{"pass@k": {"value", "ci95", "tasks"}} for every k that all tasks have enough samples for."""
    out: dict[str, dict[str, object]] = {}
    if not counts:
        return out
    least = min(n for n, _ in counts.values())
    for k in ks:
        if k > least:
            continue
        per_task = [pass_at_k(n, c, k) for n, c in counts.values()]
        value = sum(per_task) / len(per_task)
        if least == 1 and k == 1:  # one sample per task: a plain proportion, Wilson interval
            passed = sum(c for _, c in counts.values())
            ci = wilson(passed, len(per_task))
        else:
            ci = bootstrap_mean_ci(per_task)
        out[f"pass@{k}"] = {"value": value, "ci95": list(ci), "tasks": len(per_task)}
    return out
