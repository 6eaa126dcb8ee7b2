"""One attempt at one task: ask the model (direct: one request; agent: the agent loop) and keep everything.

Both modes return a ``Generation``: the exact messages the model saw, its raw output, the answer
text after prefill and stops, tool calls and results (agent), tokens and timings. Endpoint
failures raise (``EndpointError``/``StreamInterrupted``) so the runner can retry them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from assistant.endpoint import Endpoint
from assistant.errors import MaxStepsExceeded, StreamInterrupted
from assistant.events import Finish, StepStart, StreamError, TextDelta, Timing, TokenProbs, ToolResult, TurnEnd, Usage

from .extract import answer_text, extract_code
from .prompts import Template, agent_system_prompt
from .sandbox import Sandbox
from .suites import Task

if TYPE_CHECKING:
    from assistant.profile import ModelProfile


@dataclass
class Generation:
    messages: list[dict[str, Any]]  # the context sent (agent: the whole final conversation)
    output: str  # raw model output (agent: the final answer)
    text: str  # the answer after prefill and stop strings
    finish_reason: str = "stop"
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0  # wall time of the model requests
    first_token_s: float | None = None
    started: float = 0.0  # run-relative start and end of generation
    ended: float = 0.0
    steps: int = 1
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    fallback_code: str = ""  # agent: the last code the model ran, if its answer has none
    server_timings: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # mode-specific facts kept in the record
    workspace: Any = None  # repository tasks: the evals.repotasks.Workspace to judge


async def generate_direct(endpoint: Endpoint, template: Template, task: Task, params: dict[str, Any]) -> Generation:
    messages = template.messages(task.prompt)
    request = dict(params)
    request.setdefault("max_tokens", template.max_tokens)
    if template.stop and template.prefill:  # stops only make sense after a prefilled fence
        request["stop"] = list(template.stop)
    started = time.perf_counter()
    output = ""
    gen = Generation(messages, "", "")
    logprobs: list[float] = []
    async for event in endpoint.stream(messages, None, **request):
        if isinstance(event, TextDelta):
            output += event.text
        elif isinstance(event, TokenProbs):
            logprobs.extend(t.logprob for t in event.tokens)
        elif isinstance(event, Usage):
            gen.prompt_tokens, gen.completion_tokens = event.prompt_tokens, event.completion_tokens
        elif isinstance(event, Timing):
            gen.first_token_s = event.seconds_to_first_token
            gen.server_timings = event.server_timings
        elif isinstance(event, Finish):
            gen.finish_reason = event.reason
        elif isinstance(event, StreamError):
            raise StreamInterrupted(event.message)
    gen.seconds = time.perf_counter() - started
    if logprobs:
        gen.extra["confidence"] = confidence_of(logprobs)
    gen.output = output
    gen.text = answer_text(output, template.prefill, template.stop if template.prefill else ())
    return gen


def confidence_of(logprobs: list[float]) -> dict[str, Any]:
    """How sure the model was of its answer, from the probability it gave each token it wrote."""
    import math

    probs = [math.exp(lp) for lp in logprobs]
    return {"tokens": len(probs), "mean_prob": round(sum(probs) / len(probs), 5), "min_prob": round(min(probs), 5),
            "mean_logprob": round(sum(logprobs) / len(logprobs), 5),
            "low_tokens": sum(1 for p in probs if p < 0.5)}  # fmt: skip


AGENT_USER = (
    "Complete the following Python function. Test it with run_python before you answer.\n```python\n{prompt}\n```"
)


def _format_run(result: Any) -> str:
    parts = [f"exit code: {result.exit_code} ({result.reason})"]
    if result.stdout.strip():
        parts.append("stdout:\n" + result.stdout[-3000:])
    if result.stderr.strip():
        parts.append("stderr:\n" + result.stderr[-3000:])
    return "\n".join(parts)


async def generate_agent(
    endpoint: Endpoint,
    task: Task,
    sandbox: Sandbox,
    params: dict[str, Any],
    max_steps: int,
    profile: ModelProfile | None = None,
) -> Generation:
    """The task through the agent loop, with a sandboxed ``run_python`` tool; the model may iterate."""
    from assistant.agent import Agent
    from assistant.tools import ToolRegistry

    ran: list[str] = []
    tools = ToolRegistry(timeout=sandbox.limits.time_s + 10)

    @tools.function
    async def run_python(code: str) -> str:
        """Run a complete Python program in a sandbox and return its exit code, stdout and stderr.

        Args:
            code: The full program, e.g. the function plus a few assert checks.
        """
        ran.append(code)
        return _format_run(await sandbox.run(code))

    agent = Agent(endpoint, tools, system_prompt=agent_system_prompt(), max_steps=max_steps, params=params,
                  profile=profile, fold_tool_results=profile.fold_results if profile else False)  # fmt: skip
    gen = Generation([], "", "", steps=0)
    started = time.perf_counter()
    try:
        await drain_agent(agent.run(AGENT_USER.replace("{prompt}", task.prompt.strip())), gen)
    except MaxStepsExceeded:
        gen.finish_reason = "max_steps"
    gen.seconds = time.perf_counter() - started
    # The context of the last request, plus the answer to it: everything the model saw and said.
    gen.messages = [*agent.last_request, {"role": "assistant", "content": gen.output}]
    gen.text = gen.output
    runnable = [c for c in ran if extract_code(f"```python\n{c}\n```", task.entry_point)[0]]
    gen.fallback_code = runnable[-1] if runnable else ""
    return gen


async def drain_agent(events: Any, gen: Generation) -> None:
    """The events of one agent turn into ``gen``: tokens, timings (summed over steps), steps, tool calls, answer."""
    async for event in events:
        if isinstance(event, Usage):
            gen.prompt_tokens += event.prompt_tokens
            gen.completion_tokens += event.completion_tokens
        elif isinstance(event, Timing):
            if gen.first_token_s is None:
                gen.first_token_s = event.seconds_to_first_token
            for k in ("prompt_n", "prompt_ms", "predicted_n", "predicted_ms"):  # summed over the steps
                if isinstance(event.server_timings.get(k), int | float):
                    gen.server_timings[k] = gen.server_timings.get(k, 0) + event.server_timings[k]
        elif isinstance(event, StepStart):
            gen.steps = event.step
        elif isinstance(event, ToolResult):
            gen.tool_calls.append({
                "name": event.call.name, "arguments": event.call.arguments, "source": event.call.source,
                "result": event.content[:4000], "is_error": event.is_error, "seconds": round(event.seconds, 3),
            })  # fmt: skip
        elif isinstance(event, TurnEnd):
            gen.output = event.text
            gen.steps = event.steps
            gen.finish_reason = event.finish_reason
        elif isinstance(event, Finish):
            gen.finish_reason = event.reason
