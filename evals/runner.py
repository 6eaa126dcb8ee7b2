"""The eval runner: generation concurrently up to a limit, scoring overlapping it, every attempt recorded.

Contract of ``Runner.run()``:

1. Work = every (task, sample) of the selected suite without a verdict in the run folder
   (so running again resumes).
2. Up to ``concurrency`` generations are in flight at once (match the server's slots). As soon
   as one finishes its slot is reused, while its answer is extracted and scored in the sandbox
   (up to ``score_concurrency`` at once): scoring overlaps generation.
3. An endpoint failure (unreachable, 5xx, a stream cut mid-answer) is retried ``retries`` times
   with backoff. A task that still fails is recorded with ``verdict: "error"`` and is attempted
   again on resume. After ``max_consecutive_errors`` such tasks in a row the endpoint is taken
   to be down: the run stops (``status: "aborted"``) and can be resumed.
4. Each finished attempt is appended to attempts.jsonl at once; samples.jsonl and summary.json
   are rewritten at the end, also when interrupted (Ctrl-C: ``status: "interrupted"``).

Ways it stops: every task done (``complete``; ``incomplete`` if some ended in errors, which a
rerun retries); endpoint down (``aborted``, raises
``EndpointDown``); cancellation (``interrupted``, ``CancelledError`` propagates); a write that
fails, e.g. disk full (``RunError``; what was written stays and the run resumes).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from assistant.endpoint import Endpoint
from assistant.errors import AssistantError, EndpointError, StreamInterrupted

from .extract import extract
from .generate import Generation, generate_agent, generate_direct
from .prompts import Template
from .repoagent import RepoSolver
from .repotasks import RepoTask, judge
from .sandbox import Sandbox
from .store import FINAL_VERDICTS, RunStore, key, latest_by_key
from .suites import Suite, Task, score
from .summary import summarize

if TYPE_CHECKING:
    from assistant.profile import ModelProfile


class EndpointDown(AssistantError):
    """Several tasks in a row failed after retries: the run stopped, resumable."""


@dataclass
class RunOptions:
    mode: str = "direct"  # direct | agent
    samples: int = 1
    params: dict[str, Any] = field(default_factory=dict)  # temperature, top_p, seed, max_tokens
    concurrency: int = 4
    score_concurrency: int = 2
    retries: int = 3
    retry_wait: float = 2.0
    max_consecutive_errors: int = 3
    max_steps: int = 6
    extract_strategy: str = "auto"
    sanitize: bool = True


@dataclass
class Progress:
    total: int
    done: int = 0
    passed: int = 0
    errors: int = 0
    started: float = field(default_factory=time.perf_counter)
    resumed: int = 0  # done before this invocation


ProgressFn = Callable[[Progress, dict[str, Any]], None]


class Runner:
    def __init__(
        self,
        store: RunStore,
        suite: Suite,
        endpoint: Endpoint,
        sandbox: Sandbox,
        template: Template,
        options: RunOptions,
        on_progress: ProgressFn | None = None,
        repo: RepoSolver | None = None,
        *,
        profile: ModelProfile | None = None,
    ) -> None:
        self.profile = profile  # agent mode: the chat's model profile (assistant/profile.py)
        self.store = store
        self.repo = repo
        self.suite = suite
        self.endpoint = endpoint
        self.sandbox = sandbox
        self.template = template
        self.opt = options
        self.on_progress = on_progress
        self._consecutive_errors = 0
        self._abort: str | None = None
        self._previous = store.read_summary()
        self._invocation = len(((self._previous or {}).get("time") or {}).get("invocations", []))
        self._t0 = time.perf_counter()
        self._gen_sem = asyncio.Semaphore(max(1, options.concurrency))
        self._score_sem = asyncio.Semaphore(max(1, options.score_concurrency))

    def pending(self) -> tuple[list[tuple[Task, int]], int]:
        """(work still to do, how many are already done)."""
        finals = {k for k, r in latest_by_key(self.store.load_attempts().records).items()
                  if r.get("verdict") in FINAL_VERDICTS}  # fmt: skip
        work = [(t, s) for t in self.suite.tasks for s in range(self.opt.samples) if key(t.task_id, s) not in finals]
        return work, len(self.suite.tasks) * self.opt.samples - len(work)

    async def run(self) -> dict[str, Any]:
        work, done = self.pending()
        progress = Progress(total=done + len(work), done=done, resumed=done)
        self._seed_progress(progress)
        self._t0 = time.perf_counter()
        status = "interrupted"
        tasks = [asyncio.ensure_future(self._one(task, sample, progress)) for task, sample in work]
        try:
            if tasks:
                done_tasks, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
                for t in done_tasks:
                    if not t.cancelled() and t.exception() is not None:
                        status = "failed"
                        raise t.exception()  # type: ignore[misc]
            status = "aborted" if self._abort else "finished"
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            summary = self.finish(status, wall=time.perf_counter() - self._t0)
        if self._abort:
            raise EndpointDown(self._abort, hint="The run is saved; run the same command again to resume.")
        return summary

    def _seed_progress(self, progress: Progress) -> None:
        for r in latest_by_key(self.store.load_attempts().records).values():
            if r.get("verdict") == "passed":
                progress.passed += 1

    def finish(self, status: str, wall: float | None = None) -> dict[str, Any]:
        """Rewrite samples.jsonl and summary.json from everything recorded so far."""
        records = self.store.load_attempts().records
        latest = latest_by_key(records)
        order = {t.task_id: i for i, t in enumerate(self.suite.tasks)}
        finals = sorted(
            (r for r in latest.values() if r.get("verdict") in FINAL_VERDICTS and r["task_id"] in order),
            key=lambda r: (order[r["task_id"]], r.get("sample", 0)),
        )
        self.store.write_samples(finals)
        if status == "finished":
            status = "complete" if len(finals) == len(self.suite.tasks) * self.opt.samples else "incomplete"
        summary = summarize(records, self.store.read_config(), status=status, this_wall=wall,
                            invocation=self._invocation, previous=self._previous)  # fmt: skip
        self.store.write_summary(summary)
        return summary

    async def _one(self, task: Task, sample: int, progress: Progress) -> None:
        async with self._gen_sem:
            if self._abort:
                return
            gen, errors, tries = await self._generate_with_retries(task, sample)
        if gen is None:
            self._consecutive_errors += 1
            if self._consecutive_errors >= self.opt.max_consecutive_errors and not self._abort:
                self._abort = f"The endpoint failed {self._consecutive_errors} tasks in a row: {errors[-1]}"
            record = self._record(task, sample, None, tries, errors)
            record.update(verdict="error", error=errors[-1])
            self.store.append(record)
            progress.errors += 1
        else:
            self._consecutive_errors = 0
            record = self._record(task, sample, gen, tries, errors)
            async with self._score_sem:
                await self._score(task, gen, record)
            self.store.append(record)
            progress.done += 1
            progress.passed += record["verdict"] == "passed"
        if self.on_progress is not None:
            self.on_progress(progress, record)

    async def _generate_with_retries(self, task: Task, sample: int) -> tuple[Generation | None, list[str], int]:
        errors: list[str] = []
        params = dict(self.opt.params)
        if params.get("seed") is not None:
            params["seed"] = int(params["seed"]) + sample  # distinct, reproducible samples
        for attempt in range(1, self.opt.retries + 2):
            if self._abort:
                break
            started = time.perf_counter() - self._t0
            try:
                if isinstance(task, RepoTask):
                    if self.repo is None:
                        raise RuntimeError("repository tasks need a RepoSolver")
                    gen = await self.repo.attempt(task, params)
                elif self.opt.mode == "agent":
                    gen = await generate_agent(self.endpoint, task, self.sandbox, params, self.opt.max_steps,
                                               self.profile)  # fmt: skip
                else:
                    gen = await generate_direct(self.endpoint, self.template, task, params)
            except (EndpointError, StreamInterrupted) as exc:
                errors.append(exc.user_line())
                if attempt <= self.opt.retries and not self._abort:
                    await asyncio.sleep(self.opt.retry_wait * 2 ** (attempt - 1))
                continue
            gen.started, gen.ended = started, time.perf_counter() - self._t0
            return gen, errors, attempt
        return None, errors, len(errors)

    def _record(self, task: Task, sample: int, gen: Generation | None, tries: int, errors: list[str]) -> dict[str, Any]:
        record: dict[str, Any] = {"task_id": task.task_id, "sample": sample, "mode": self.opt.mode,
                                  "invocation": self._invocation, "tries": tries, "retried_errors": errors,
                                  "error": None}  # fmt: skip
        if gen is None:
            return record
        record.update(
            messages=gen.messages, output=gen.output, answer=gen.text, finish_reason=gen.finish_reason,
            steps=gen.steps, tool_calls=gen.tool_calls,
            usage={"prompt_tokens": gen.prompt_tokens, "completion_tokens": gen.completion_tokens},
            timing={"generate_s": round(gen.seconds, 3), "first_token_s": gen.first_token_s,
                    "start_s": round(gen.started, 3), "end_s": round(gen.ended, 3), "server": gen.server_timings},
        )  # fmt: skip
        record.update(gen.extra)
        return record

    async def _score(self, task: Task, gen: Generation, record: dict[str, Any]) -> None:
        if isinstance(task, RepoTask):
            await self._score_repo(task, gen, record)
            return
        ex = extract(gen.text, task.entry_point, self.opt.extract_strategy, self.opt.sanitize)  # type: ignore[arg-type]
        how = ex.how
        if not ex.code and gen.fallback_code:
            ex = extract(f"```python\n{gen.fallback_code}\n```", task.entry_point, "auto", self.opt.sanitize)
            how = "no code in the final answer: the last code the agent ran"
        record["extraction"] = {"how": how, "sanitized": ex.sanitized, "code": ex.code}
        record["completion"] = ex.completion
        started = time.perf_counter()
        if not ex.code:
            record.update(verdict="failed", result="failed: no code in the answer", test_output="")
        else:
            verdict = await score(self.sandbox, task, ex.completion)
            record.update(verdict="passed" if verdict.passed else "failed", result=verdict.result,
                          test_output=verdict.output)  # fmt: skip
        record["timing"]["score_s"] = round(time.perf_counter() - started, 3)
        record["timing"]["recorded_s"] = round(time.perf_counter() - self._t0, 3)

    async def _score_repo(self, task: RepoTask, gen: Generation, record: dict[str, Any]) -> None:
        started = time.perf_counter()
        try:
            verdict = await judge(task, gen.workspace, self.sandbox)
        finally:
            gen.workspace.cleanup()
        limit = {"max_steps": "step limit reached", "time_limit": "time limit reached",
                 "error": f"agent stopped: {gen.extra.get('agent_error')}"}.get(gen.finish_reason)  # fmt: skip
        result = f"{verdict.result} ({limit})" if limit and not verdict.passed else verdict.result
        record.update(verdict="passed" if verdict.passed else "failed", result=result, test_output=verdict.output,
                      violations=list(verdict.violations), skipped_files=list(verdict.skipped), diff=verdict.diff,
                      completion=verdict.diff, kind=task.kind, difficulty=task.difficulty)  # fmt: skip
        record["timing"]["score_s"] = round(time.perf_counter() - started, 3)
        record["timing"]["recorded_s"] = round(time.perf_counter() - self._t0, 3)
