"""A TCP proxy on 127.0.0.1 that a test can take down and bring back.

Fault tests put it between an Odoo server and PostgreSQL. `stop()` closes
the listening socket and cuts every open connection, as a database restart
would, without touching the PostgreSQL cluster other users share.
`start()` listens again on the same port.
"""

import contextlib
import socket
import threading

BUFFER_BYTES = 64 * 1024
ACCEPT_POLL_SECONDS = 0.2


class TcpProxy:
    """Forwards connections from 127.0.0.1:`port` to `upstream`.

    `upstream` is a (host, port) pair or the path of a Unix socket.
    """

    def __init__(self, port, upstream):
        self.port = port
        self.upstream = upstream
        self._listener = None
        self._accepting = None
        self._connections = set()
        self._lock = threading.Lock()

    def start(self):
        """Listen on the port and forward each new connection upstream."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.settimeout(ACCEPT_POLL_SECONDS)
        self._listener = listener
        self._accepting = threading.Event()
        self._accepting.set()
        threading.Thread(
            target=self._accept_loop, args=(listener,), daemon=True
        ).start()
        return self

    def stop(self):
        """Refuse new connections and cut the open ones, both directions."""
        if self._accepting is not None:
            self._accepting.clear()
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with self._lock:
            connections, self._connections = self._connections, set()
        for connection in connections:
            _close(connection)

    def _accept_loop(self, listener):
        accepting = self._accepting
        while accepting.is_set():
            try:
                client, _address = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._forward(client)

    def _forward(self, client):
        try:
            server = _connect(self.upstream)
        except OSError:
            _close(client)
            return
        server.settimeout(None)
        client.settimeout(None)
        with self._lock:
            self._connections.update((client, server))
        for source, target in ((client, server), (server, client)):
            threading.Thread(
                target=self._pump, args=(source, target), daemon=True
            ).start()

    def _pump(self, source, target):
        try:
            while data := source.recv(BUFFER_BYTES):
                target.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                self._connections.discard(source)
                self._connections.discard(target)
            _close(source)
            _close(target)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()


def _connect(upstream):
    if isinstance(upstream, str):
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.settimeout(5)
        server.connect(upstream)
        return server
    return socket.create_connection(upstream, timeout=5)


def _close(connection):
    with contextlib.suppress(OSError):
        connection.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        connection.close()
