"""Train the first-step classifier (assistant/intent.py) on the labelled tool-use sets.

    python -m assistant.intent_train                  # write assistant/data/intent.json
    python -m assistant.intent_train --loso           # each set scored by a model trained without it
    python -m assistant.intent_train --check          # the shipped file is what training makes

Each record of benchmarks/tooluse/*.jsonl is a request typed by a user about the fixture project
(``workspace/``), labelled with the first tools that would be right (``expect_tool``; the first one is
the label) or none (the label is ``answer``). The request goes through the same code the agent runs
(``GrammarSteps.intent_input``: the workspace's names found and replaced by their kind), so what is
trained is what is asked. Needs numpy and scikit-learn (installed with the project's ``rag`` and
``dev`` extras); the agent itself only reads the JSON.

Sets measured *after* training must not be trained on: ``--sets`` says which are.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from assistant.intent import ANSWER, MODEL_FILE, IntentModel, features, weighted

ROOT = Path(__file__).resolve().parent.parent / "benchmarks" / "tooluse"
# Every set, once it has been run: test8 to test12 and chains-heldout5 to 9 were written to measure
# this classifier and joined after their runs. A set written to measure it goes in HELD_OUT
# until it has been run.
TRAINED_ON = ("dev", "test", "test2", "test3", "test4", "test5", "test6", "test7", "test8", "test9", "test10",
              "test11", "test12", "chains", "chains-heldout", "chains-heldout2", "chains-heldout3",
              "chains-heldout4", "chains-heldout5", "chains-heldout6", "chains-heldout7", "chains-heldout8",
              "chains-heldout9")  # fmt: skip
HELD_OUT: tuple[str, ...] = ()
C = 30.0  # inverse L2 strength, chosen by leaving each set out in turn (30 and 100 tie; 10 a point lower)
ANSWER_AT = 0.4  # P(answer) to answer in words: 0.3 loses right tools, 0.5 adds false calls (--loso)
DIGITS = 5
MAX_GAP = 1e-3  # another BLAS may round the fit differently in the last digits


def labelled(sets: Sequence[str], root: Path = ROOT) -> list[tuple[str, str, dict[str, Any]]]:
    """(the classifier's input, the label, the record) of every record of the sets."""
    from assistant.steps import GrammarSteps
    from assistant.toolprompt import workspace_paths
    from assistant.turntext import request_text

    workspace = root / "workspace"
    steps = GrammarSteps(None, None, workspace=lambda: workspace)  # type: ignore[arg-type]
    steps._paths = workspace_paths(workspace)  # one fixture: its names are found once
    out = []
    for name in sets:
        for line in (root / f"{name}.jsonl").read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            record = dict(json.loads(line), set=name)
            messages: list[dict[str, Any]] = []
            for turn in record.get("turns", []):
                messages += [{"role": "user", "content": turn}, {"role": "assistant", "content": "ok"}]
            messages.append({"role": "user", "content": record["request"]})
            text = steps.intent_input(request_text(record["request"]), messages)
            label = record["expect_tool"][0] if record["needs_tool"] else ANSWER
            out.append((text, label, record))
    return out


def train(texts: Sequence[str], labels: Sequence[str], sets: Sequence[str] = ()) -> IntentModel:
    """Multinomial logistic regression over sublinear TF-IDF of words and word pairs."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    counts = [features(t) for t in texts]
    df: Counter[str] = Counter(term for c in counts for term in c)
    n = len(texts)
    idf = {t: round(math.log((1 + n) / (1 + d)) + 1.0, DIGITS) for t, d in sorted(df.items())}
    vocab = {t: i for i, t in enumerate(idf)}
    x = np.zeros((n, len(vocab)))
    for row, c in enumerate(counts):
        for term, value in weighted(c, idf).items():
            x[row, vocab[term]] = value
    fit = LogisticRegression(C=C, max_iter=10000, tol=1e-8).fit(x, list(labels))
    classes = tuple(str(c) for c in fit.classes_)
    weights = {t: [round(float(w), DIGITS) for w in fit.coef_[:, i]] for t, i in vocab.items()}
    weights = {t: ws for t, ws in weights.items() if any(ws)}
    bias = [round(float(b), DIGITS) for b in fit.intercept_]
    return IntentModel(classes, idf, weights, bias, ANSWER_AT, tuple(sets))


def to_json(model: IntentModel) -> str:
    data = {
        "about": "assistant/intent.py's first-step classifier, written by assistant/intent_train.py",
        "classes": list(model.classes),
        "answer_at": model.answer_at,
        "trained_on": list(model.trained_on),
        "bias": list(model.bias),
        "idf": dict(model.idf),
        "weights": {t: list(w) for t, w in model.weights.items()},
    }
    return json.dumps(data, separators=(",", ":"), sort_keys=False) + "\n"


def difference(model: IntentModel, shipped_file: Path, texts: Sequence[str]) -> float:
    """The largest difference between the probabilities of a model and of a shipped file, over texts
    (1.0 when the file is missing, unreadable or has other classes or sets)."""
    from assistant.intent import load

    load.cache_clear()
    shipped = load(shipped_file)
    if shipped is None or shipped.classes != model.classes or shipped.trained_on != model.trained_on:
        return 1.0
    gaps = [
        abs(mine - theirs)
        for t in texts
        for mine, theirs in zip(model.probabilities(t).values(), shipped.probabilities(t).values(), strict=True)
    ]
    return max(gaps, default=0.0)


def score(model: IntentModel, data: Sequence[tuple[str, str, dict[str, Any]]]) -> tuple[int, int, int, int]:
    """(right first tool, needing a tool, false calls, needing none), with every tool offered."""
    right = need = false = none = 0
    for text, _, record in data:
        choice, _ = model.choose(text, [c for c in model.classes if c != ANSWER])
        if record["needs_tool"]:
            need += 1
            right += choice in record["expect_tool"]
        else:
            none += 1
            false += choice != ANSWER
    return right, need, false, none


def leave_one_set_out(sets: Sequence[str]) -> str:
    data = labelled(sets)
    lines, totals = [], [0, 0, 0, 0]
    for held in sets:
        rest = [d for d in data if d[2]["set"] != held]
        model = train([d[0] for d in rest], [d[1] for d in rest])
        figures = score(model, [d for d in data if d[2]["set"] == held])
        totals = [a + b for a, b in zip(totals, figures, strict=True)]
        lines.append(f"{held:18s} right first tool {figures[0]}/{figures[1]}  false calls {figures[2]}/{figures[3]}")
    r, n, f, z = totals
    share = f"right first tool {r}/{n} = {r / max(n, 1):.1%}  false calls {f}/{z} = {f / max(z, 1):.1%}"
    lines.append(f"{'all':18s} {share}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", default=",".join(TRAINED_ON), help="comma-separated set names to train on")
    parser.add_argument("--loso", action="store_true", help="score each set with a model trained without it")
    parser.add_argument("--check", action="store_true", help="fail if the shipped model differs from training")
    parser.add_argument("--out", type=Path, default=MODEL_FILE)
    args = parser.parse_args(argv)
    sets = [s for s in args.sets.split(",") if s]
    if args.loso:
        print(leave_one_set_out(sets))
        return 0
    data = labelled(sets)
    model = train([d[0] for d in data], [d[1] for d in data], sets)
    if args.check:
        gap = difference(model, args.out, [d[0] for d in data])
        ok = gap < MAX_GAP
        print(f"{args.out}: {'as trained' if ok else 'differs from training: run python -m assistant.intent_train'}"
              f" (largest difference of a probability {gap:.2g})")  # fmt: skip
        return 0 if ok else 1
    text = to_json(model)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out} ({len(data)} requests from {len(sets)} sets)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
