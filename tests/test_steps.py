"""Grammar-constrained steps and the model profile, against the scripted server (real HTTP/SSE)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from assistant.agent import Agent
from assistant.conversation import ANSWER_NOTE
from assistant.errors import MaxStepsExceeded
from assistant.events import Decision, Notice, ToolCallDelta, ToolResult, TurnEnd
from assistant.profile import Capabilities, build_profile, llama_server_capabilities, probe
from assistant.steps import ANSWER_NOW
from assistant.toolprompt import compact_tools
from assistant.tools import ToolRegistry
from tests.scripted_server import Reply, ScriptedServer, scripted_endpoint, text

pytestmark = pytest.mark.usefixtures("close_endpoints")


@pytest.fixture
def model_decides(monkeypatch: pytest.MonkeyPatch) -> None:
    """The model's own call probability decides the first step, as when the first-step classifier's
    file is missing: for tests of what happens after that decision, whichever way it goes."""
    monkeypatch.setattr("assistant.firststep.load_intent", lambda: None)


def files_tools(seen: list[str]) -> ToolRegistry:
    reg = ToolRegistry(timeout=2.0)

    @reg.function
    def read_file(path: str, start_line: int = 1) -> str:
        """Read a text file in the workspace. Lines are numbered from 1."""
        seen.append(path)
        return {"todo.txt": "- buy milk\n- fix the percent bug"}.get(path, f"no such file {path}")

    @reg.function
    def list_files(path: str = ".") -> str:
        """List the files in a folder."""
        seen.append(f"list:{path}")
        return "todo.txt\ncalc.py"

    return reg


def search_tools(seen: list[str]) -> ToolRegistry:
    """glob, grep and read_file that find nothing; each call noted in ``seen`` ("glob:*.py", "grep:x", "read:path")."""
    reg = ToolRegistry(timeout=2.0)

    @reg.function
    def glob(pattern: str, path: str = ".") -> str:
        """Find files matching a glob pattern."""
        seen.append(f"glob:{pattern}")
        return "no files match"

    @reg.function
    def grep(pattern: str) -> str:
        """Search the files."""
        seen.append(f"grep:{pattern}")
        return "no matches"

    @reg.function
    def read_file(path: str) -> str:
        """Read a file."""
        seen.append(f"read:{path}")
        return "x = 1"

    return reg


def code_tools(root: Any, seen: list[str]) -> ToolRegistry:
    """read_file and edit_file over ``root``; each call noted in ``seen`` ("read:path", "edit:old->new")."""
    reg = ToolRegistry(timeout=2.0)

    @reg.function
    def read_file(path: str) -> str:
        """Read a file."""
        seen.append(f"read:{path}")
        return str((root / path).read_text())

    @reg.function
    def edit_file(path: str, old_text: str, new_text: str) -> str:
        """Edit a file by replacing an exact piece of text."""
        seen.append(f"edit:{old_text}->{new_text}")
        return "Replaced 1 occurrence"

    return reg


def grammar_agent(server: ScriptedServer, tools: ToolRegistry, **kw: Any) -> Agent:
    ep = scripted_endpoint(server, "qwen2.5-coder-0.5b")
    caps = llama_server_capabilities(server.base_url, "qwen2.5-coder-0.5b", 8192)
    profile = build_profile("qwen2.5-coder-0.5b", caps, local=True)
    assert profile.tool_calls == "grammar"
    return Agent(ep, tools, system_prompt="You are terse.", fold_tool_results=profile.fold_results,
                 profile=profile, **kw)  # fmt: skip


class CodeReplies:
    """An endpoint for assistant/codewords.py: each request is answered with the next reply in a
    ```python block, and noted (messages and parameters) in ``sent``."""

    def __init__(self, *replies: str) -> None:
        self.replies = list(replies)
        self.sent: list[dict[str, Any]] = []

    async def stream(self, messages: Any, tools: Any, **params: Any) -> Any:
        from assistant.events import TextDelta

        self.sent.append({"messages": messages, **params})
        yield TextDelta(f"```python\n{self.replies.pop(0)}\n```")


async def run(agent: Agent, prompt: str) -> list[Any]:
    return [e async for e in agent.run(prompt)]


def starts_call() -> Reply:
    return text('{"', pieces=1)  # the decision request: the first token begins a JSON call


def call_json(name: str, args: dict[str, Any]) -> Reply:
    return text(json.dumps({"name": name, "arguments": args}), pieces=4)


def answer_start(word: str = "The") -> Reply:
    return text(word, pieces=1)


async def test_constrained_call_then_answer(scripted: ScriptedServer) -> None:
    seen: list[str] = []
    agent = grammar_agent(scripted, files_tools(seen))
    scripted.script(
        starts_call(),  # step 1: decide (one token, with probabilities)
        call_json("read_file", {"path": "todo.txt"}),  # step 1: the call, under the grammar
        answer_start("You"),  # step 2: decide again after the result: answer
        text("You need to buy milk and fix the percent bug."),  # step 2: the answer, plain text
    )
    events = await run(agent, "What's on my todo list?")
    assert seen == ["todo.txt"]
    decide, call, again, answer = scripted.requests
    # The decision: one token with its probabilities; no `tools` field, no grammar.
    assert decide["max_tokens"] == 1 and decide["logprobs"] is True and decide["top_logprobs"] == 20
    assert "tools" not in decide and "grammar" not in decide and decide["temperature"] == 0.0
    system = decide["messages"][0]["content"]
    assert system.startswith("You are terse.") and "- read_file(path: string, start_line?: integer)" in system
    assert '"name": "read_file"' in system and "grep" not in system  # examples only for offered tools
    # The call: the same messages, under the grammar of the offered tools.
    assert call["messages"] == decide["messages"]
    assert call["grammar"].startswith('root ::= "{" ws "\\"name\\""') and '"read_file\\", "' in call["grammar"]
    assert "tools" not in call
    # The answer request: the same prefix, no grammar; the results under a plain label, then the ask
    # with the request last (not the fold's own words, which the 0.5B copied into its answers)
    assert "grammar" not in answer and "tools" not in answer and answer["messages"][:-1] == again["messages"][:-1]
    last = answer["messages"][-1]["content"]
    assert last.startswith("[Contents of todo.txt:]\n") and "The tool call" not in last
    assert last.endswith("\n\nFrom the results above, answer in one or two sentences: What's on my todo list?")
    assert answer["messages"][0] == decide["messages"][0]
    assert "fix the percent bug" in json.dumps(answer["messages"])  # the tool result, folded into the turn
    decisions = [e.choice for e in events if isinstance(e, Decision)]
    assert decisions == ["read_file", "answer"]
    deltas = [e for e in events if isinstance(e, ToolCallDelta)]
    streamed = "".join(e.arguments for e in deltas).lstrip()
    assert deltas[0].name == "read_file" and streamed.startswith('{"path": "todo.txt"}')
    results = [e for e in events if isinstance(e, ToolResult)]
    assert results[0].call.source == "grammar" and not results[0].is_error
    assert json.loads(results[0].call.arguments) == {"path": "todo.txt"}
    end = events[-1]
    assert isinstance(end, TurnEnd) and end.text.startswith("You need to buy milk") and end.steps == 2
    assert agent.steps.last_decision["p_call"] == 0.0  # type: ignore[attr-defined]


async def test_several_tool_steps_in_one_turn(scripted: ScriptedServer) -> None:
    seen: list[str] = []
    agent = grammar_agent(scripted, files_tools(seen))
    scripted.script(starts_call(), call_json("list_files", {"path": "."}), starts_call(),
                    call_json("read_file", {"path": "todo.txt"}), answer_start(), text("Two items."))  # fmt: skip
    events = await run(agent, "Find my todo file and tell me what is in it")
    assert seen == ["list:.", "todo.txt"]
    assert isinstance(events[-1], TurnEnd) and events[-1].steps == 3


async def test_general_question_makes_no_call(scripted: ScriptedServer) -> None:
    seen: list[str] = []
    agent = grammar_agent(scripted, files_tools(seen))
    scripted.script(answer_start("Hello"), text("Hello!"))
    events = await run(agent, "what is a closure?")
    assert seen == [] and isinstance(events[-1], TurnEnd) and events[-1].text == "Hello!"
    assert [e.choice for e in events if isinstance(e, Decision)] == ["answer"]


async def test_threshold_decides(scripted: ScriptedServer) -> None:
    seen: list[str] = []
    agent = grammar_agent(scripted, files_tools(seen))
    assert agent.profile is not None
    agent.profile.call_threshold = 0.99  # the fake's probability of '{"' is 0.95: not enough
    scripted.script(starts_call(), text("Hello!"))
    events = await run(agent, "what is a closure?")
    assert seen == [] and isinstance(events[-1], TurnEnd) and events[-1].text == "Hello!"


async def test_repeated_call_is_answered_from_memory(scripted: ScriptedServer) -> None:
    seen: list[str] = []
    agent = grammar_agent(scripted, files_tools(seen))
    scripted.script(starts_call(), call_json("read_file", {"path": "todo.txt"}), starts_call(),
                    call_json("read_file", {"path": "todo.txt"}), text("Milk."))  # fmt: skip
    events = await run(agent, "todo?")
    assert seen == ["todo.txt"]
    assert "grammar" not in scripted.requests[4] and scripted.requests[4].get("max_tokens") != 1
    assert isinstance(events[-1], TurnEnd) and events[-1].text == "Milk."


async def test_max_steps_ends_the_turn_and_keeps_history(scripted: ScriptedServer) -> None:
    seen: list[str] = []
    agent = grammar_agent(scripted, files_tools(seen), max_steps=2)
    scripted.script(starts_call(), call_json("read_file", {"path": "a"}), starts_call(),
                    call_json("read_file", {"path": "b"}))  # fmt: skip
    with pytest.raises(MaxStepsExceeded):
        await run(agent, "read everything")
    roles = [m.role for m in agent.conversation.messages]
    assert roles == ["user", "assistant", "tool", "assistant", "tool"]


async def test_endpoint_refusing_grammar_degrades_visibly(scripted: ScriptedServer) -> None:
    seen: list[str] = []
    agent = grammar_agent(scripted, files_tools(seen))
    refused = Reply(kind="status", status=400, body={"error": {"message": "grammar is not supported"}})
    scripted.script(starts_call(), refused,
                    text('```json\n{"name": "read_file", "arguments": {"path": "todo.txt"}}\n```'),
                    text("Milk."))  # fmt: skip
    events = await run(agent, "todo?")
    notices = [e for e in events if isinstance(e, Notice)]
    assert notices and "refused the grammar" in notices[0].message
    assert agent.profile is not None and agent.profile.tool_calls == "text"
    assert any("refused the grammar" in n for n in agent.profile.notes)
    assert "tools" in scripted.requests[2] and "grammar" not in scripted.requests[2]
    assert seen == ["todo.txt"]  # the text call was recognised
    assert isinstance(events[-1], TurnEnd) and events[-1].text == "Milk."


async def test_unsupported_tool_falls_back_to_text_for_that_tool(scripted: ScriptedServer) -> None:
    seen: list[str] = []
    reg = files_tools(seen)

    class Odd:
        name = "odd"

        def schema(self) -> dict[str, Any]:
            return {"type": "function", "function": {"name": "odd", "description": "Odd.", "parameters": {
                "type": "object", "patternProperties": {"^x": {"type": "string"}}}}}  # fmt: skip

        async def call(self, arguments: dict[str, Any]) -> str:
            seen.append("odd")
            return "odd ran"

    reg.add(Odd())  # type: ignore[arg-type]
    agent = grammar_agent(scripted, reg)
    scripted.script(answer_start("Sure"), text('{"name": "odd", "arguments": {"x1": "y"}}'), answer_start(),
                    text("Done."))  # fmt: skip
    events = await run(agent, "run odd")
    assert seen == ["odd"]
    assert isinstance(events[-1], TurnEnd) and events[-1].text == "Done."


def test_compact_tools_one_line_each() -> None:
    reg = files_tools([])
    block = compact_tools(reg.schemas())
    lines = [ln for ln in block.splitlines() if ln.startswith("- ")]
    assert lines == ["- read_file(path: string, start_line?: integer): Read a text file in the workspace.",
                     "- list_files(path?: string): List the files in a folder."]  # fmt: skip


def test_profile_decisions() -> None:
    llama = llama_server_capabilities("http://x/v1", "m", 4096)
    plain = Capabilities("http://y/v1", models=("gpt-4o-mini",))
    assert build_profile("qwen2.5-coder-0.5b", llama, local=True).tool_calls == "grammar"
    assert build_profile("gpt-4o-mini", plain).tool_calls == "native"
    small_remote = build_profile("qwen2.5-coder:1.5b", plain)  # Ollama without grammar support
    assert small_remote.tool_calls == "text" and small_remote.fold_results
    asked = build_profile("gpt-4o-mini", plain, tool_calls="grammar")
    assert asked.tool_calls == "text" and any("no grammar" in n for n in asked.notes)
    assert build_profile("qwen2.5-coder-0.5b", llama, local=True, text_tool_calls=False).tool_calls == "native"
    with pytest.raises(ValueError):
        build_profile("m", plain, tool_calls="telepathy")


async def test_probe_reads_props_once_and_caches(scripted: ScriptedServer) -> None:
    scripted.props = {"default_generation_settings": {"n_ctx": 4096}, "build_info": "b1-test",
                      "chat_template_caps": {"supports_tool_calls": True}}  # fmt: skip
    caps = await probe(scripted.base_url)
    assert (caps.server, caps.grammar, caps.context_window, caps.build) == ("llama.cpp", True, 4096, "b1-test")
    assert caps.models == ("scripted-model",) and caps.source == "probe"
    again = await probe(scripted.base_url)
    assert again.source == "cache" and scripted.props_requests == 1
    fresh = await probe(scripted.base_url, use_cache=False)
    assert fresh.source == "probe" and scripted.props_requests == 2


async def test_probe_of_a_plain_openai_server(scripted: ScriptedServer) -> None:
    caps = await probe(scripted.base_url, use_cache=False)
    assert caps.server == "unknown" and not caps.grammar and caps.models == ("scripted-model",)


async def test_probe_of_nothing_is_not_cached() -> None:
    caps = await probe("http://127.0.0.1:9/v1", wait=0.5)
    assert caps.source == "none"
    assert (await probe("http://127.0.0.1:9/v1", wait=0.5)).source == "none"


def test_path_arguments_name_only_what_exists(tmp_path: Any) -> None:
    from assistant.grammar import call_grammar
    from assistant.toolprompt import narrow_paths, workspace_paths
    from tests.test_grammar import accepts

    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("x")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD").write_text("x")
    paths = workspace_paths(tmp_path)
    assert paths == (["notes/todo.txt"], [".", "notes"])
    seen: list[str] = []
    tools = narrow_paths(files_tools(seen).schemas(), paths)
    g = call_grammar(tools)
    assert accepts(g.text, '{"name": "read_file", "arguments": {"path": "notes/todo.txt"}}')
    assert not accepts(g.text, '{"name": "read_file", "arguments": {"path": "todo.txt"}}')
    assert accepts(g.text, '{"name": "list_files", "arguments": {"path": "notes"}}')
    assert workspace_paths(tmp_path, limit=1) is None  # too many to list: no narrowing
    assert narrow_paths(tools, None) == tools


async def test_small_talk_is_answered_without_a_decision_request(scripted: ScriptedServer) -> None:
    seen: list[str] = []
    agent = grammar_agent(scripted, files_tools(seen))
    scripted.script(text("Hello! How can I help?"))  # only the answer: no decision request
    events = await run(agent, "hi there!")
    assert seen == [] and len(scripted.requests) == 1 and "grammar" not in scripted.requests[0]
    assert scripted.requests[0].get("max_tokens") != 1
    assert [e.choice for e in events if isinstance(e, Decision)] == ["answer"]


def test_is_small_talk() -> None:
    from assistant.firstcall import is_small_talk

    assert all(is_small_talk(t) for t in ("hi", "Hi there!", "thanks!", "good morning", "thank you"))
    assert not any(is_small_talk(t) for t in ("hi, show me calc.py", "hello, who are you?", "thanks, now run the tests",
                                              "hey read README.md", ""))  # fmt: skip


async def test_a_call_written_in_the_answer_is_still_run(scripted: ScriptedServer) -> None:
    """The decision said answer, but the model writes the call as JSON text: it is recognised and run."""
    seen: list[str] = []
    agent = grammar_agent(scripted, files_tools(seen))
    scripted.script(answer_start(), text('```json\n{"name": "read_file", "arguments": {"path": "todo.txt"}}\n```'),
                    answer_start(), text("Milk."))  # fmt: skip
    events = await run(agent, "what's in todo.txt")
    assert seen == ["todo.txt"]
    assert isinstance(events[-1], TurnEnd) and events[-1].text == "Milk."


async def test_a_request_naming_a_workspace_file_calls_without_a_decision_request(
    scripted: ScriptedServer, tmp_path: Any
) -> None:
    """The 0.5B gives "Explain the clean target in my Makefile" a call probability near 0: the name decides."""
    (tmp_path / "todo.txt").write_text("- buy milk\n")
    seen: list[str] = []
    agent = grammar_agent(scripted, files_tools(seen))
    agent.workspace = tmp_path
    scripted.script(call_json("read_file", {"path": "todo.txt"}), text("Milk."))
    events = await run(agent, "anything urgent in todo.txt?")
    assert seen == ["todo.txt"]
    first = scripted.requests[0]
    assert "grammar" in first and first.get("max_tokens") != 1  # straight to the constrained call
    assert "todo.txt" in first["grammar"]  # the path argument names what exists
    decisions = [e for e in events if isinstance(e, Decision)]
    assert decisions[0].choice == "read_file" and decisions[0].why.startswith("mentions todo.txt; intent read_file")
    # the file it names is read and nothing more is asked: the answer, with no decision request
    assert decisions[1].choice == "answer" and decisions[1].why.startswith("what the request names is read")
    assert len(scripted.requests) == 2 and "grammar" not in scripted.requests[1]
    from assistant.turntext import ANSWER_LAST

    answer = scripted.requests[1]["messages"][-1]["content"]  # the results, then the ask and the request
    assert answer.startswith("[Contents of todo.txt:]")
    assert answer.endswith(ANSWER_LAST + "anything urgent in todo.txt?")
    assert isinstance(events[-1], TurnEnd) and events[-1].text == "Milk."


async def test_with_the_request_served_a_call_written_in_the_answer_does_not_run(
    scripted: ScriptedServer, tmp_path: Any
) -> None:
    """chain-009: asked to read two files and compare them, the 0.5B read both, then wrote list_files
    and read_file calls under its answer and read on until max_steps."""
    (tmp_path / "todo.txt").write_text("- buy milk\n")
    seen: list[str] = []
    agent = grammar_agent(scripted, files_tools(seen))
    agent.workspace = tmp_path
    scripted.script(call_json("read_file", {"path": "todo.txt"}),
                    text('Milk is on it.\n{"name": "list_files", "arguments": {"path": "."}}'))  # fmt: skip
    events = await run(agent, "anything urgent in todo.txt?")
    assert seen == ["todo.txt"]  # the list_files written in the answer did not run
    assert isinstance(events[-1], TurnEnd) and events[-1].text.startswith("Milk is on it.")
    agent = grammar_agent(scripted, files_tools(seen))
    agent.workspace = tmp_path
    scripted.script(call_json("read_file", {"path": "todo.txt"}), text('{"name": "list_files", "arguments": {}}'),
                    text("Milk."))  # fmt: skip
    events = await run(agent, "what's in todo.txt?")
    assert seen == ["todo.txt", "todo.txt"]  # the answer was only a call: asked again in words
    assert isinstance(events[-1], TurnEnd) and events[-1].text == "Milk."


async def test_a_request_naming_nothing_of_the_workspace_is_left_to_the_model(
    scripted: ScriptedServer, tmp_path: Any, model_decides: None
) -> None:
    (tmp_path / "todo.txt").write_text("- buy milk\n")
    seen: list[str] = []
    agent = grammar_agent(scripted, files_tools(seen))
    agent.workspace = tmp_path
    scripted.script(answer_start("A"), text("A closure captures variables."))
    events = await run(agent, "what is a closure?")
    assert seen == [] and scripted.requests[0]["max_tokens"] == 1
    decision = next(e for e in events if isinstance(e, Decision))
    assert decision.choice == "answer" and decision.why.startswith("p_call 0.00 <")


async def test_an_edit_of_an_unread_file_reads_it_first_then_edits_real_lines(
    scripted: ScriptedServer, tmp_path: Any
) -> None:
    (tmp_path / "todo.txt").write_text("- buy milk\n- fix the percent bug\n")
    seen: list[str] = []
    reg = files_tools(seen)

    @reg.function
    def edit_file(path: str, old_text: str, new_text: str) -> str:
        """Edit a file by replacing an exact piece of text."""
        seen.append(f"edit:{path}:{old_text}->{new_text}")
        return "edited"

    agent = grammar_agent(scripted, reg)
    agent.workspace = tmp_path
    scripted.script(
        call_json("read_file", {"path": "todo.txt"}),  # named in an instruction: read first, no decision
        # after the read: the edit asked for is still owed, so no decision either
        call_json("edit_file", {"path": "todo.txt", "old_text": "- buy milk", "new_text": "- buy oat milk"}),
        answer_start(), text("Done."),
    )  # fmt: skip
    events = await run(agent, "In todo.txt, make it oat milk")
    assert seen == ["todo.txt", "edit:todo.txt:- buy milk->- buy oat milk"]
    assert "edit_file" not in scripted.requests[0]["grammar"]  # the first call can only be the read
    second_call = scripted.requests[1]["grammar"]
    assert "- buy milk" in second_call and "- invented" not in second_call  # old_text: a real line of the file
    assert "read_file" not in second_call and "list_files" not in second_call  # only the edit tools
    whys = [e.why for e in events if isinstance(e, Decision)]
    assert whys[0].startswith("asks to change todo.txt; intent read_file")
    assert whys[1] == "the request asks for an edit not made yet"
    assert scripted.requests[2]["max_tokens"] == 1  # the edit made: the model decides again
    assert isinstance(events[-1], TurnEnd) and events[-1].text == "Done."


async def test_an_edit_the_model_chose_of_an_unread_file_becomes_a_read(
    scripted: ScriptedServer, tmp_path: Any, model_decides: None
) -> None:
    (tmp_path / "todo.txt").write_text("- buy milk\n")
    seen: list[str] = []
    reg = files_tools(seen)

    @reg.function
    def edit_file(path: str, old_text: str, new_text: str) -> str:
        """Edit a file by replacing an exact piece of text."""
        seen.append(f"edit:{path}")
        return "edited"

    agent = grammar_agent(scripted, reg)
    agent.workspace = tmp_path
    # nothing named: the model decides, and chooses an edit of a file it has not seen
    scripted.script(starts_call(), call_json("edit_file", {"path": "todo.txt", "old_text": "- x", "new_text": "y"}),
                    answer_start(), text("Done."))  # fmt: skip
    events = await run(agent, "translate the milk line to french")  # a change the edit rules do not know
    assert seen == ["todo.txt"], [e for e in events if isinstance(e, Decision)]  # read, not edited
    notices = [e.message for e in events if isinstance(e, Notice)]
    assert any("reading todo.txt before editing it" in n for n in notices)


async def test_after_a_result_a_further_call_needs_a_higher_probability(
    scripted: ScriptedServer, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import assistant.steps as steps

    monkeypatch.setattr(steps, "AFTER_RESULT_THRESHOLD", 0.97)  # the fake's P('{"') is 0.95
    (tmp_path / "todo.txt").write_text("- buy milk\n")
    seen: list[str] = []
    agent = grammar_agent(scripted, files_tools(seen))
    agent.workspace = tmp_path
    scripted.script(call_json("read_file", {"path": "todo.txt"}), starts_call(), text("Milk."))
    events = await run(agent, "check what is in todo.txt")  # ("check" may ask more than the read)
    assert seen == ["todo.txt"] and isinstance(events[-1], TurnEnd) and events[-1].text == "Milk."
    decision = [e for e in events if isinstance(e, Decision)][-1]
    assert decision.choice == "answer" and decision.why == "p_call 0.95 < 0.97"


async def test_a_request_naming_only_a_folder_looks_into_it_first(scripted: ScriptedServer, tmp_path: Any) -> None:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.md").write_text("x\n")
    seen: list[str] = []
    agent = grammar_agent(scripted, files_tools(seen))
    agent.workspace = tmp_path
    scripted.script(call_json("list_files", {"path": "notes"}), answer_start(), text("One file."))
    await run(agent, "What's in the notes folder?")
    grammar = scripted.requests[0]["grammar"]
    assert "list_files" in grammar and "read_file" not in grammar
    assert '\\"notes\\"' in grammar and '\\".\\"' not in grammar  # the folder named, no other
    assert seen == ["list:notes"]


async def test_a_request_naming_only_a_definition_reads_a_file_that_defines_it(
    scripted: ScriptedServer, tmp_path: Any
) -> None:
    (tmp_path / "split.py").write_text("def split_bill(total, people):\n    return total / people\n")
    (tmp_path / "todo.txt").write_text("- x\n")
    seen: list[str] = []
    agent = grammar_agent(scripted, files_tools(seen))
    agent.workspace = tmp_path
    scripted.script(call_json("read_file", {"path": "split.py"}), text("It splits."))
    await run(agent, "What does split_bill do?")
    grammar = scripted.requests[0]["grammar"]
    assert "split.py" in grammar and "todo.txt" not in grammar.split("list_files")[0]
    assert seen == ["split.py"]


async def test_a_request_naming_a_tool_calls_that_tool(scripted: ScriptedServer) -> None:
    seen: list[str] = []
    agent = grammar_agent(scripted, files_tools(seen))
    scripted.script(call_json("list_files", {"path": "."}), answer_start(), text("Two files."))
    events = await run(agent, "Use list_files and tell me what you see")
    grammar = scripted.requests[0]["grammar"]
    assert "list_files" in grammar and "read_file" not in grammar and scripted.requests[0].get("max_tokens") != 1
    assert seen == ["list:."] and next(e.why for e in events if isinstance(e, Decision)) == "names list_files"


@pytest.mark.parametrize(
    ("request_text", "named"),
    [("grep for TODO in the notes", True), ("use glob to find the tests", True), ("try the grep tool", True),
     ("How does glob.escape make wildcard characters literal?", False),
     ("Do glob's wildcards match hidden files?", False),
     ("what does grep -r do", False), ("use glob.glob here", False)],
)
def test_a_tool_name_that_is_also_a_word_is_named_only_when_asked_for_as_a_tool(request_text: str, named: bool) -> None:
    from assistant.firststep import _used_as_tool

    name = "glob" if "glob" in request_text else "grep"
    assert _used_as_tool(name, request_text) is named


async def test_a_change_asked_in_plain_words_is_not_answered_in_words_on_the_classifiers_say(
    scripted: ScriptedServer, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "truncate should raise a ValueError when width is under 4": the classifier said answer (0.52 on a
    # held-out request); the words ask for a change of what textutils.py defines, so it is read
    from assistant.intent import ANSWER

    class SaysAnswer:
        def choose(self, text: str, offered: Any) -> tuple[str, dict[str, float]]:
            return ANSWER, {ANSWER: 0.52, "read_file": 0.3}

    monkeypatch.setattr("assistant.firststep.load_intent", lambda: SaysAnswer())
    (tmp_path / "textutils.py").write_text("def truncate(text, width=20):\n    return text[:width]\n")
    (tmp_path / "todo.txt").write_text("- x\n")
    seen: list[str] = []
    agent = grammar_agent(scripted, code_tools(tmp_path, seen))
    agent.workspace = tmp_path
    scripted.script(call_json("read_file", {"path": "textutils.py"}), text("Done."), text("Done."))
    events = await run(agent, "truncate should raise a ValueError when width is under 4")
    first = next(e for e in events if isinstance(e, Decision))
    assert first.choice == "read_file" and "intent answer" in first.why and "asks to change truncate" in first.why
    assert seen[:1] == ["read:textutils.py"] and "grammar" in scripted.requests[0]


async def test_whether_a_file_exists_is_globbed_whatever_the_classifier_says(
    scripted: ScriptedServer, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # t9-009: the classifier said grep (0.54) and the 0.5B grepped for 'tox.ini'
    class SaysGrep:
        def choose(self, text: str, offered: Any) -> tuple[str, dict[str, float]]:
            return "grep", {"grep": 0.54}

    monkeypatch.setattr("assistant.firststep.load_intent", lambda: SaysGrep())
    (tmp_path / "calc.py").write_text("x = 1\n")
    seen: list[str] = []
    agent = grammar_agent(scripted, search_tools(seen))
    agent.workspace = tmp_path
    scripted.script(call_json("glob", {"pattern": "tox.ini"}), text("No."), text("No."))
    events = await run(agent, "is there a tox.ini or noxfile anywhere?")
    first = next(e for e in events if isinstance(e, Decision))
    assert first.choice == "glob" and first.why == "asks whether tox.ini exists"
    grammar = scripted.requests[0]["grammar"]
    assert "grep" not in grammar and "tox.ini" in grammar and "noxfile*" in grammar
    assert seen[:1] == ["glob:tox.ini"]


async def test_a_wanted_state_read_then_edited(scripted: ScriptedServer, tmp_path: Any) -> None:
    # t9-016 after its first-step fix: the edit tools were withheld once pyproject.toml was read (no edit
    # verb), and the 0.5B answered with the file
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "tipcalc"\n')
    (tmp_path / "notes.txt").write_text("- x\n")
    seen: list[str] = []
    agent = grammar_agent(scripted, code_tools(tmp_path, seen))
    agent.workspace = tmp_path
    edit = {"path": "pyproject.toml", "old_text": 'name = "tipcalc"',
            "new_text": 'name = "tipcalc"\nkeywords = ["tips"]'}
    scripted.script(call_json("read_file", {"path": "pyproject.toml"}), call_json("edit_file", edit), text("Done."))
    events = await run(agent, "pyproject should list some keywords: tips, bills")
    decisions = [e for e in events if isinstance(e, Decision)]
    assert [d.choice for d in decisions][:2] == ["read_file", "edit_file"]
    assert "edit_file" in scripted.requests[1]["grammar"] and seen[0] == "read:pyproject.toml"


@pytest.mark.parametrize(("p_read", "first"), [(0.29, "grep"), (0.8, "read_file")])
async def test_an_unsure_classifier_gives_way_to_the_words(
    scripted: ScriptedServer, tmp_path: Any, monkeypatch: pytest.MonkeyPatch, p_read: float, first: str
) -> None:
    # t9-013 "does any module define __all__": read 0.29 (answer 0.23) against the words' search for __all__
    class SaysRead:
        def choose(self, text: str, offered: Any) -> tuple[str, dict[str, float]]:
            return "read_file", {"read_file": p_read, "answer": 0.23, "grep": 0.2}

    monkeypatch.setattr("assistant.firststep.load_intent", lambda: SaysRead())
    (tmp_path / "calc.py").write_text("x = 1\n")
    seen: list[str] = []
    agent = grammar_agent(scripted, search_tools(seen))
    agent.workspace = tmp_path
    call = call_json("grep", {"pattern": "__all__"}) if first == "grep" else call_json("read_file", {"path": "calc.py"})
    scripted.script(call, text("No."), text("No."))
    events = await run(agent, "does any module define __all__")
    decision = next(e for e in events if isinstance(e, Decision))
    assert decision.choice == first
    assert ("unsure, so asks whether anything uses __all__" in decision.why) is (first == "grep")
    assert seen[:1] == (["grep:__all__"] if first == "grep" else ["read:calc.py"])


async def test_a_test_added_is_written_in_the_tests_file(scripted: ScriptedServer, tmp_path: Any) -> None:
    # ch6-005 "add a test that word_count(...) is 3, then run the textutils tests": after reading the
    # tests' file, the follow-up sent the 0.5B to read and edit textutils.py, which the request names
    (tmp_path / "tests").mkdir()
    (tmp_path / "textutils.py").write_text("def word_count(text):\n    return len(text.split())\n")
    (tmp_path / "tests" / "test_textutils.py").write_text("from textutils import word_count\n")
    seen: list[str] = []
    agent = grammar_agent(scripted, code_tools(tmp_path, seen))
    agent.workspace = tmp_path
    new = "from textutils import word_count\n\n\ndef test_spaces():\n    assert word_count('  a  b ') == 2\n"
    edit = {"path": "tests/test_textutils.py", "old_text": "from textutils import word_count", "new_text": new}
    scripted.script(call_json("read_file", {"path": "tests/test_textutils.py"}), call_json("edit_file", edit),
                    text("Done."), text("Done."))  # fmt: skip
    events = await run(agent, "add a test that word_count('  a  b ') is 2 in the textutils tests")
    decisions = [e for e in events if isinstance(e, Decision)]
    assert [d.choice for d in decisions][:2] == ["read_file", "edit_file"], decisions
    assert seen[0] == "read:tests/test_textutils.py" and "tests/test_textutils.py" in scripted.requests[1]["grammar"]


async def test_reads_per_turn_are_capped_unless_many_are_asked_for(
    scripted: ScriptedServer, tmp_path: Any, model_decides: None
) -> None:
    for name in "abcde":
        (tmp_path / f"{name}.txt").write_text(f"{name}\n")
    seen: list[str] = []
    agent = grammar_agent(scripted, files_tools(seen))
    agent.workspace = tmp_path
    scripted.script(call_json("read_file", {"path": "a.txt"}), starts_call(), call_json("read_file", {"path": "b.txt"}),
                    starts_call(), call_json("read_file", {"path": "c.txt"}), starts_call(),
                    call_json("list_files", {"path": "."}), answer_start(), text("Done."))  # fmt: skip
    await run(agent, "what do the files here say?")
    assert "read_file" in scripted.requests[4]["grammar"] and "read_file" not in scripted.requests[6]["grammar"]
    assert seen == ["a.txt", "b.txt", "c.txt", "list:."]


async def test_once_what_the_request_names_is_read_no_further_read_is_offered(
    scripted: ScriptedServer, tmp_path: Any
) -> None:
    """Asked to open the file defining split_bill, the 0.5B read it, then two more files of the folder."""
    (tmp_path / "split.py").write_text("def split_bill(total, people):\n    return total / people\n")
    (tmp_path / "other.py").write_text("X = 1\n")
    seen: list[str] = []
    agent = grammar_agent(scripted, files_tools(seen))
    agent.workspace = tmp_path
    scripted.script(call_json("read_file", {"path": "split.py"}), text("Here."))
    await run(agent, "Which file defines split_bill? Open it for me")
    assert seen == ["split.py"] and len(scripted.requests) == 2  # the answer follows, with no call offered
    assert "grammar" not in scripted.requests[1] and "tools" not in scripted.requests[1]


async def test_asked_to_test_it_the_code_of_the_answer_runs_with_its_doctests(scripted: ScriptedServer) -> None:
    ran: list[str] = []
    reg = ToolRegistry(timeout=5.0)

    @reg.function
    def run_python(code: str) -> str:
        """Run a Python program."""
        ran.append(code)
        return "exit code: 0"

    agent = grammar_agent(scripted, reg)
    code = 'def add(a, b):\n    """\n    >>> add(1, 2)\n    3\n    """\n    return a + b\n'
    scripted.script(answer_start("```"), text(f"```python\n{code}```"), answer_start("The"), text("The tests pass."))
    events = await run(agent, "Write add(a, b). Test it with run_python before you answer.")
    assert scripted.requests[0]["max_tokens"] == 1  # not forced into a call: the model writes its code first
    (program,) = ran
    assert program.startswith(code.rstrip()) and "doctest.testmod()" in program
    results = [e for e in events if isinstance(e, ToolResult)]
    assert results[0].call.source == "answer" and results[0].call.name == "run_python"
    assert isinstance(events[-1], TurnEnd) and events[-1].text == "The tests pass." and events[-1].steps == 2


def test_the_doctest_run_fails_when_an_example_fails(tmp_path: Any) -> None:
    import subprocess
    import sys

    from assistant.grounding import answer_code

    good = answer_code('```python\ndef inc(x):\n    """\n    >>> inc(1)\n    2\n    """\n    return x + 1\n```')
    bad = answer_code('```python\ndef inc(x):\n    """\n    >>> inc(1)\n    2\n    """\n    return x\n```')
    assert good and bad and answer_code("no code here") is None
    for program, code in ((good, 0), (bad, 1)):
        (tmp_path / "p.py").write_text(program)
        assert subprocess.run([sys.executable, str(tmp_path / "p.py")], capture_output=True).returncode == code


async def test_an_instruction_owes_nothing_before_the_workspace_is_in_play(
    scripted: ScriptedServer, tmp_path: Any, model_decides: None
) -> None:
    """Seen: "Give me a regex that matches an email address" forced write_file ("give" is an edit verb)."""
    (tmp_path / "todo.txt").write_text("- x\n")
    seen: list[str] = []
    agent = grammar_agent(scripted, files_tools(seen))
    agent.workspace = tmp_path
    scripted.script(answer_start("Use"), text("Use ^[^@]+@[^@]+$"))
    events = await run(agent, "Give me a regex that matches an email address")
    assert seen == [] and scripted.requests[0]["max_tokens"] == 1
    assert isinstance(events[-1], TurnEnd) and events[-1].text.startswith("Use")


async def test_a_request_about_a_workspace_file_is_not_answered_with_sandbox_info(
    scripted: ScriptedServer, tmp_path: Any
) -> None:
    (tmp_path / "todo.txt").write_text("- x\n")
    seen: list[str] = []
    reg = files_tools(seen)

    @reg.function
    def sandbox_info() -> str:
        """What the sandbox allows."""
        seen.append("sandbox")
        return "bwrap"

    agent = grammar_agent(scripted, reg)
    agent.workspace = tmp_path
    scripted.script(call_json("read_file", {"path": "todo.txt"}), text("x"))
    await run(agent, "what is in todo.txt")
    assert "sandbox_info" not in scripted.requests[0]["grammar"] and seen == ["todo.txt"]


async def test_a_call_the_answer_repeats_costs_no_further_request(scripted: ScriptedServer) -> None:
    """The 0.5B often quotes the call it just made under its answer: the answer stands."""
    seen: list[str] = []
    agent = grammar_agent(scripted, files_tools(seen))
    quoted = '```json\n{"name": "read_file", "arguments": {"path":"todo.txt"}}\n```'
    answer = "Your todo list says to buy milk and fix the percent bug. I read it with:\n" + quoted
    scripted.script(starts_call(), call_json("read_file", {"path": "todo.txt"}), answer_start(), text(answer))
    events = await run(agent, "todo?")
    assert seen == ["todo.txt"] and len(scripted.requests) == 4
    assert isinstance(events[-1], TurnEnd) and "buy milk" in events[-1].text
    short = grammar_agent(scripted, files_tools(seen))  # a bare repeat is no answer: the loop asks for one
    scripted.script(starts_call(), call_json("read_file", {"path": "todo.txt"}), answer_start(), text(quoted),
                    text("Milk."))  # fmt: skip
    events = await run(short, "todo?")
    assert isinstance(events[-1], TurnEnd) and events[-1].text == "Milk."
    # asked again under a grammar that cannot start a call, fenced or not (the 0.5B wrote the same call
    # in a ```json fence again, and the fence was the answer shown)
    from assistant.steps import WORDS_GRAMMAR
    from tests.test_grammar import accepts

    assert scripted.requests[-1]["grammar"] == WORDS_GRAMMAR
    assert accepts(WORDS_GRAMMAR, "Milk.") and accepts(WORDS_GRAMMAR, "See:\n```json\n{}\n```")
    assert not accepts(WORDS_GRAMMAR, quoted) and not accepts(WORDS_GRAMMAR, '{"name": "x"}')


async def test_asked_to_open_a_file_it_is_read(scripted: ScriptedServer, tmp_path: Any) -> None:
    """The 0.5B, asked to "open" a file, ran `open ...` or the tests as a command."""
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "meeting.md").write_text("# Meeting\n")
    (tmp_path / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    seen: list[str] = []
    agent = grammar_agent(scripted, files_tools(seen))
    agent.workspace = tmp_path
    scripted.script(call_json("read_file", {"path": "calc.py"}), text("Adds."))
    await run(agent, "Can you open calc.py for me?")
    grammar = scripted.requests[0]["grammar"]
    assert "read_file" in grammar and "list_files" not in grammar and "meeting.md" not in grammar
    assert seen == ["calc.py"]


async def test_asked_to_run_the_tests_the_command_is_the_suite(scripted: ScriptedServer, tmp_path: Any) -> None:
    """The 0.5B ran pytest inside tests/ (where the code cannot be imported), or `grep({` as a command."""
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_a.py").write_text("def test_a():\n    assert True\n")
    seen: list[str] = []
    reg = files_tools(seen)

    @reg.function
    def run_command(command: str, cwd: str = ".") -> str:
        """Run a shell command."""
        seen.append(f"run:{command}:{cwd}")
        return "exit code 0\n1 passed"

    agent = grammar_agent(scripted, reg)
    agent.workspace = tmp_path
    scripted.script(call_json("run_command", {"command": "python -m pytest -q"}), answer_start(), text("1 passed."))
    await run(agent, "Run the tests please")
    grammar = scripted.requests[0]["grammar"]
    from assistant.followup import workspace_python

    assert f"{workspace_python(tmp_path)} -m pytest -q" in grammar and "cwd" not in grammar
    assert "read_file" not in grammar and seen == ["run:python -m pytest -q:."]


async def test_once_the_edit_asked_for_is_made_no_further_edit_is_offered(
    scripted: ScriptedServer, tmp_path: Any
) -> None:
    """The 0.5B, having added the line it was asked to add, went on adding lines to the same list."""
    (tmp_path / "todo.txt").write_text("- buy milk\n- fix the percent bug\n")
    seen: list[str] = []
    reg = files_tools(seen)

    @reg.function
    def edit_file(path: str, old_text: str, new_text: str) -> str:
        """Edit a file by replacing an exact piece of text."""
        seen.append(f"edit:{path}")
        return "edited"

    agent = grammar_agent(scripted, reg)
    agent.workspace = tmp_path
    scripted.script(call_json("read_file", {"path": "todo.txt"}),
                    call_json("edit_file", {"path": "todo.txt", "old_text": "- fix the percent bug",
                                            "new_text": "- fix the percent bug\n- ship it"}),
                    starts_call(), call_json("list_files", {"path": "."}), answer_start(), text("Done."))  # fmt: skip
    events = await run(agent, "Add 'ship it' at the end of todo.txt")
    assert seen == ["todo.txt", "edit:todo.txt", "list:."]
    assert "edit_file" in scripted.requests[1]["grammar"] and "edit_file" not in scripted.requests[3]["grammar"]
    assert isinstance(events[-1], TurnEnd)


async def test_a_call_inside_a_longer_answer_to_a_no_tool_decision_is_an_example(scripted: ScriptedServer) -> None:
    """Judged to need no tool, the model explains and shows a call: the example is not run."""
    seen: list[str] = []
    agent = grammar_agent(scripted, files_tools(seen))
    scripted.script(answer_start(), text('To read a JSON file, use the json module, or a tool like this:\n'
                                         '{"name": "read_file", "arguments": {"path": "data.json"}}\n'))  # fmt: skip
    events = await run(agent, "How do I read a JSON file in Python?")
    assert seen == [] and len(scripted.requests) == 2
    assert isinstance(events[-1], TurnEnd) and "json module" in events[-1].text


async def test_a_text_call_to_a_tool_this_step_does_not_offer_is_not_run(
    scripted: ScriptedServer, tmp_path: Any
) -> None:
    """Once the edit asked for is made, an edit the answer writes as text is not run."""
    (tmp_path / "todo.txt").write_text("- a\n")
    seen: list[str] = []
    reg = files_tools(seen)

    @reg.function
    def edit_file(path: str, old_text: str, new_text: str) -> str:
        """Edit a file by replacing an exact piece of text."""
        seen.append(f"edit:{new_text}")
        (tmp_path / path).write_text((tmp_path / path).read_text().replace(old_text, new_text, 1))
        return "edited"

    agent = grammar_agent(scripted, reg)
    agent.workspace = tmp_path
    again = '{"name": "edit_file", "arguments": {"path": "todo.txt", "old_text": "- a", "new_text": "- a\\n- c"}}'
    scripted.script(call_json("read_file", {"path": "todo.txt"}),
                    call_json("edit_file", {"path": "todo.txt", "old_text": "- a", "new_text": "- a\n- b"}),
                    answer_start(), text(again), text("Added b."))  # fmt: skip
    events = await run(agent, "Add 'b' to todo.txt")
    assert seen == ["todo.txt", "edit:- a\n- b"] and (tmp_path / "todo.txt").read_text() == "- a\n- b\n"
    # asked again in words: the same ask, under the grammar whose first character cannot start a call
    from assistant.steps import WORDS_GRAMMAR

    assert scripted.requests[-1]["grammar"] == WORDS_GRAMMAR
    assert scripted.requests[-1]["messages"] == scripted.requests[-2]["messages"]
    assert isinstance(events[-1], TurnEnd) and events[-1].text == "Added b."


async def test_a_read_repeated_as_text_after_the_reads_are_done_is_answered_from_memory(
    scripted: ScriptedServer, tmp_path: Any
) -> None:
    """The read is no longer offered, but the model writes it again as its answer: the loop answers from memory."""
    (tmp_path / "todo.txt").write_text("- call the plumber\n")
    seen: list[str] = []
    agent = grammar_agent(scripted, files_tools(seen))
    agent.workspace = tmp_path
    again = '```json\n{"name": "read_file", "arguments": {"path": "todo.txt"}}\n```'
    scripted.script(call_json("read_file", {"path": "todo.txt"}), text(again), text("Call the plumber."))
    events = await run(agent, "What's on my todo list in todo.txt?")
    assert seen == ["todo.txt"]  # read once
    assert isinstance(events[-1], TurnEnd) and events[-1].text == "Call the plumber."


async def test_a_request_that_asks_for_no_change_gets_no_tool_that_changes_files(
    scripted: ScriptedServer, tmp_path: Any, model_decides: None
) -> None:
    (tmp_path / "app.py").write_text("print('hi')\n")
    seen: list[str] = []
    reg = files_tools(seen)

    @reg.function
    def write_file(path: str, content: str) -> str:
        """Write a file."""
        seen.append(f"write:{path}")
        return "written"

    agent = grammar_agent(scripted, reg)
    agent.workspace = tmp_path
    scripted.script(call_json("read_file", {"path": "app.py"}), answer_start(), text("app.py prints."))
    await run(agent, "Which file actually prints something to the terminal? Look in this project")
    assert "write_file" not in scripted.requests[0]["grammar"]  # the 0.5B chose write_file here
    fresh = grammar_agent(scripted, reg)
    fresh.workspace = tmp_path
    scripted.script(starts_call(), call_json("write_file", {"path": "notes.txt", "content": "x"}), answer_start(),
                    text("Saved."))  # fmt: skip
    await run(fresh, "save a note that says x in notes.txt")
    assert "write_file" in scripted.requests[4]["grammar"]  # asked for a change: offered


def test_a_negated_clause_asks_for_nothing_and_the_tests_it_protects_are_not_edited(tmp_path: Any) -> None:
    from assistant.grounding import affirmed, keeps_tests
    from assistant.steps import GrammarSteps

    assert "delete" not in affirmed("Fix it. Do not edit or delete the tests.")
    assert affirmed("Don't forget to add milk") == "Don't forget to add milk"  # still asks
    assert keeps_tests("Use the tools. Do not edit or delete the tests. When they pass, say so.")
    assert keeps_tests("fix it without touching the tests") and not keeps_tests("fix the test, don't run it")
    assert affirmed("Why does it never print the total?") == "Why does it never print the total?"  # a question

    (tmp_path / "tests").mkdir()
    code = "def median(values):\n    ordered = sorted(values)\n    return ordered[len(ordered) // 2]\n"
    (tmp_path / "stats.py").write_text(code)
    (tmp_path / "tests" / "test_stats.py").write_text("def test_even():\n    assert median([4, 1, 3, 2]) == 2.5\n")
    caps = llama_server_capabilities("http://127.0.0.1:1", "qwen2.5-coder-0.5b", 8192)
    profile = build_profile("qwen2.5-coder-0.5b", caps, local=True)
    steps = GrammarSteps(None, profile, lambda: tmp_path)  # type: ignore[arg-type]
    edit = {"type": "function", "function": {"name": "edit_file", "description": "Edit a file.", "parameters": {
        "type": "object", "required": ["path", "old_text", "new_text"], "properties": {
            "path": {"type": "string"}, "old_text": {"type": "string"}, "new_text": {"type": "string"}}}}}  # fmt: skip
    request = "The tests fail: change `median` to average the middle two. Do not edit or delete the tests."
    messages: list[dict[str, Any]] = [{"role": "user", "content": request}]
    for i, path in enumerate(["stats.py", "tests/test_stats.py"]):
        read = {"name": "read_file", "arguments": json.dumps({"path": path})}
        call = {"id": f"c{i}", "type": "function", "function": read}
        messages += [{"role": "assistant", "content": None, "tool_calls": [call]},
                     {"role": "tool", "tool_call_id": f"c{i}", "content": (tmp_path / path).read_text()}]  # fmt: skip
    (offered,) = steps._offer(messages, [edit])
    choices = offered["function"]["parameters"]["anyOf"]
    assert {c["properties"]["path"]["const"] for c in choices} == {"stats.py"}  # never the test file
    assert all(c["properties"]["new_text"] != {"const": ""} for c in choices)  # a fix, not a deletion
    only_tests = [messages[0], *messages[3:]]  # only the test file read: no edit is offered at all
    assert steps._offer(only_tests, [edit]) == []
    messages[0] = {"role": "user", "content": "The tests fail: change `median` to average the middle two."}
    (free,) = steps._offer(messages, [edit])
    assert {c["properties"]["path"]["const"] for c in free["function"]["parameters"]["anyOf"]} == {
        "stats.py", "tests/test_stats.py"}  # fmt: skip


async def test_a_question_about_how_things_are_usually_done_is_left_to_the_model(
    scripted: ScriptedServer, tmp_path: Any, model_decides: None
) -> None:
    """ "in general, how do people lay out the tests folder?" listed tests/ ("the tests" pointed at it)."""
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_a.py").write_text("def test_a():\n    pass\n")
    (tmp_path / "tests" / "test_b.py").write_text("def test_b():\n    pass\n")
    seen: list[str] = []
    agent = grammar_agent(scripted, files_tools(seen))
    agent.workspace = tmp_path
    scripted.script(answer_start("Usually"), text("Usually a tests/ folder beside the package."))
    events = await run(agent, "in general, how do people lay out the tests folder for a python project?")
    assert seen == [] and scripted.requests[0]["max_tokens"] == 1  # the model's own decision, not a listing
    assert isinstance(events[-1], TurnEnd) and events[-1].text.startswith("Usually")


async def test_a_call_copied_from_the_prompts_examples_does_not_run(
    scripted: ScriptedServer, tmp_path: Any, model_decides: None
) -> None:
    """After a fix, the 0.5B wrote grep("def load_config") under its answer: the prompt's own example."""
    (tmp_path / "todo.txt").write_text("- x\n")
    seen: list[str] = []
    agent = grammar_agent(scripted, files_tools(seen))
    agent.workspace = tmp_path
    example = '{"name": "read_file", "arguments": {"path": "docs/reading-list.md"}}'
    scripted.script(answer_start(), text(example), text("I can't tell without more."))
    events = await run(agent, "hmm, what now?")
    assert seen == []  # not run: the example's path is not in this workspace; the answer was asked again
    assert isinstance(events[-1], TurnEnd) and events[-1].text == "I can't tell without more."


def test_a_change_after_a_read_is_for_the_file_named_after_the_edit_verb(tmp_path: Any) -> None:
    """ "Read the meeting notes and add a todo item for ...": the 0.5B added it to the meeting notes."""
    from assistant.steps import GrammarSteps
    from assistant.toolprompt import workspace_paths

    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "meeting.md").write_text("- Luis: currency formatting\n")
    (tmp_path / "notes" / "todo.txt").write_text("- a\n")
    (tmp_path / "CHANGELOG.md").write_text("## 0.3.1\n")
    steps = GrammarSteps(None, None, lambda: tmp_path)  # type: ignore[arg-type]
    steps._paths = workspace_paths(tmp_path)
    files = steps._paths[0]
    targets = steps._edit_targets("Read the meeting notes and add a todo item for whatever Luis does", tmp_path, files)
    assert targets == ["notes/todo.txt"]
    later = "Look up the newest version in the changelog and add 'tag it' to the end of my todo list"
    assert steps._edit_targets(later, tmp_path, files) == ["notes/todo.txt"]
    assert steps._edit_targets("add a line to the changelog", tmp_path, files) is None  # no read first


async def test_a_line_of_code_is_rewritten_in_words_not_inside_the_call(
    scripted: ScriptedServer, tmp_path: Any, model_decides: None
) -> None:
    """In 11 of 23 repository tasks the 0.5B, writing its fix inside the JSON string, copied the line
    and appended "+ 1000000...": the call now picks the line, and the new code is asked for in words."""
    from assistant.grounding import REWRITE

    (tmp_path / "calc.py").write_text("def percent(part, whole):\n    return part / whole * 10\n")
    seen: list[str] = []
    reg = code_tools(tmp_path, seen)
    agent = grammar_agent(scripted, reg)
    agent.workspace = tmp_path
    line = "    return part / whole * 10"
    scripted.script(
        call_json("read_file", {"path": "calc.py"}),
        call_json("edit_file", {"path": "calc.py", "old_text": line, "new_text": REWRITE}),
        text("Here:\n```python\ndef percent(part, whole):\n    return part / whole * 100\n```"),  # in words
        text("Fixed."),
    )  # fmt: skip
    events = await run(agent, "fix percent in calc.py, it multiplies by 10 instead of 100")
    assert isinstance(events[-1], TurnEnd) and events[-1].text == "Fixed."
    function = "def percent(part, whole):\n"
    assert seen == ["read:calc.py", f"edit:{function}{line}->{function}    return part / whole * 100"]  # all of it
    edit_grammar = scripted.requests[1]["grammar"]
    assert REWRITE in edit_grammar and line in edit_grammar  # the call only picks the line
    assert "whole corrected function `percent` of calc.py" in json.dumps(scripted.requests[2]["messages"])

    # a reply that is only a line replaces the line alone, indented as it (never the whole function)
    async def edit_after(*replies: Any) -> str:
        seen.clear()
        again = grammar_agent(scripted, reg)
        again.workspace = tmp_path
        scripted.script(call_json("read_file", {"path": "calc.py"}),
                        call_json("edit_file", {"path": "calc.py", "old_text": line, "new_text": REWRITE}),
                        *replies, text("Done."))  # fmt: skip
        await run(again, "fix percent in calc.py, it multiplies by 10 instead of 100")
        return seen[-1]

    assert (
        await edit_after(text("```python\nreturn part / whole * 100\n```"))
        == f"edit:{line}->    return part / whole * 100"
    )
    # a function cut short (or not Python) leaves the file as it was: no edit is made
    cut = text("```python\ndef percent(part, whole):\n    return (part / \n")
    assert await edit_after(cut) == "read:calc.py"
    # the same function back: asked once more, told it has to change
    same, fixed = (
        text(f"```python\n{function}{line}\n```"),
        text(f"```python\n{function}    return part / whole * 100\n```"),
    )
    assert await edit_after(same, fixed) == f"edit:{function}{line}->{function}    return part / whole * 100"
    assert "It has to change" in json.dumps(scripted.requests[-2]["messages"])


async def test_a_general_question_naming_nothing_here_is_answered_without_a_decision(
    scripted: ScriptedServer, tmp_path: Any
) -> None:
    (tmp_path / "tests").mkdir()
    seen: list[str] = []
    agent = grammar_agent(scripted, files_tools(seen))
    agent.workspace = tmp_path
    scripted.script(text("Use -x."))
    events = await run(agent, "whats the pytest flag to stop at the first failure")
    assert seen == [] and len(scripted.requests) == 1 and "grammar" not in scripted.requests[0]
    assert [e.why for e in events if isinstance(e, Decision)] == ["a general question"]
    assert isinstance(events[-1], TurnEnd) and events[-1].text == "Use -x."


async def test_code_added_is_written_in_words_after_the_line_the_call_picks(
    scripted: ScriptedServer, tmp_path: Any
) -> None:
    """Adding a test inside the JSON string, the 0.5B ran to the token limit twice (ch2-009)."""
    from assistant.grounding import ADD_CODE

    (tmp_path / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    seen: list[str] = []
    reg = code_tools(tmp_path, seen)

    agent = grammar_agent(scripted, reg)
    agent.workspace = tmp_path
    last = "    return a + b"
    scripted.script(call_json("read_file", {"path": "calc.py"}),
                    call_json("edit_file", {"path": "calc.py", "old_text": last, "new_text": ADD_CODE}),
                    text("```python\ndef square(x):\n    return x * x\n```"), text("Added."))  # fmt: skip
    await run(agent, "add a function square(x) to calc.py")
    assert seen == ["read:calc.py", f"edit:{last}->{last}\n\n\ndef square(x):\n    return x * x"]
    assert ADD_CODE in scripted.requests[1]["grammar"]
    # what is not Python adds nothing
    seen.clear()
    agent = grammar_agent(scripted, reg)
    agent.workspace = tmp_path
    scripted.script(call_json("read_file", {"path": "calc.py"}),
                    call_json("edit_file", {"path": "calc.py", "old_text": last, "new_text": ADD_CODE}),
                    text("```python\ndef square(x:\n```"), text("Sorry."))  # fmt: skip
    events = await run(agent, "add a function square(x) to calc.py")
    assert seen == ["read:calc.py"]  # no edit that changes nothing (ch9-004: the tests were run again as if fixed)
    assert any("wrote no usable change for calc.py" in e.message for e in events if isinstance(e, Notice))
    assert isinstance(events[-1], TurnEnd) and events[-1].text == "Sorry."


async def test_code_asked_for_in_words_leaves_the_retrieved_passages_out(tmp_path: Any) -> None:
    """With the task's own files retrieved (the old code in front of it), the 0.5B wrote that code
    back unchanged in 12 of 12 repository tasks; the rewrite request carries no passages."""
    from assistant.codewords import rewrite
    from assistant.context import PASSAGES_ASK, fold_passages
    from assistant.grounding import REWRITE

    (tmp_path / "calc.py").write_text("def percent(part, whole):\n    return part / whole * 10\n")
    passage = {"content": "calc.py:1-2\ndef percent(part, whole):\n    return part / whole * 10"}
    messages = fold_passages([passage], [{"role": "user", "content": "fix percent in calc.py"}])
    assert PASSAGES_ASK in messages[0]["content"]
    endpoint = CodeReplies("def percent(part, whole):\n    return part / whole * 100")
    args = {"path": "calc.py", "old_text": "    return part / whole * 10", "new_text": REWRITE}
    out = json.loads(await rewrite(endpoint, tmp_path, messages, json.dumps(args), {}))  # type: ignore[arg-type]
    assert out["new_text"].endswith("return part / whole * 100")
    (asked,) = [r["messages"] for r in endpoint.sent]
    assert "fix percent in calc.py" in asked[0]["content"] and "whole corrected function" in asked[0]["content"]
    # the request again, right before the ask (with the code between them, the 0.5B wrote it back)
    assert "[What I asked: fix percent in calc.py]\n[Write the whole corrected function" in asked[0]["content"]
    assert PASSAGES_ASK not in asked[0]["content"] and "calc.py:1-2" not in asked[0]["content"]
    assert PASSAGES_ASK in messages[0]["content"]  # the turn's own messages are not changed


async def test_an_answer_is_bounded_and_a_cut_answer_says_so(
    scripted: ScriptedServer, tmp_path: Any, model_decides: None
) -> None:
    """Unbounded, the 0.5B wrote 4,024 tokens held back as a possible call, and nothing showed
    until the 240 s turn limit: an answer now has a bound, and a line says when it was reached."""
    from dataclasses import replace as dc_replace

    from assistant.events import Notice
    from assistant.steps import ANSWER_MAX_TOKENS

    seen: list[str] = []
    agent = grammar_agent(scripted, files_tools(seen))
    agent.workspace = tmp_path
    scripted.script(answer_start(), dc_replace(text("Sure, " * 20), finish_reason="length"))
    events = await run(agent, "tell me a long story about tips")
    assert scripted.requests[-1]["max_tokens"] == ANSWER_MAX_TOKENS
    notes = [e.message for e in events if isinstance(e, Notice)]
    assert any(f"cut at {ANSWER_MAX_TOKENS} tokens" in n for n in notes)
    assert isinstance(events[-1], TurnEnd) and events[-1].text.startswith("Sure,")


async def test_unchanged_code_is_asked_for_again_then_sampled(tmp_path: Any) -> None:
    """The 0.5B wrote `mean` back unchanged at temperature 0, asked twice: the tries after that are
    sampled (seeded), and the first that changes the code and compiles is kept."""
    from assistant.codewords import SAMPLED_TRIES, addition, rewrite
    from assistant.grounding import ADD_CODE, REWRITE

    old = (
        "def mean(values):\n    if not values:\n        raise ValueError('empty')\n    return sum(values) / len(values)"
    )
    (tmp_path / "calc.py").write_text(old + "\n")
    fixed = old.replace("raise ValueError('empty')", "return 0.0")
    messages = [{"role": "user", "content": "make mean() of an empty list return 0.0 instead of raising"}]
    args = json.dumps({"path": "calc.py", "old_text": "        raise ValueError('empty')", "new_text": REWRITE})
    endpoint = CodeReplies(old, old, fixed)
    out = json.loads(await rewrite(endpoint, tmp_path, messages, args, {}))  # type: ignore[arg-type]
    assert out["new_text"] == fixed and out["old_text"] == old
    sent = endpoint.sent
    assert [r["temperature"] for r in sent] == [0.0, 0.0, SAMPLED_TRIES[0][0]]
    assert sent[2]["seed"] == SAMPLED_TRIES[0][1]
    # nothing but the old code, every time: the file keeps it (no edit is invented)
    endpoint = CodeReplies(*[old] * 4)
    out = json.loads(await rewrite(endpoint, tmp_path, messages, args, {}))  # type: ignore[arg-type]
    assert out["new_text"] == old and len(endpoint.sent) == 2 + len(SAMPLED_TRIES)

    # code added: the line it goes after is named, not shown as a block to copy
    last = "    return sum(values) / len(values)"
    add = json.dumps({"path": "calc.py", "old_text": last, "new_text": ADD_CODE})
    square = "def square(x):\n    return x * x"
    endpoint = CodeReplies(square)
    out = json.loads(await addition(endpoint, tmp_path, messages, add, {}))  # type: ignore[arg-type]
    assert out["new_text"] == f"{last}\n\n\n{square}"
    ask = endpoint.sent[0]["messages"][-1]["content"]
    assert "(it goes at the end of the file)" in ask and "```python\n    return sum" not in ask


def test_a_removal_said_as_what_may_happen_is_for_the_file_after_it(tmp_path: Any) -> None:
    from assistant.steps import GrammarSteps
    from assistant.toolprompt import workspace_paths

    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("- write docs for settings.toml\n- b\n")
    (tmp_path / "settings.toml").write_text("tip = 18\n")
    steps = GrammarSteps(None, None, lambda: tmp_path)  # type: ignore[arg-type]
    steps._paths = workspace_paths(tmp_path)
    said = "I wrote the settings docs already so that item can come off my todo list"
    assert steps._edit_targets(said, tmp_path, steps._paths[0]) == ["notes/todo.txt"]


async def test_a_rewrite_that_only_annotates_the_signature_is_no_change(tmp_path: Any) -> None:
    """Sampled, the 0.5B wrote `from typing import *` and an annotated signature over the same body:
    no change (the next try is asked), and lines above the `def` never land in the file."""
    from assistant.codewords import rewrite
    from assistant.grounding import REWRITE

    old = "def percent(part, whole):\n    return part / whole * 10"
    (tmp_path / "calc.py").write_text(old + "\n")
    annotated = "from typing import *\n\ndef percent(part: float, whole: float) -> float:\n    return part / whole * 10"
    fixed = "import math\n\n@staticmethod\ndef percent(part, whole):\n    return part / whole * 100"
    endpoint = CodeReplies(old, old, annotated, fixed)
    args = json.dumps({"path": "calc.py", "old_text": "    return part / whole * 10", "new_text": REWRITE})
    messages = [{"role": "user", "content": "fix percent"}]
    out = json.loads(await rewrite(endpoint, tmp_path, messages, args, {}))  # type: ignore[arg-type]
    assert out["new_text"] == "@staticmethod\ndef percent(part, whole):\n    return part / whole * 100"
    assert endpoint.replies == []


async def test_an_edit_already_made_this_turn_is_not_made_again(scripted: ScriptedServer, tmp_path: Any) -> None:
    """The 1.5B, asked once more for converter.py's fix after editing units.py, wrote the function it
    had already added to converter.py: the call is not made (it would add the function twice)."""
    from assistant.events import TextDelta, ToolCallReady
    from assistant.steps import GrammarSteps

    (tmp_path / "todo.txt").write_text("- a\n- b\n")
    seen: list[str] = []
    agent = grammar_agent(scripted, code_tools(tmp_path, seen))
    agent.workspace = tmp_path
    steps = agent.steps
    assert isinstance(steps, GrammarSteps)
    edit = {"path": "todo.txt", "old_text": "- a", "new_text": "- a\n- b"}
    folded = ("Add b to todo.txt" + ANSWER_NOTE + '\n\n[The tool call read_file({"path": "todo.txt"}) returned:]\n- a'
              + f'\n\n[The tool call edit_file({json.dumps(edit)}) returned:]\nReplaced 1 occurrence'
              + '\n\n[The tool call edit_file({"path": "todo.txt", "old_text": "x", "new_text": "y"}) returned:]\nok')
    messages = [{"role": "system", "content": "s"}, {"role": "user", "content": folded}]
    grammar = steps.grammar(agent.tools.schemas())
    scripted.script(call_json("edit_file", edit), text("I added b."))
    events = [e async for e in steps._call(messages, grammar, {}, 0.0)]
    assert not any(isinstance(e, ToolCallReady) for e in events)  # not made again
    assert any(isinstance(e, Notice) and "already made" in e.message for e in events)
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "I added b."
    assert scripted.requests[-1]["messages"][-1]["content"].endswith(ANSWER_NOW)
    # a different edit is made
    scripted.script(call_json("edit_file", {**edit, "new_text": "- a\n- c"}))
    events = [e async for e in steps._call(messages, grammar, {}, 0.0)]
    assert any(isinstance(e, ToolCallReady) and e.call.name == "edit_file" for e in events)


def test_an_edit_written_again_in_an_answer_is_dropped_other_repeats_are_not() -> None:
    from assistant.events import ToolCall
    from assistant.steps import _dropped

    made = {("edit_file", json.dumps({"new_text": "y", "old_text": "x", "path": "a"}, sort_keys=True)),
            ("run_command", json.dumps({"command": "pytest"}))}  # fmt: skip
    again = ToolCall("c1", "edit_file", json.dumps({"path": "a", "old_text": "x", "new_text": "y"}))
    rerun = ToolCall("c2", "run_command", json.dumps({"command": "pytest"}))
    assert _dropped(again, made, set(), None, served=False)
    assert not _dropped(rerun, made, set(), None, served=False)  # the loop decides (stale after a change)


async def test_added_code_that_defines_an_existing_function_rewrites_it(tmp_path: Any) -> None:
    """The 1.5B, asked for code to add, wrote a second display_name under the first (and one into
    render.py, which imports it): both shadowed what was there, the visible tests still passed."""
    from assistant.codewords import addition
    from assistant.grounding import ADD_CODE

    (tmp_path / "users.py").write_text('def display_name(user):\n    return user.get("nickname").strip()\n\n\n'
                                       "def other():\n    return 1\n")  # fmt: skip
    (tmp_path / "render.py").write_text("from users import display_name\n\n\ndef render(us):\n    return us\n")
    (tmp_path / "test_x.py").write_text("def test_mean():\n    assert 1\n")
    messages = [{"role": "user", "content": "fix display_name"}]
    new = 'def display_name(user):\n    return (user.get("nickname") or "").strip() or user["name"]'
    anchor = '    return user.get("nickname").strip()'
    args = json.dumps({"path": "users.py", "old_text": anchor, "new_text": ADD_CODE})
    done = json.loads(await addition(CodeReplies(new), tmp_path, messages, args, {}))
    assert done["old_text"] == 'def display_name(user):\n    return user.get("nickname").strip()'
    assert done["new_text"] == new  # the function replaced, not defined twice
    args = json.dumps({"path": "render.py", "old_text": "    return us", "new_text": ADD_CODE})
    done = json.loads(await addition(CodeReplies(new), tmp_path, messages, args, {}))
    assert done["new_text"] == done["old_text"] == "    return us"  # it would shadow the import: nothing added
    args = json.dumps({"path": "test_x.py", "old_text": "    assert 1", "new_text": ADD_CODE})
    done = json.loads(await addition(CodeReplies("def test_mean():\n    assert 2"), tmp_path, messages, args, {}))
    assert done["new_text"] == "    assert 1\n\n\ndef test_mean_2():\n    assert 2"  # both tests run
    fresh = "def square(x):\n    return x * x"
    args = json.dumps({"path": "users.py", "old_text": "    return 1", "new_text": ADD_CODE})
    done = json.loads(await addition(CodeReplies(fresh), tmp_path, messages, args, {}))
    assert done["new_text"] == f"    return 1\n\n\n{fresh}"  # something new is added after the line


def test_a_task_that_keeps_its_tests_runs_them_again_after_the_fix(tmp_path: Any) -> None:
    """The request's negated clause is gone from the words the rules read; the steps still see that
    the tests are kept, so the named test file is no edit target and the tests run again after the fix
    (in 14 of 23 repository tasks the agent read the test file "to edit it" instead)."""
    from assistant.steps import GrammarSteps

    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_greet.py").write_text("from greet import main\n")
    (tmp_path / "greet.py").write_text("def main():\n    pass\n")
    caps = llama_server_capabilities("http://x/v1", "qwen2.5-coder-0.5b", 8192)
    profile = build_profile("qwen2.5-coder-0.5b", caps, local=True)
    steps = GrammarSteps(None, profile, workspace=lambda: tmp_path)  # type: ignore[arg-type]
    request = ("Files: greet.py, tests/test_greet.py\nTask: make greet.py's main return 1. Tests: tests/test_greet.py."
               "\nUse the tools to run the tests: `python -m pytest -q` (run_command)."
               "\nDo not edit or delete the tests.")
    edit = {"path": "greet.py", "old_text": "    pass", "new_text": "    return 1"}
    content = (request + ANSWER_NOTE
               + '\n\n[The tool call run_command({"command": "python -m pytest -q"}) returned:]'
               + "\nexit code 1 (0.1 s)\nFAILED"
               + '\n\n[The tool call read_file({"path": "greet.py"}) returned:]\ndef main():\n    pass'
               + f"\n\n[The tool call edit_file({json.dumps(edit)}) returned:]\nReplaced 1 occurrence")  # fmt: skip
    tools = [{"type": "function", "function": {"name": n, "description": n, "parameters": {
        "type": "object", "properties": {p: {"type": "string"} for p in ps}, "required": list(ps)}}}
        for n, ps in (("read_file", ["path"]), ("run_command", ["command"]),
                      ("edit_file", ["path", "old_text", "new_text"]))]  # fmt: skip
    steps._offer([{"role": "user", "content": content}], tools)
    assert steps._owed is not None and steps._owed.tools == ("run_command",)
    assert steps._owed.commands == ("python -m pytest -q",)


async def test_free_text_arguments_are_bounded_in_the_grammar(
    scripted: ScriptedServer, tmp_path: Any, model_decides: None
) -> None:
    """The 0.5B wrote `sed -i 's/\\d+\\.\\d+\\d+...` to the token limit, twice in one turn: a command
    is at most 400 characters, a search pattern 200."""
    reg = ToolRegistry(timeout=2.0)

    @reg.function
    def run_command(command: str) -> str:
        """Run a shell command."""
        return "ok"

    @reg.function
    def grep(pattern: str) -> str:
        """Search the files."""
        return "none"

    agent = grammar_agent(scripted, reg)
    agent.workspace = tmp_path
    scripted.script(starts_call(), call_json("run_command", {"command": "echo hi"}), answer_start(), text("hi"))
    await run(agent, "say hi from the shell somehow")
    grammar = scripted.requests[1]["grammar"]
    assert "{0,400}" in grammar and "{0,200}" in grammar


async def test_small_talk_answered_with_a_call_is_asked_again_in_words(scripted: ScriptedServer) -> None:
    """The 0.5B answered "hi there!" with its examples' call format; the call is neither run nor shown."""
    from assistant.events import TextDelta
    from assistant.steps import IN_WORDS

    seen: list[str] = []
    agent = grammar_agent(scripted, files_tools(seen))
    scripted.script(text('{"name": "read_file", "arguments": {"path": "hi.txt"}}'), text("Hello! How can I help?"))
    events = await run(agent, "hi there!")
    assert seen == []  # nothing ran
    shown = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert shown == "Hello! How can I help?" and '"name"' not in shown
    assert scripted.requests[1]["messages"][-1]["content"].endswith(IN_WORDS)
    assert isinstance(events[-1], TurnEnd) and events[-1].text == "Hello! How can I help?"
    # asked again under a grammar whose first character cannot start a call
    from assistant.steps import WORDS_GRAMMAR

    assert scripted.requests[1]["grammar"] == WORDS_GRAMMAR and "grammar" not in scripted.requests[0]


async def test_small_talk_answered_with_json_of_no_tool_is_asked_again_in_words(scripted: ScriptedServer) -> None:
    """"hello" got `{"name": "hello!", "arguments": {"name": "world"}}`: a tool that does not exist, so
    no call is recognised; an answer that must be words and starts a JSON object is asked for again."""
    from assistant.events import TextDelta
    from assistant.steps import IN_WORDS

    agent = grammar_agent(scripted, files_tools([]))
    scripted.script(text('{"name": "hello!", "arguments": {"name": "world"}}'), text("Hello!"))
    events = await run(agent, "hello")
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Hello!"
    assert scripted.requests[1]["messages"][-1]["content"].endswith(IN_WORDS)
    # an answer in words streams as it comes, with no second request
    scripted.script(text("Hi! What are we working on?", pieces=4))
    events = await run(agent, "hi")
    assert isinstance(events[-1], TurnEnd) and events[-1].text == "Hi! What are we working on?"
    assert len(scripted.requests) == 3


async def test_an_answer_full_of_calls_runs_at_most_two_of_them(scripted: ScriptedServer) -> None:
    """On a held-out chain the 0.5B's answer held 70-odd copies of read_file("settings.yml"), and
    every one ran: at most two different calls recognised in one answer run."""
    seen: list[str] = []
    agent = grammar_agent(scripted, files_tools(seen))
    calls = "\n".join(json.dumps({"name": "read_file", "arguments": {"path": p}})
                      for p in ["a.txt", "a.txt", "b.txt", "c.txt", "d.txt"])  # fmt: skip
    scripted.script(answer_start("I"), text(calls), answer_start("Done"), text("Done."))
    await run(agent, "hmm, look at the text files")
    assert seen == ["a.txt", "b.txt"]


def test_an_edits_free_text_is_bounded_and_a_new_file_is_not() -> None:
    from assistant.steps import _bounded_text

    def tool(name: str, *args: str) -> dict[str, Any]:
        props = {a: {"type": "string"} for a in args}
        return {"type": "function", "function": {"name": name, "parameters": {"type": "object", "properties": props}}}

    edit, write = _bounded_text([tool("edit_file", "path", "old_text", "new_text"),
                                 tool("write_file", "path", "content")])  # fmt: skip
    props = edit["function"]["parameters"]["properties"]
    assert props["new_text"]["maxLength"] == props["old_text"]["maxLength"] == 1500 and "maxLength" not in props["path"]
    assert "maxLength" not in write["function"]["parameters"]["properties"]["content"]


async def test_a_question_answered_from_results_with_a_call_is_asked_again_in_words(
    scripted: ScriptedServer, model_decides: None
) -> None:
    """ "which functions round their result?": after the search the 0.5B answered `{"name": "round", ...}`.
    A question's answer from this turn's results is words: the call is neither run nor shown, and the
    same ask is sent again under the words-only grammar."""
    from assistant.events import TextDelta
    from assistant.steps import WORDS_GRAMMAR

    seen: list[str] = []
    agent = grammar_agent(scripted, files_tools(seen))
    scripted.script(starts_call(), call_json("read_file", {"path": "todo.txt"}),
                    answer_start("The"), text('{"name": "list_files", "arguments": {}}'),
                    text("Two items: buy milk and fix the percent bug."))  # fmt: skip
    events = await run(agent, "what's on my todo list in todo.txt?")
    assert seen == ["todo.txt"]  # the read ran; the call written as the answer did not
    shown = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert shown == "Two items: buy milk and fix the percent bug." and '"name"' not in shown
    retry = scripted.requests[-1]
    assert retry["grammar"] == WORDS_GRAMMAR and retry["messages"] == scripted.requests[-2]["messages"]


async def test_a_change_to_the_code_the_previous_answer_wrote_is_answered_in_words(
    scripted: ScriptedServer, tmp_path: Any
) -> None:
    """ "nice, now have it return an empty string when it's given None", after a function written in the
    answer: the 0.5B read a file of the workspace (t11-036). Naming a file still works on it."""
    (tmp_path / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    seen: list[str] = []
    agent = grammar_agent(scripted, files_tools(seen))
    agent.workspace = tmp_path
    wrote = "```python\ndef shout(s):\n    return s.upper()\n```"
    scripted.script(text(wrote), text("```python\ndef shout(s):\n    return '' if s is None else s.upper()\n```"))
    await run(agent, "write me a python function that upper-cases a string")
    events = await run(agent, "nice, now have it return an empty string when it's given None")
    assert seen == [] and [e.why for e in events if isinstance(e, Decision)] == [
        "a change to the code the previous answer wrote"
    ]
    assert "grammar" not in scripted.requests[-1]
    from assistant.firststep import code_just_written

    said = [{"role": "user", "content": "write it"}, {"role": "assistant", "content": wrote},
            {"role": "user", "content": "now have it return ''"}]  # fmt: skip
    assert code_just_written(said) and not code_just_written(said[:1] + said[2:])
    used = [said[0], {"role": "assistant", "content": None, "tool_calls": [{"id": "1"}]},
            {"role": "tool", "content": "x"}, {"role": "assistant", "content": wrote}, said[2]]  # fmt: skip
    assert not code_just_written(used)  # that turn used a tool: "have it ..." may mean the file


async def test_new_inputs_after_the_app_ran_run_it_again(scripted: ScriptedServer, tmp_path: Any) -> None:
    """ "ok do 60 between the two of us with a 10% tip", after the app ran: the intent classifier answered
    in words (0.84, t11-020). The same program runs, the model writing only the new inputs."""
    from assistant.followup import run_again

    seen: list[str] = []
    reg = files_tools(seen)

    @reg.function
    def run_command(command: str) -> str:
        """Run a shell command."""
        seen.append(command)
        return "Each pays 33.00"

    agent = grammar_agent(scripted, reg)
    agent.workspace = tmp_path
    again = {"command": "python -m tipcalc 60 --people 2 --tip 10"}
    scripted.script(call_json("run_command", {"command": "python -m tipcalc 84.50 --people 3"}), answer_start("32"),
                    text("32.39 each."), call_json("run_command", again), answer_start("33"),
                    text("33.00 each."))  # fmt: skip
    await run(agent, "run python -m tipcalc 84.50 --people 3")
    asked = len(scripted.requests)
    events = await run(agent, "ok do 60 between the two of us with a 10% tip")
    assert seen[-1] == "python -m tipcalc 60 --people 2 --tip 10"
    assert next(e.why for e in events if isinstance(e, Decision)) == "gives python -m tipcalc new inputs"
    assert "python -m tipcalc " in scripted.requests[asked]["grammar"]  # the command's head is given
    history = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hello"},
               {"role": "user", "content": "now try 60 with 2 people"}]  # fmt: skip
    assert run_again("now try 60 with 2 people", history) is None  # nothing ran before


def test_numbers_after_asking_how_to_use_the_app_run_it() -> None:
    """ "how do i use this thing to split a bill?" then "ok do 60 between the two of us with a 10% tip":
    the classifier answered in words (t11-020); the app runs, with the inputs the model writes."""
    from assistant.followup import run_again

    said = "ok do 60 between the two of us with a 10% tip"
    history = [{"role": "user", "content": "how do i use this thing to split a bill?"},
               {"role": "assistant", "content": "Run python -m tipcalc BILL."},
               {"role": "user", "content": said}]  # fmt: skip
    assert run_again(said, history, lambda: ("python -m tipcalc",)) == "python -m tipcalc"
    assert run_again(said, history) is None  # no app in the workspace
    chat = [{"role": "user", "content": "what's a good tip in the US?"}, *history[1:]]
    assert run_again(said, chat, lambda: ("python -m tipcalc",)) is None  # that turn asked nothing of it
    # the previous turn's run, folded into its message (small models), is read like a native call
    ran = ('run it\n\n[Answer my request using these tool results:]\n\n'
           '[The tool call run_command({"command": "python -m tipcalc 50"}) returned:]\nok')  # fmt: skip
    folded = [{"role": "user", "content": ran}, {"role": "assistant", "content": "25 each."},
              {"role": "user", "content": "now try 70 with 4 people"}]  # fmt: skip
    assert run_again("now try 70 with 4 people", folded) == "python -m tipcalc"
    # only a Python program runs again: not a one-word command (it raised IndexError), a shell command
    # the model ran before, or the tests
    for before in ("ls", "rm -rf build", "python -m pytest -q"):
        other = [{"role": "user", "content": ran.replace("python -m tipcalc 50", before)}, *folded[1:]]
        assert run_again("now try 70 with 4 people", other) is None, before


async def test_a_new_function_goes_after_the_definition_whose_line_was_chosen(tmp_path: Any) -> None:
    """ "add safe_divide(a, b, default=0.0) to calc ... leave divide alone": the 0.5B chose the line
    `def divide(...):`, and safe_divide went between divide's head and its body (t12-020)."""
    from assistant.codewords import addition
    from assistant.grounding import ADD_CODE

    divide = "@cache\ndef divide(a, b):\n    if b == 0:\n        raise ZeroDivisionError\n\n    return a / b"
    (tmp_path / "calc.py").write_text(f"import x\n\n\n{divide}\n\n\nclass K:\n    pass\n")
    messages = [{"role": "user", "content": "add safe_divide"}]
    new = "def safe_divide(a, b, default=0.0):\n    return default if b == 0 else a / b"
    for anchor in ("def divide(a, b):", "        raise ZeroDivisionError", "@cache\ndef divide(a, b):"):
        args = json.dumps({"path": "calc.py", "old_text": anchor, "new_text": ADD_CODE})
        done = json.loads(await addition(CodeReplies(new), tmp_path, messages, args, {}))
        assert done["old_text"] == divide and done["new_text"] == f"{divide}\n\n\n{new}", anchor
    for anchor in ("    return a / b", "import x", "    pass"):  # the end of a definition, or outside one
        args = json.dumps({"path": "calc.py", "old_text": anchor, "new_text": ADD_CODE})
        done = json.loads(await addition(CodeReplies(new), tmp_path, messages, args, {}))
        assert done["old_text"] == anchor and done["new_text"] == f"{anchor}\n\n\n{new}", anchor
