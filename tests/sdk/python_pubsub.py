"""The official Python SDK's pub/sub against our daprd: `publish_event` (JSON and text),
a streaming subscription (`DaprClient.subscribe_with_handler`, gRPC
`SubscribeTopicEventsAlpha1`), and a Flask app subscribed through `/dapr/subscribe`.

Run by tests/it/sidecar_sdk_pubsub.rs with DAPR_HTTP_PORT / DAPR_GRPC_PORT pointing at a
daprd (app id in APP_ID, `--app-port $APP_PORT`, a `pubsub` component). This script serves
the Flask app on APP_PORT first, as an app started by `dapr run` would. Exits 0 when every
check passed, 1 otherwise, 3 when a package is missing.
"""

import json
import os
import sys
import threading
import time
import warnings

try:
    from dapr.clients import DaprClient
    from dapr.clients.grpc._response import TopicEventResponse
    from flask import Flask, request, jsonify
except ImportError as e:  # pragma: no cover - reported by the Rust test
    print(f'a package is missing ({e}); run: python3 -m pip install "dapr==1.19.*" flask')
    sys.exit(3)

warnings.simplefilter('ignore', DeprecationWarning)
failures = []


def check(cond, what):
    print(f'{"ok  " if cond else "FAIL"} {what}', flush=True)
    if not cond:
        failures.append(what)


# The app side: Flask with a programmatic subscription, as the official docs show.
app = Flask(__name__)
flask_events = []


@app.route('/dapr/subscribe', methods=['GET'])
def subscribe():
    return jsonify([{'pubsubname': 'pubsub', 'topic': 'flask-orders', 'route': 'orders'}])


@app.route('/orders', methods=['POST'])
def orders():
    flask_events.append(json.loads(request.data))
    return jsonify({'status': 'SUCCESS'})


threading.Thread(
    target=lambda: app.run(host='127.0.0.1', port=int(os.environ['APP_PORT'])), daemon=True
).start()


def wait(cond, seconds=20):
    end = time.time() + seconds
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


streamed = []


def handler(message):
    streamed.append((message.data(), message.topic(), message.pubsub_name()))
    return TopicEventResponse('success')


with DaprClient() as d:
    d.wait(30)
    close = d.subscribe_with_handler(pubsub_name='pubsub', topic='streamed', handler_fn=handler)
    time.sleep(0.5)
    for i in range(3):
        d.publish_event('pubsub', 'streamed', json.dumps({'n': i}), data_content_type='application/json')
    check(wait(lambda: len(streamed) >= 3), f'3 streamed events arrived: {streamed}')
    check(all(t == 'streamed' and p == 'pubsub' for (_, t, p) in streamed), 'topic and pubsub name')
    check(sorted(e[0]['n'] for e in streamed) == [0, 1, 2], f'data decoded: {streamed}')
    close()

    # Programmatic subscription of the Flask app.
    d.publish_event('pubsub', 'flask-orders', json.dumps({'orderId': 7}), data_content_type='application/json')
    d.publish_event('pubsub', 'flask-orders', 'plain text', data_content_type='text/plain')
    check(wait(lambda: len(flask_events) >= 2), f'the Flask app got 2 events: {flask_events}')
    if len(flask_events) >= 2:
        check(flask_events[0]['data'] == {'orderId': 7}, f'JSON data: {flask_events[0]}')
        check(flask_events[1]['data'] == 'plain text', f'text data: {flask_events[1]}')
        check(flask_events[0]['source'] == os.environ['APP_ID'], 'source is the app id')

    # Unknown pub/sub: the official error.
    try:
        d.publish_event('nope', 'x', 'y')
        check(False, 'publishing to an unknown pubsub fails')
    except Exception as e:  # noqa: BLE001 - the SDK raises its own error types
        check('not found' in str(e), f'unknown pubsub: {e}')

if failures:
    print(f'{len(failures)} checks failed')
    sys.exit(1)
print('all checks passed')
