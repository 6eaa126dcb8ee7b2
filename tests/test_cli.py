"""The real `assistant` command in a subprocess, against the scripted server."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pexpect
import pytest

from tests.scripted_server import Reply, ScriptedServer, text, tool_calls
from tests.sigint import default_sigint


def _spawn(*args, **kwargs):  # type: ignore[no-untyped-def]
    """pexpect.spawn with Ctrl-C working even when this run was started with SIGINT ignored."""
    return pexpect.spawn(*args, preexec_fn=default_sigint, **kwargs)


def run(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "assistant", *args],
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def assert_one_line_error(proc: subprocess.CompletedProcess[str], needle: str) -> None:
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert needle in lines[0]


def test_ask_streams_answer(scripted: ScriptedServer) -> None:
    scripted.script(text("Four."))
    proc = run("ask", "What is 2+2?", "--base-url", scripted.base_url, "--model", "m")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "Four.\n"
    assert scripted.requests[0]["messages"][-1] == {"role": "user", "content": "What is 2+2?"}


def test_ask_reads_piped_stdin_and_env(scripted: ScriptedServer) -> None:
    scripted.script(text("It prints hello."))
    env = {"OPENAI_BASE_URL": scripted.base_url, "ASSISTANT_MODEL": "m", "OPENAI_API_KEY": "sk-test"}
    proc = run("ask", "Explain:", stdin="print('hello')\n", env=env)
    assert proc.returncode == 0, proc.stderr
    assert scripted.requests[0]["messages"][-1]["content"] == "Explain:\n\nprint('hello')"
    assert scripted.headers[0]["authorization"] == "Bearer sk-test"


def test_ask_model_defaults_to_first_listed(scripted: ScriptedServer) -> None:
    scripted.models = ["only-model"]
    scripted.script(text("hi"))
    proc = run("ask", "hello", "--base-url", scripted.base_url)
    assert proc.returncode == 0, proc.stderr
    assert scripted.requests[0]["model"] == "only-model"


def test_ask_json_events(scripted: ScriptedServer) -> None:
    scripted.script(text("a b"))
    proc = run("ask", "x", "--json", "--base-url", scripted.base_url, "-m", "m")
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    kinds = [e["kind"] for e in events]
    assert kinds[0] == "profile" and kinds[1] == "step_start" and kinds[-1] == "turn_end"
    assert events[0]["tool_calls"] == "native" and events[0]["model"] == "m"  # a plain OpenAI-compatible server
    assert "".join(e["text"] for e in events if e["kind"] == "text") == "a b"
    assert "usage" in kinds and "timing" in kinds


def test_ask_tool_activity_on_stderr(scripted: ScriptedServer) -> None:
    # a call to an unknown tool goes back to the model as an error
    scripted.script(tool_calls(("fetch_url", {"url": "x"})), text("I cannot read files."))
    proc = run("ask", "read x", "--base-url", scripted.base_url, "-m", "m")
    assert proc.returncode == 0
    assert proc.stdout == "I cannot read files.\n"
    assert "fetch_url" in proc.stderr and "no tool named" in proc.stderr


def test_unreachable_endpoint_one_line() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = run("ask", "hi", "--base-url", f"http://127.0.0.1:{port}/v1", "-m", "m")
    assert_one_line_error(proc, f"127.0.0.1:{port}")


def test_401_one_line(scripted: ScriptedServer) -> None:
    scripted.script(Reply(kind="status", status=401, body={"error": {"message": "bad key"}}))
    proc = run("ask", "hi", "--base-url", scripted.base_url, "-m", "m", "--api-key", "sk-bad")
    assert_one_line_error(proc, "refused the API key")


def test_wrong_model_lists_models_one_line(scripted: ScriptedServer) -> None:
    scripted.models = ["alpha", "beta"]
    scripted.script(Reply(kind="status", status=404, body={"error": {"message": "model not found"}}))
    proc = run("ask", "hi", "--base-url", scripted.base_url, "-m", "gamma")
    assert_one_line_error(proc, "It offers: alpha, beta")


def test_html_reply_one_line(scripted: ScriptedServer) -> None:
    scripted.script(Reply(kind="html"))
    proc = run("ask", "hi", "--base-url", scripted.base_url, "-m", "m")
    assert_one_line_error(proc, "HTML")


def test_corrupt_config_one_line(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text('[profiles.a]\nbase_url = "http://x/v1"\nmodel = = "m"\n')
    proc = run("ask", "hi", env={"ASSISTANT_CONFIG": str(cfg)})
    assert_one_line_error(proc, "line 3")
    assert str(cfg) in proc.stderr


def test_nothing_to_ask_exit_2() -> None:
    proc = run("ask")
    assert proc.returncode == 2 and "nothing to ask" in proc.stderr


def test_help_is_fast_and_lists_commands() -> None:
    proc = run("--help")
    assert proc.returncode == 0
    for cmd in ("chat", "ask", "models", "serve"):
        assert cmd in proc.stdout


def wait_prompt(child: pexpect.spawn) -> None:
    """The prompt is drawn; give prompt_toolkit a moment to switch the terminal to raw mode."""
    child.expect("you>")
    time.sleep(0.3)


def spawn_chat(server: ScriptedServer, dimensions: tuple[int, int] = (40, 120)) -> pexpect.spawn:
    child = _spawn(
        sys.executable,
        ["-m", "assistant", "chat", "--base-url", server.base_url, "-m", "m"],
        encoding="utf-8",
        timeout=20,
        env={**os.environ, "TERM": "xterm-256color", "PROMPT_TOOLKIT_NO_CPR": "1"},
        dimensions=dimensions,
    )
    wait_prompt(child)
    return child


def test_chat_repl_two_turns_and_exit(scripted: ScriptedServer) -> None:
    scripted.script(text("Hello human."), text("You said hi before."))
    child = spawn_chat(scripted)
    child.send("hi" + "\r")
    child.expect("Hello human.")
    wait_prompt(child)
    child.send("what did I say?" + "\r")
    child.expect("You said hi before.")
    wait_prompt(child)
    child.send("/exit" + "\r")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert [m["content"] for m in scripted.requests[1]["messages"][1:]] == ["hi", "Hello human.", "what did I say?"]


def test_chat_ctrl_c_cancels_answer_and_keeps_chatting(scripted: ScriptedServer) -> None:
    slow = text(" ".join(f"word{i}" for i in range(200)), delay=0.05)
    scripted.script(slow, text("Still here."))
    child = spawn_chat(scripted)
    child.send("long answer please" + "\r")
    child.expect("word5 ")
    child.sendintr()
    child.expect("interrupted")
    wait_prompt(child)
    child.send("/nwe" + "\r")
    child.expect("Did you mean /new")
    child.send("still there?" + "\r")
    child.expect("Still here.")
    wait_prompt(child)
    child.sendeof()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    partial = scripted.requests[1]["messages"][2]
    assert partial["role"] == "assistant" and partial["content"].startswith("word0 word1")
    assert "interrupted" in partial["content"]


@pytest.mark.parametrize("sig", ["SIGTERM"])
def test_chat_sigterm_exits_cleanly(scripted: ScriptedServer, sig: str) -> None:
    child = spawn_chat(scripted)
    child.kill(15)
    child.expect(pexpect.EOF)
    child.close()
    assert "Traceback" not in (child.before or "")


def test_history_continue_list_show_rm(scripted: ScriptedServer) -> None:
    scripted.script(text("Hi Zed."), text("Your name is Zed."))
    base = ["--base-url", scripted.base_url, "-m", "m", "--no-tools"]
    assert run("ask", "My name is Zed.", *base).returncode == 0
    proc = run("ask", "What is my name?", "--continue", *base)
    assert proc.returncode == 0, proc.stderr
    assert [m["content"] for m in scripted.requests[1]["messages"][1:]] == [
        "My name is Zed.", "Hi Zed.", "What is my name?",
    ]  # fmt: skip
    listing = run("history", "list").stdout.splitlines()
    assert len(listing) == 2 and "My name is Zed." in listing[1] and " 4 " in listing[1]
    cid = listing[1].split()[0]
    shown = run("history", "show", cid[:5]).stdout
    assert "--- 3 user\nWhat is my name?" in shown and "Your name is Zed." in shown
    assert run("history", "rm", cid).returncode == 0
    assert run("history", "list").stdout.strip() == "No conversations yet."
    missing = run("history", "show", "nope")
    assert missing.returncode == 1 and "No conversation 'nope'" in missing.stderr


def test_chat_context_command_shows_history_tokens(scripted: ScriptedServer) -> None:
    scripted.script(text("One."), text("Two."))
    child = spawn_chat(scripted)
    for question in ("first question", "second question"):
        child.send(question + "\r")
        wait_prompt(child)
    child.send("/context" + "\r")
    child.expect(r"history \(earlier turns\)\W+(\d+)\W+(\d+)")
    assert int(child.match.group(1)) == 2 and int(child.match.group(2)) > 0
    child.expect(r"counted\s+with\s+an\s+estimate")
    child.expect(r"Re-sent:\s+(\d+)")
    assert int(child.match.group(1)) > 0  # the cost of statelessness: turn one went out again
    child.send("/exit" + "\r")
    child.expect(pexpect.EOF)


def test_ask_trace_file_records_the_wire(scripted: ScriptedServer, tmp_path: Path) -> None:
    scripted.script(tool_calls(("current_time", {})), text("It is now."))
    trace = tmp_path / "t.jsonl"
    proc = run("ask", "time?", "--base-url", scripted.base_url, "-m", "m", "--api-key", "sk-secret",
               "--trace", str(trace))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in trace.read_text().splitlines()]
    kinds = [r["type"] for r in records]
    assert kinds.count("request") == 2 and kinds.count("response") == 2 and "tool_call" in kinds
    req = next(r for r in records if r["type"] == "request")
    assert req["headers"]["authorization"] == "Bearer ***" and "sk-secret" not in trace.read_text()
    assert req["body"]["messages"][-1]["content"] == "time?" and req["body"]["stream"] is True
    times = [r["t"] for r in records if r["type"] == "sse"]
    assert len(times) >= 4 and times == sorted(times)
    shown = run("trace", "show", str(trace))
    assert shown.returncode == 0
    assert "1 user turn(s), 2 API call(s)" in shown.stdout
    assert "one response, its body a stream of events" in shown.stdout
    assert "(that turn took 2 API call(s))" in shown.stdout


def test_ask_trace_unwritable_is_one_line(scripted: ScriptedServer) -> None:
    proc = run("ask", "hi", "--base-url", scripted.base_url, "-m", "m", "--trace", "/dev/null/trace.jsonl")
    assert_one_line_error(proc, "Cannot write the trace file")


def test_ask_no_stream_and_logprobs(scripted: ScriptedServer) -> None:
    scripted.script(text("Red fox jumps."))
    proc = run("ask", "x", "--base-url", scripted.base_url, "-m", "m", "--no-stream", "--logprobs", "--no-tools")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "Red fox jumps.\n"
    assert scripted.requests[0]["logprobs"] is True and scripted.requests[0]["top_logprobs"] == 5
    assert "token by token" in proc.stderr and "Red fox jumps." in proc.stderr.replace("\n", "")


def test_chat_trace_tokens_and_retry(scripted: ScriptedServer, tmp_path: Path) -> None:
    scripted.script(text("First answer."), text("Second answer."))
    trace = tmp_path / "chat.jsonl"
    child = spawn_chat(scripted)
    child.send(f"/trace on {trace}\r")
    child.expect("Tracing to")
    wait_prompt(child)
    child.send("hello\r")
    child.expect("First answer.")
    wait_prompt(child)
    child.send("/tokens 1\r")  # the scripted server sends logprobs only when asked: not for this endpoint
    child.expect("logprobs are off for this endpoint")
    wait_prompt(child)
    child.send("/retry\r")
    child.expect("Second answer.")
    wait_prompt(child)
    child.send("/trace off\r")
    child.expect("Trace off")
    wait_prompt(child)
    child.send("/exit\r")
    child.expect(pexpect.EOF)
    records = [json.loads(line) for line in trace.read_text().splitlines()]
    sse = [r["t"] for r in records if r["type"] == "sse"]
    assert sse == sorted(sse) and len(sse) >= 4
    # /retry replaced the first answer: the second request has no trace of it
    assert [m["content"] for m in scripted.requests[1]["messages"][1:]] == ["hello"]


def test_chat_narrow_terminal_empty_answer_and_bad_arguments(scripted: ScriptedServer) -> None:
    scripted.script(text(""), text("A fine answer that is much wider than twenty columns."))
    child = spawn_chat(scripted, dimensions=(24, 20))
    child.send("say nothing\r")
    child.expect("1 request")  # an empty answer still ends the turn cleanly
    wait_prompt(child)
    child.send("/context sideways\r")
    child.expect("Usage:")
    wait_prompt(child)
    child.send("/tokens abc\r")
    child.expect("probabilities|/tokens,")  # words wrap (with colour codes) at 20 columns
    wait_prompt(child)
    child.send("now answer\r")
    child.expect("wider")
    wait_prompt(child)
    child.send("/exit\r")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


@pytest.mark.slow
def test_chat_on_the_local_model(local_data: Path) -> None:
    child = _spawn(
        sys.executable,
        ["-m", "assistant", "chat", "-t", "0"],
        encoding="utf-8",
        timeout=300,
        env={**os.environ, "TERM": "xterm-256color", "PROMPT_TOOLKIT_NO_CPR": "1"},
        dimensions=(40, 120),
    )
    wait_prompt(child)
    child.send("What is the capital of France? One word.\r")
    child.expect("Paris")
    wait_prompt(child)
    child.send("/context\r")
    child.expect(r"counted\s+with\s+llama-server's\s+tokenizer")
    wait_prompt(child)
    child.send("/tokens\r")  # llama-server sends no logprobs when tools are offered: said plainly
    child.expect("green ≥ 90%|no logprobs for requests that offer tools")
    wait_prompt(child)
    child.send("/exit\r")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
