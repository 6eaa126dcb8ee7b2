"""Attachments (ask -a, /attach, bot.stream(attachments=...)): text fragments, images as content
parts for a model that takes them, refusals before any request."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from assistant import Assistant
from assistant.attachments import AttachmentError, load_file
from tests.scripted_server import Reply, ScriptedServer, text
from tests.test_cli import run
from tests.test_commands import _plain_chat

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
LLAMA_PROPS = {"default_generation_settings": {"n_ctx": 4096}, "build_info": "b1-test"}


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "notes.md").write_text("# Notes\nThe launch code is TANGERINE-7.\n")
    (tmp_path / "pic.png").write_bytes(PNG)
    (tmp_path / "blob.bin").write_bytes(b"\x01\x02\x00\x03")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    return tmp_path


def test_load_file_kinds_and_refusals(files: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    note = load_file(files / "notes.md")
    assert note.kind == "text" and "TANGERINE-7" in note.text
    assert note.fragment().startswith(f"[Attached: {files / 'notes.md'}]\n# Notes")
    pic = load_file(files / "pic.png")
    assert (pic.kind, pic.mime, pic.data) == ("image", "image/png", PNG)
    assert pic.content_part()["image_url"]["url"] == "data:image/png;base64," + base64.b64encode(PNG).decode()
    for name, why in (("blob.bin", "binary data"), ("latin1.txt", "not UTF-8"), ("missing.txt", "No such file"),
                      (".", "not a regular file")):  # fmt: skip
        with pytest.raises(AttachmentError, match=why):
            load_file(files / name)
    monkeypatch.setattr("assistant.attachments.MAX_TEXT_BYTES", 10)
    with pytest.raises(AttachmentError, match="more than 10"):
        load_file(files / "notes.md")


async def test_text_attachment_is_a_fragment_with_its_own_source(scripted: ScriptedServer, files: Path) -> None:
    scripted.script(text("TANGERINE-7."), text("Hello."))
    async with Assistant(base_url=scripted.base_url, model="m", history=False, mcp=False) as bot:
        events = [e async for e in bot.stream("What is the launch code?", attachments=[files / "notes.md"])]
        report = bot.last_report
        await bot.ask("hi")  # the next turn carries no attachment
        later = bot.last_report
    assert events and report is not None and later is not None
    user = scripted.requests[0]["messages"][-1]["content"]
    assert user.startswith(f"[Attached: {files / 'notes.md'}]\n# Notes\nThe launch code is TANGERINE-7.")
    assert user.endswith("What is the launch code?")
    assert report.sources["attachments"].messages == 1 and report.sources["attachments"].tokens > 5
    assert report.attached == [str(files / "notes.md")]
    later_users = [m["content"] for m in scripted.requests[1]["messages"] if m["role"] == "user"]
    assert later_users == ["What is the launch code?", "hi"], "history keeps the message as typed"
    assert later.sources["attachments"].tokens == 0


async def test_image_goes_as_a_content_part_to_a_vision_model(scripted: ScriptedServer, files: Path) -> None:
    scripted.props = {**LLAMA_PROPS, "modalities": {"vision": True}}
    scripted.script(text("A black square."))
    async with Assistant(base_url=scripted.base_url, model="m", history=False, mcp=False) as bot:
        await consume(bot.stream("What is in it?", attachments=[files / "pic.png", files / "notes.md"]))
    content = scripted.requests[0]["messages"][-1]["content"]
    assert content[0]["type"] == "text" and content[0]["text"].endswith("What is in it?")
    assert "TANGERINE-7" in content[0]["text"]
    assert content[1] == {"type": "image_url", "image_url": {"url": "data:image/png;base64," +
                                                             base64.b64encode(PNG).decode()}}  # fmt: skip


async def consume(events: Any) -> list[Any]:
    return [e async for e in events]


async def test_image_refused_before_the_request_for_a_text_only_model(scripted: ScriptedServer, files: Path) -> None:
    scripted.props = {**LLAMA_PROPS, "modalities": {"vision": False}}
    async with Assistant(base_url=scripted.base_url, model="m", history=False, mcp=False) as bot:
        with pytest.raises(AttachmentError, match=r"m takes no images, so .*pic\.png cannot be attached"):
            await bot.ask("What is in it?", attachments=[files / "pic.png"])
        assert bot.conversation.messages == [], "nothing saved"
    assert scripted.requests == []


def test_cli_attach_text(scripted: ScriptedServer, files: Path) -> None:
    scripted.script(text("TANGERINE-7"))
    proc = run("ask", "-a", str(files / "notes.md"), "code?", "--base-url", scripted.base_url, "-m", "m")
    assert proc.returncode == 0, proc.stderr
    assert "TANGERINE-7" in scripted.requests[0]["messages"][-1]["content"]


def test_cli_bad_attachments_are_one_line(scripted: ScriptedServer, files: Path) -> None:
    proc = run("ask", "-a", str(files / "blob.bin"), "x", "--base-url", scripted.base_url, "-m", "m")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "binary data" in proc.stderr
    assert "nothing was sent" in proc.stderr
    scripted.props = {**LLAMA_PROPS, "modalities": {"vision": False}}
    proc = run("ask", "-a", str(files / "pic.png"), "x", "--base-url", scripted.base_url, "-m", "m", "--no-tools")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.splitlines()[-1].startswith("error: m takes no images")
    assert scripted.requests == []


async def test_slash_attach(files: Path) -> None:
    from tests.test_mcp_features import chat_session

    session = chat_session(None, vision=False)
    for name in ("notes.md", "pic.png", "blob.bin"):
        await session.commands.run(session, f"/attach {files / name}")
    assert [a.name for a in session.pending_attachments] == [str(files / "notes.md")]
    out = session.console.file.getvalue()
    assert "takes no images" in out and "binary data" in out
    await session.commands.run(session, "/attach clear")
    assert session.pending_attachments == []


@pytest.mark.parametrize(
    ("props", "shown"),
    [({**LLAMA_PROPS, "modalities": {"vision": True, "audio": False}},
      "images: yes (the endpoint's /props says modalities.vision is true)"),
     ({**LLAMA_PROPS, "modalities": {"vision": False, "video": False, "audio": False}},  # what our build says
      "images: no (the endpoint's /props says modalities.vision is false)"),
     (LLAMA_PROPS, "images: unknown (this llama-server's /props has no modalities"),
     (None, "images: unknown (the endpoint does not say; images are sent and the endpoint decides)")],
)  # fmt: skip
def test_models_and_slash_model_say_whether_images_go_and_how_we_know(
    scripted: ScriptedServer, props: dict[str, Any] | None, shown: str
) -> None:
    scripted.props = props
    proc = run("models", env={"OPENAI_BASE_URL": scripted.base_url, "ASSISTANT_MODEL": "m"})
    assert proc.returncode == 0, proc.stderr
    assert f"  {shown}" in proc.stdout
    chat = _plain_chat(scripted, ["/model", "/quit"])
    assert chat.returncode == 0 and shown in chat.stderr, chat.stderr


def test_local_model_profile_says_no_images() -> None:
    proc = run("models")
    assert proc.returncode == 0, proc.stderr
    assert "images: no (the local llama-server runs without a vision projector (--mmproj))" in proc.stdout


def test_unknown_vision_sends_the_image_and_shows_the_endpoint_error_in_one_line(
    scripted: ScriptedServer, files: Path
) -> None:
    refusal = {"error": {"message": "Invalid content type. image_url is only supported by certain models.",
                         "type": "invalid_request_error", "code": None}}  # fmt: skip
    scripted.models = ["m"]
    scripted.script(Reply(kind="status", status=400, body=refusal), text("Hello."))
    chat = _plain_chat(scripted, [f"/attach {files / 'pic.png'}", "What is in it?", "hi", "/quit"])
    assert chat.returncode == 0, chat.stderr
    assert "Traceback" not in chat.stderr
    sent = scripted.requests[0]["messages"][-1]["content"]
    assert sent[1]["type"] == "image_url", "unknown: the image is sent and the endpoint decides"
    refused = [line for line in chat.stderr.splitlines() if "image_url is only supported" in line]
    assert len(refused) == 1 and "HTTP 400" in refused[0], chat.stderr
    assert "Hello." in chat.stdout
    later = [m for m in scripted.requests[1]["messages"] if m["role"] == "user"]
    assert later[-1]["content"] == "hi" and all(isinstance(m["content"], str) for m in later), "no image carried over"


@pytest.mark.slow
async def test_local_model_reads_an_attachment_and_refuses_an_image(local_data: Path, files: Path) -> None:
    async with Assistant(temperature=0.0, max_tokens=60, history=False, mcp=False) as bot:
        with pytest.raises(AttachmentError, match="takes no images"):
            await bot.ask("What is in this picture?", attachments=[files / "pic.png"])
        answer = await bot.ask("What is the launch code in my notes?", attachments=[files / "notes.md"])
    assert "TANGERINE-7" in answer
