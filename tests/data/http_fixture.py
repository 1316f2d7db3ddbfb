"""A local HTTP server on 127.0.0.1 for download tests (never the internet)."""

from __future__ import annotations

import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FileServer:
    """Serves ``routes``: path -> bytes. Special behaviour by path prefix:

    ``/truncated/...`` announces the full length but sends half, then closes;
    ``/norange/...`` ignores Range headers. Everything else honours ``Range: bytes=N-``.
    Misbehaving servers, for any path under them: ``/trickle/`` sends one byte every
    ``trickle_s`` seconds, ``/endless/`` streams zeros without a Content-Length until the
    client hangs up, ``/badstatus/`` answers a malformed status line, ``/badheader/`` a
    header line without a colon, ``/hugeheaders/`` more than 100 headers, ``/biglength/``
    announces 10 GB. Unknown paths give 404. ``requests`` records (path, range header).
    """

    trickle_s = 0.2

    def __init__(self, routes: dict[str, bytes]):
        self.routes = routes
        self.requests: list[tuple[str, str | None]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                rng = self.headers.get("Range")
                server.requests.append((self.path, rng))
                if server.misbehave(self):
                    return
                body = server.routes.get(self.path)
                if body is None:
                    self.send_error(404, "Not Found")
                    return
                start = 0
                m = re.fullmatch(r"bytes=(\d+)-", rng or "")
                if m and not self.path.startswith("/norange/"):
                    start = int(m.group(1))
                    if start >= len(body):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(body)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                payload = body[start:]
                if self.path.startswith("/truncated/"):
                    payload = payload[: len(payload) // 2]
                    self.close_connection = True
                self.wfile.write(payload)

            def log_message(self, *args):  # keep test output quiet
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    def misbehave(self, handler) -> bool:
        """Play one of the broken servers; True if it did."""
        path, out = handler.path, handler.wfile
        try:
            if path.startswith("/badstatus/"):
                out.write(b"HTTP/1.1 two hundred OK\r\n\r\n")
            elif path.startswith("/badheader/"):
                out.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nno colon here\r\n\r\nhello")
            elif path.startswith("/hugeheaders/"):
                out.write(b"HTTP/1.1 200 OK\r\n" + b"X-A: b\r\n" * 150 + b"\r\n")
            elif path.startswith("/biglength/"):
                out.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10000000000\r\n\r\n" + b"\0" * 1000)
            elif path.startswith("/endless/"):
                out.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
                while True:
                    out.write(b"\0" * 65536)
            elif path.startswith("/trickle/"):
                out.write(b"HTTP/1.1 200 OK\r\nContent-Length: 50000\r\n\r\n")
                for _ in range(50_000):
                    out.write(b"x")
                    out.flush()
                    time.sleep(self.trickle_s)
            else:
                return False
        except OSError:  # the client gave up: that is the point
            pass
        handler.close_connection = True
        return True

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)
