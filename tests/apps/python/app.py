"""The walkthrough's order generator: stdlib only.

POSTs {"data":{"orderId":n}} to nodeapp's /neworder through its own sidecar's
invocation API every ORDER_INTERVAL seconds (default 0.3), n increasing from 1.
Prints "sent <n>" after each acknowledged order (flushed, for tests to follow).
"""
import json
import os
import sys
import time
import urllib.request

dapr_port = os.environ.get("DAPR_HTTP_PORT", "3500")
target = os.environ.get("TARGET_APP_ID", "nodeapp")
interval = float(os.environ.get("ORDER_INTERVAL", "0.3"))
url = f"http://localhost:{dapr_port}/v1.0/invoke/{target}/method/neworder"

n = 1
while True:
    body = json.dumps({"data": {"orderId": n}}).encode()
    req = urllib.request.Request(url, data=body, method="POST",
                                 headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            resp.read()
            print(f"sent {n}", flush=True)
            n += 1
    except Exception as e:  # keep going: the sidecars may still be starting
        print(f"error {n}: {e}", file=sys.stderr, flush=True)
    time.sleep(interval)
