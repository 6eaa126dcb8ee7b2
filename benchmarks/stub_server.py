"""A stub OpenAI-compatible server that answers at once (standard library only), for whole-process benchmarks.

    python benchmarks/stub_server.py --port 0      # prints "listening <port>" on stdout, serves until killed

POST /v1/chat/completions streams (or returns) a short fixed answer with usage; GET /v1/models lists one
model. Every request is counted, by path, at GET /stats (to see what a client asked before answering).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL = "stub-model"
ANSWER = ["Hello", "!", " How", " can", " I", " help", "?"]
STATS: Counter[str] = Counter()
_LOCK = threading.Lock()


def _chunk(delta: dict[str, Any], finish: str | None = None, usage: dict[str, int] | None = None) -> bytes:
    body: dict[str, Any] = {"id": "chatcmpl-stub", "object": "chat.completion.chunk", "created": int(time.time()),
                            "model": MODEL, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    if usage is not None:
        body = {**body, "choices": [], "usage": usage}
    return b"data: " + json.dumps(body).encode() + b"\n\n"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def _json(self, code: int, obj: Any) -> None:
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        with _LOCK:
            STATS[f"GET {self.path}"] += 1
        if self.path.rstrip("/").endswith("/models"):
            self._json(200, {"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "stub"}]})
        elif self.path == "/stats":
            self._json(200, dict(STATS))
        else:
            self._json(404, {"error": {"message": "not found", "type": "not_found"}})

    def do_POST(self) -> None:
        with _LOCK:
            STATS[f"POST {self.path}"] += 1
        length = int(self.headers.get("content-length") or 0)
        req = json.loads(self.rfile.read(length) or b"{}")
        if not self.path.endswith("/chat/completions"):
            self._json(404, {"error": {"message": "not found", "type": "not_found"}})
            return
        usage = {"prompt_tokens": 20, "completion_tokens": len(ANSWER), "total_tokens": 20 + len(ANSWER)}
        if not req.get("stream"):
            msg = {"role": "assistant", "content": "".join(ANSWER)}
            self._json(200, {"id": "chatcmpl-stub", "object": "chat.completion", "created": int(time.time()),
                             "model": MODEL, "usage": usage,
                             "choices": [{"index": 0, "message": msg, "finish_reason": "stop"}]})  # fmt: skip
            return
        parts = [_chunk({"role": "assistant", "content": ""})]
        parts += [_chunk({"content": piece}) for piece in ANSWER]
        parts.append(_chunk({}, "stop"))
        parts.append(_chunk({}, usage=usage))
        parts.append(b"data: [DONE]\n\n")
        data = b"".join(parts)
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print(f"listening {server.server_address[1]}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    sys.exit(0)


if __name__ == "__main__":
    main()
