"""Findings 3 and 11: ways out of the `run` sandbox (and the evals' one, the same module).

Every probe first checks that the sandbox is really bubblewrap (the project installs it), so a
missing sandbox is a failure, never a probe that runs unconfined on the host. Probes that would
change the host if they got through write back what is already there.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from assistant.evals.sandbox import Sandbox, eval_limits
from assistant.toolservers.sandbox import Isolation, Limits, RunResult, detect_isolation, run_sandboxed

LIMITS = Limits(time_s=20.0, memory_mb=600, max_procs=40, output_bytes=20_000)


@pytest.fixture(scope="module")
def iso() -> Isolation:
    found = detect_isolation("auto")
    assert found.kind == "bwrap", f"the sandbox is not in force: {found.reason}"
    assert found.seccomp and found.cgroups == (os.geteuid() == 0 or found.cgroups)
    return found


async def sh(iso: Isolation, ws: Path, command: str, limits: Limits = LIMITS, **env: str) -> RunResult:
    environ = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", **env} if env else None
    return await run_sandboxed(["/bin/sh", "-c", command], root=ws, cwd=ws, limits=limits, isolation=iso, env=environ)


def exists(path: str) -> bool:
    return os.path.exists(path)


def host(*argv: str) -> str:
    return subprocess.run(argv, capture_output=True, text=True).stdout.strip()


def out(result: RunResult) -> str:
    return result.stdout.decode(errors="replace") + result.stderr.decode(errors="replace")


async def test_no_capabilities_and_no_new_privileges(iso: Isolation, ws: Path) -> None:
    result = await sh(iso, ws, "grep -E '^(CapEff|CapPrm|CapBnd|CapAmb|NoNewPrivs)' /proc/self/status")
    lines = dict(line.split(":\t") for line in result.stdout.decode().splitlines())
    assert all(lines[k] == "0000000000000000" for k in ("CapEff", "CapPrm", "CapBnd", "CapAmb")), lines
    assert lines["NoNewPrivs"] == "1"


async def test_remount_root_read_write_is_refused(iso: Isolation, ws: Path, tmp_path: Path) -> None:
    host_file = tmp_path / "host.txt"
    host_file.write_text("untouched")
    result = await sh(iso, ws, f"mount -o remount,rw,bind / && echo REMOUNTED; echo owned > {host_file}")
    assert "REMOUNTED" not in out(result)
    assert host_file.read_text() == "untouched"


async def test_proc_sys_is_not_writable(iso: Isolation, ws: Path) -> None:
    path = "/proc/sys/kernel/core_pattern"  # written with its own value: harmless if it got through
    result = await sh(iso, ws, f"cat {path} > /tmp/v && cat /tmp/v > {path} && echo WROTE")
    assert "WROTE" not in out(result)


@pytest.mark.parametrize("target", ["/usr/assistant-probe", "/etc/assistant-probe", "/var/tmp/assistant-probe"])
async def test_writes_outside_the_workspace_are_refused(iso: Isolation, ws: Path, target: str) -> None:
    result = await sh(iso, ws, f"echo x > {target} && echo WROTE")
    assert "WROTE" not in out(result) and not exists(target)


async def test_tmp_is_private(iso: Isolation, ws: Path) -> None:
    name = f"/tmp/assistant-probe-{uuid.uuid4().hex}"
    result = await sh(iso, ws, f"echo x > {name} && echo WROTE")
    assert "WROTE" in out(result) and not exists(name)


async def test_the_workspace_is_writable(iso: Isolation, ws: Path) -> None:
    result = await sh(iso, ws, "echo made > made.txt && cat notes.txt")
    assert result.exit_code == 0 and (ws / "made.txt").read_text() == "made\n"


@pytest.fixture
def home_secret() -> Iterator[Path]:
    secret = Path.home() / f".assistant-probe-secret-{uuid.uuid4().hex[:8]}"
    secret.write_text("TOPSECRET")
    try:
        yield secret
    finally:
        secret.unlink()


async def test_home_is_hidden(iso: Isolation, ws: Path, home_secret: Path) -> None:
    result = await sh(iso, ws, f"cat {home_secret}; ls -a {Path.home()}")
    assert "TOPSECRET" not in out(result) and home_secret.name not in result.stdout.decode()


@pytest.mark.parametrize("path", ["/etc/shadow", "/etc/gshadow"])
async def test_system_secrets_are_unreadable(iso: Isolation, ws: Path, path: str) -> None:
    if not exists(path):
        pytest.fail(f"{path} is expected on Debian")
    result = await sh(iso, ws, f"cat {path}")
    assert ":" not in result.stdout.decode()


async def test_no_network(iso: Isolation, ws: Path) -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        code = f"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=2); print('CONNECTED')"
        result = await sh(iso, ws, f"python3 -c \"{code}\"")
    assert "CONNECTED" not in out(result)


def unix_server(path: Path) -> socket.socket:
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.listen()
    return server


async def test_host_unix_socket_in_the_workspace_is_unreachable(iso: Isolation, ws: Path) -> None:
    with unix_server(ws / "agent.sock"):
        code = "import socket; s = socket.socket(socket.AF_UNIX); s.connect('agent.sock'); print('CONNECTED')"
        result = await sh(iso, ws, f"python3 -c \"{code}\"")
    assert "CONNECTED" not in out(result) and "Permission denied" in out(result)


async def test_host_sockets_under_run_are_hidden(iso: Isolation, ws: Path) -> None:
    result = await sh(iso, ws, "ls -A /run | wc -l")
    assert result.stdout.decode().strip() == "0"


async def test_io_uring_is_refused(iso: Isolation, ws: Path) -> None:
    code = ("import ctypes, os; libc = ctypes.CDLL(None, use_errno=True); "
            "r = libc.syscall(425, 8, ctypes.create_string_buffer(120)); "
            "print('RESULT', r, ctypes.get_errno())")  # fmt: skip
    result = await sh(iso, ws, f"python3 -c \"{code}\"")
    assert "RESULT -1 1" in out(result), out(result)


async def test_no_nested_user_namespaces(iso: Isolation, ws: Path) -> None:
    result = await sh(iso, ws, "unshare -U -r id && echo NESTED")
    assert "NESTED" not in out(result)


async def test_host_processes_are_invisible_and_unkillable(iso: Isolation, ws: Path) -> None:
    me = os.getpid()
    result = await sh(iso, ws, f"ls /proc | grep -c '^[0-9]'; kill -0 {me} && echo SEEN")
    assert "SEEN" not in out(result)
    assert int(result.stdout.decode().split()[0]) < 10


async def test_no_host_devices(iso: Isolation, ws: Path) -> None:
    result = await sh(iso, ws, "ls /dev")
    names = set(result.stdout.decode().split())
    assert {"null", "zero", "urandom"} <= names and not any(n.startswith(("sd", "vd", "nvme", "mem")) for n in names)


async def test_no_secrets_in_the_environment(iso: Isolation, ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-probe-secret")
    result = await run_sandboxed(["/bin/sh", "-c", "env"], root=ws, cwd=ws, limits=LIMITS, isolation=iso)
    assert "sk-probe-secret" not in out(result)


async def test_a_fork_bomb_stops_at_the_process_limit(iso: Isolation, ws: Path) -> None:
    code = ("import subprocess\nprocs = []\ntry:\n    for _ in range(400):\n"
            "        procs.append(subprocess.Popen(['sleep', '30']))\n"
            "except OSError as e:\n    print('STOPPED', len(procs))\n"
            "print('STARTED', len(procs))\n")  # fmt: skip
    (ws / "bomb.py").write_text(code)
    result = await sh(iso, ws, "python3 bomb.py", Limits(time_s=20.0, memory_mb=2000, max_procs=40))
    text = out(result)
    assert "STOPPED" in text, text
    assert int(text.split("STARTED ")[1].split()[0]) <= 40 + 8  # the sandbox's own few processes count too


async def test_memory_is_limited_in_total_not_only_per_process(iso: Isolation, ws: Path) -> None:
    # three processes of 250 MB each fit a 400 MB per-process limit, but not 400 MB in total
    hog = "python3 -c \"import time; b = bytearray(250 * 1024 * 1024); time.sleep(3); print('HELD')\""
    result = await sh(iso, ws, f"{hog} & {hog} & {hog} & wait", Limits(time_s=20.0, memory_mb=400))
    assert out(result).count("HELD") < 3, out(result)


async def test_nothing_outlives_the_time_limit(iso: Isolation, ws: Path) -> None:
    marker = f"assistant-probe-{uuid.uuid4().hex[:8]}"
    result = await sh(iso, ws, f"(exec -a {marker} sleep 300 &) ; setsid sh -c 'exec -a {marker} sleep 300' & sleep 60",
                      Limits(time_s=1.0))  # fmt: skip
    assert result.timed_out
    await asyncio.sleep(0.3)
    assert host("pgrep", "-f", marker) == ""
    mine = f"assistant-sandbox-{os.getpid()}-*"
    cgroups = host("sh", "-c", f"ls -d /sys/fs/cgroup/*/{mine} /sys/fs/cgroup/memory/*/*/{mine} 2>/dev/null")
    assert cgroups == "", "every run's cgroup is removed"


async def test_evals_code_runs_unprivileged(ws: Path) -> None:
    box = Sandbox(eval_limits(10.0))
    assert box.kind == "bwrap"
    result = await box.run("import os\nprint(os.getuid(), os.geteuid())\nopen('/etc/probe', 'w')\n")
    first = result.stdout.split()
    assert os.geteuid() != 0 or first[:2] == ["65534", "65534"], result
    assert "Read-only file system" in result.stderr or "Permission denied" in result.stderr


async def test_evals_remount_is_refused(ws: Path) -> None:
    box = Sandbox(eval_limits(10.0))
    result = await box.run("import subprocess\nprint(subprocess.run(['mount', '-o', 'remount,rw,bind', '/'])"
                           ".returncode)\n")  # fmt: skip
    assert result.stdout.strip() not in ("0", ""), result


