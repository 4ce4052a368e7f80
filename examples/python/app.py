"""A small web app for waci: a page, a JSON endpoint and a log line per request.

GET /          an HTML page
GET /api/info  JSON: the language, the GREETING env var and the text of the file that
               MESSAGE_FILE names (default /config/message.txt, a volume's file)
anything else  404

Each request writes one line to stdout ("GET /api/info 200"), which waci keeps in the
container's logs.
"""

import json
import os
import sys

from componentize_py_types import Ok
from wit_world import exports
from wit_world.imports.types import (
    Fields,
    IncomingRequest,
    Method_Other,
    OutgoingBody,
    OutgoingResponse,
    ResponseOutparam,
)

PAGE = """<!doctype html>
<html>
<head><meta charset="utf-8"><title>Python on waci</title></head>
<body>
<h1>Hello from Python on waci</h1>
<p>CPython {version}, compiled into a WebAssembly component by componentize-py.</p>
<p><a href="/api/info">/api/info</a> reads an environment variable and a file from a volume.</p>
</body>
</html>
"""

# wasi:io output streams take at most 4096 bytes per blocking write.
CHUNK = 4096


def method_name(request: IncomingRequest) -> str:
    method = request.method()
    if isinstance(method, Method_Other):
        return method.value
    return type(method).__name__.removeprefix("Method_").upper()


def read_message() -> str | None:
    path = os.environ.get("MESSAGE_FILE", "/config/message.txt")
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError:
        return None


def route(method: str, path: str) -> tuple[int, str, bytes]:
    """The status, content type and body of the answer to `method path`."""
    if method != "GET":
        return 405, "text/plain", b"method not allowed\n"
    if path == "/":
        page = PAGE.format(version=sys.version.split()[0])
        return 200, "text/html; charset=utf-8", page.encode()
    if path == "/api/info":
        info = {
            "language": "python",
            "greeting": os.environ.get("GREETING"),
            "message": read_message(),
        }
        return 200, "application/json", json.dumps(info).encode()
    return 404, "text/plain", b"not found\n"


class IncomingHandler(exports.IncomingHandler):
    def handle(self, request: IncomingRequest, response_out: ResponseOutparam) -> None:
        method = method_name(request)
        path = (request.path_with_query() or "/").split("?", 1)[0]
        status, content_type, body = route(method, path)

        headers = Fields.from_list(
            [("content-type", content_type.encode()), ("content-length", str(len(body)).encode())]
        )
        response = OutgoingResponse(headers)
        response.set_status_code(status)
        out_body = response.body()
        ResponseOutparam.set(response_out, Ok(response))
        with out_body.write() as stream:
            for start in range(0, len(body), CHUNK):
                stream.blocking_write_and_flush(body[start : start + CHUNK])
        OutgoingBody.finish(out_body, None)
        print(f"{method} {path} {status}", flush=True)
