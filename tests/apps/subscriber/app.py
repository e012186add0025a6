"""A pub/sub subscriber app (standard library only) for the at-least-once tests.

Usage: app.py PORT OUT_FILE. Subscribes (GET /dapr/subscribe) to topic `orders` of the
`pubsub` component with route /orders; appends each event's `data` as one JSON line to
OUT_FILE (one write per event, before answering) and answers SUCCESS. Killing it at any
moment loses at most events it had not yet acknowledged, which the sidecar must redeliver.
"""
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(sys.argv[1])
OUT = os.open(sys.argv[2], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
SUBSCRIPTIONS = json.dumps(
    [{"pubsubname": "pubsub", "topic": "orders", "route": "/orders"}]
).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, code, body):
        self.send_response(code)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/dapr/subscribe":
            self.reply(200, SUBSCRIPTIONS)
        else:
            self.reply(404, b"")

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        if self.path != "/orders":
            self.reply(404, b"")
            return
        event = json.loads(body)
        os.write(OUT, (json.dumps(event.get("data")) + "\n").encode())
        self.reply(200, b'{"status":"SUCCESS"}')


ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
