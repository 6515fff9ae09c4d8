"""A development EVM chain answering JSON-RPC over HTTP on 127.0.0.1 (eth-tester + py-evm).

Tests and the demo use it where production uses a Besu or Geth endpoint: the platform's anchor
and ``twinledger verify --chain`` talk to it over HTTP exactly as they would to a real node.
Ten accounts are unlocked and funded; every transaction is mined at once.

::

    with DevChain() as chain:
        print(chain.url)            # http://127.0.0.1:PORT
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from web3 import Web3
from web3.exceptions import Web3RPCError
from web3.providers.eth_tester import EthereumTesterProvider


class DevChain:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.w3 = Web3(EthereumTesterProvider())
        self._lock = threading.Lock()  # eth-tester is not thread-safe; requests run one at a time
        chain = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                try:
                    request = json.loads(raw)
                    body = [chain.answer(r) for r in request] if isinstance(request, list) else chain.answer(request)
                except ValueError as exc:
                    body = {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": str(exc)}}
                data = Web3.to_json(body).encode()  # type: ignore[arg-type]
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((host, port), Handler)  # a stalled client never blocks the others
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def answer(self, request: dict[str, Any]) -> dict[str, Any]:
        reply: dict[str, Any] = {"jsonrpc": "2.0", "id": request.get("id")}
        try:
            with self._lock:
                reply["result"] = self.w3.manager.request_blocking(request["method"], request.get("params") or [])
        except Web3RPCError as exc:
            fallback = {"code": -32000, "message": str(exc)}
            reply["error"] = exc.rpc_response.get("error", fallback) if exc.rpc_response else fallback
        except Exception as exc:
            reply["error"] = {"code": -32000, "message": f"{type(exc).__name__}: {exc}"}
        return reply

    def start(self) -> DevChain:
        self._thread = threading.Thread(target=self._server.serve_forever, name="twinledger-devchain", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> DevChain:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
