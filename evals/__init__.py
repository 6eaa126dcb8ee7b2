"""Coding evals: HumanEval through the assistant (installed as ``assistant.evals``).

suites.py (tasks, the check program) · prompts.py + templates/ (what the model sees) ·
generate.py (direct and agent attempts) · extract.py (answer → completion) · sandbox.py
(untrusted code) · runner.py (concurrency, retries, resume) · store.py (the run folder) ·
summary.py + metrics.py (pass@k, intervals) · report.py (table, PNG, HTML) · rescore.py ·
launch.py (what ``assistant eval run`` calls). results/ holds committed reproduction runs.
"""
