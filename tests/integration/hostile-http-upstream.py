#!/usr/bin/env python3
# A hostile MCP Streamable HTTP upstream for chaos-eras-http.sh, on 127.0.0.1 only.
#   hostile-http-upstream.py PORT MODE
# MODE flap-versions: server/discover and initialize both answer 400 with
#   error -32022 whose data.supported names a legacy version (and 1000
#   entries of wrong types): the era is never found, every probe re-probes.
# MODE sse-garbage: every POST gets 200 text/event-stream of broken events.
# MODE big400: every POST gets 400 announcing a 100 MiB body (it sends up to
#   that, until mcpd hangs up).
# Every request's method is written to stderr, one line each.
import http.server
import json
import socketserver
import sys

PORT, MODE = int(sys.argv[1]), sys.argv[2]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, code, body, ctype="application/json"):
        body = body.encode() if isinstance(body, str) else body
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.send(405, "")

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        msg = json.loads(self.rfile.read(n) or b"{}")
        sys.stderr.write("%s\n" % msg.get("method"))
        sys.stderr.flush()
        if MODE == "flap-versions":
            supported = [k if k % 2 else [k] for k in range(1000)] + ["2025-06-18"]
            return self.send(400, json.dumps({"jsonrpc": "2.0", "id": msg.get("id"), "error": {
                "code": -32022, "message": "unsupported", "data": {"supported": supported}}}))
        if MODE == "sse-garbage":
            return self.send(200, "data: {broken\n\nevent: x\ndata: \x01\n\n" * 1000, "text/event-stream")
        if MODE == "big400":
            self.send_response(400)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(100 << 20))
            self.end_headers()
            try:
                for _ in range(1600):
                    self.wfile.write(b" " * 65536)
            except OSError:
                pass
            return
        self.send(500, "")


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


Server(("127.0.0.1", PORT), Handler).serve_forever()
