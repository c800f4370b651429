"""A scaled-to-zero predictor: a loopback TCP listener that starts the real model server on the first
connection (as Knative's activator holds the first request until a pod is up) and then relays bytes.

Connections are accepted immediately; the first one blocks until ``/v2/models/NAME/ready`` answers,
so that request's latency includes the server's start-up, exactly what ``predict`` marks as a cold start.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.modelserver import ModelServerProcess, model_server


@dataclass
class ColdStartPredictor:
    port: int
    name: str
    started: threading.Event = field(default_factory=threading.Event)
    server: ModelServerProcess | None = None
    connections: int = 0


def _relay(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)


@contextmanager
def cold_start_predictor(tmp_dir: Path, *, name: str) -> Iterator[ColdStartPredictor]:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    state = ColdStartPredictor(int(listener.getsockname()[1]), name)
    lock = threading.Lock()
    stop = threading.Event()
    with ExitStack() as stack:

        def ensure_started() -> int:
            with lock:
                if state.server is None:
                    state.server = stack.enter_context(model_server(tmp_dir, name=name))
                    state.started.set()
                return state.server.port

        def handle(client: socket.socket) -> None:
            with client:
                try:
                    backend_port = ensure_started()
                except RuntimeError:
                    return  # the client sees the connection close: nginx answers 502
                with socket.create_connection(("127.0.0.1", backend_port)) as backend:
                    t = threading.Thread(target=_relay, args=(backend, client), daemon=True)
                    t.start()
                    _relay(client, backend)
                    t.join(timeout=60)

        def accept() -> None:
            while not stop.is_set():
                try:
                    client, _ = listener.accept()
                except OSError:
                    return
                state.connections += 1
                threading.Thread(target=handle, args=(client,), daemon=True).start()

        acceptor = threading.Thread(target=accept, daemon=True)
        acceptor.start()
        try:
            yield state
        finally:
            stop.set()
            listener.close()
            acceptor.join(timeout=5)
            with lock:  # a start-up in progress finishes before the ExitStack stops the server
                pass
