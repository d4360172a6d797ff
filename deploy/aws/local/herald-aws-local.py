#!/usr/bin/env python3
"""The AWS shape on one machine, on 127.0.0.1 (deploy/aws/README.md, "Running it locally").

Starts moto's server (DynamoDB, SQS, EventBridge, Secrets Manager) with the template's table,
queues, rules and secrets; a Lambda Runtime API per function, each running the same herald-lambda
binary Lambda runs, frozen (SIGSTOP) between invocations; an API Gateway WebSocket front (the
REQUEST authorizer on connect, routes by the message's "action", the @connections Management
API); the HTTP publish API; and SQS -> Lambda polling with the template's batch sizes and
partial batch answers. Prints `listening on ws://127.0.0.1:PORT/` once it serves, then the
publish API's and the Management API's URLs.

    deploy/aws/local/herald-aws-local.py --port 8080 --jwt-secret S --publish-key K [--binary PATH]

Needs Python 3.11+, boto3, moto[server] and websockets (scripts/test installs them).
"""
import argparse
import asyncio
import base64
import ctypes
import http.server
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid

import boto3
from websockets.asyncio.server import serve
from websockets.http11 import Response
from websockets.datastructures import Headers

REGION = "us-east-1"
STAGE = "prod"
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
# Local visibility timeouts: short, so a failed record comes back within seconds (the template's
# are 6 × each function's timeout, minutes).
VISIBILITY = 5


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def die_with_parent():
    """In a child, before it runs: the kernel kills it when this script ends, however it ends."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def log(*parts):
    print("herald-aws-local:", *parts, file=sys.stderr, flush=True)


class Function:
    """One Lambda function: its Runtime API, its herald-lambda process, one invocation at a time."""

    def __init__(self, name, handler, binary, environment):
        self.name = name
        self.pending = queue.Queue()
        self.answers = {}
        self.answered = threading.Condition()
        self.waiting = threading.Event()
        self.lock = threading.Lock()
        function = self

        class RuntimeAPI(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                if not self.path.endswith("/invocation/next"):
                    return self.reply(404, b"")
                function.waiting.set()
                request_id, body, deadline = function.pending.get()
                function.waiting.clear()
                self.send_response(200)
                self.send_header("Lambda-Runtime-Aws-Request-Id", request_id)
                self.send_header("Lambda-Runtime-Deadline-Ms", str(deadline))
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                parts = self.path.split("/")
                if "init" in parts:
                    log(function.name, "could not start:", body.decode(errors="replace"))
                else:
                    with function.answered:
                        function.answers[parts[-2]] = (parts[-1], body)
                        function.answered.notify_all()
                self.reply(202, b"")

            def reply(self, status, body):
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RuntimeAPI)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        env = dict(os.environ, **environment, _HANDLER=handler, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{self.server.server_port}")
        self.process = subprocess.Popen([binary], env=env, stdin=subprocess.DEVNULL, preexec_fn=die_with_parent)

    def invoke(self, event, timeout=30):
        """Runs one invocation; its answer (JSON), or raises with the function's error."""
        with self.lock:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} has exited ({self.process.returncode})")
            if not self.waiting.wait(30):
                raise RuntimeError(f"{self.name} is not waiting for an event")
            os.kill(self.process.pid, signal.SIGCONT)
            request_id = str(uuid.uuid4())
            self.pending.put((request_id, json.dumps(event).encode(), int(time.time() * 1000) + timeout * 1000))
            with self.answered:
                self.answered.wait_for(lambda: request_id in self.answers, timeout)
                kind, body = self.answers.pop(request_id, ("error", b'{"errorMessage":"timed out"}'))
            # Frozen once it waits again, as Lambda freezes an idle function.
            if self.waiting.wait(10):
                os.kill(self.process.pid, signal.SIGSTOP)
        if kind != "response":
            raise RuntimeError(f"{self.name}: {body.decode(errors='replace')}")
        return json.loads(body)

    def stop(self):
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)
            self.process.kill()


class Connections:
    """The WebSocket front's open connections, for the Management API."""

    def __init__(self, loop):
        self.loop = loop
        self.open = {}

    def send(self, connection_id, data):
        entry = self.open.get(connection_id)
        if entry is None:
            return False
        asyncio.run_coroutine_threadsafe(entry["socket"].send(data.decode()), self.loop).result(10)
        return True

    def close(self, connection_id):
        entry = self.open.get(connection_id)
        if entry is None:
            return False
        asyncio.run_coroutine_threadsafe(entry["socket"].close(), self.loop).result(10)
        return True


def management_api(connections, port):
    """`POST`, `GET` and `DELETE /{stage}/@connections/{id}` (signatures are not checked here)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def target(self):
            prefix = f"/{STAGE}/@connections/"
            path = urllib.parse.urlsplit(self.path).path
            return urllib.parse.unquote(path[len(prefix):]) if path.startswith(prefix) else None

        def reply(self, status, body=b""):
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            if body:
                self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            data = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            connection_id = self.target()
            if connection_id is None:
                return self.reply(404)
            if len(data) > 128 * 1024:
                return self.reply(413, b'{"message":"Request Entity Too Large"}')
            self.reply(200) if connections.send(connection_id, data) else self.reply(410, b'{"message":"GoneException"}')

        def do_DELETE(self):
            connection_id = self.target()
            self.reply(204) if connection_id and connections.close(connection_id) else self.reply(410, b'{"message":"GoneException"}')

        def do_GET(self):
            entry = connections.open.get(self.target() or "")
            if entry is None:
                return self.reply(410, b'{"message":"GoneException"}')
            body = {"connectedAt": entry["connectedAt"], "identity": {"sourceIp": "127.0.0.1"}, "lastActiveAt": entry["lastActiveAt"]}
            self.reply(200, json.dumps(body).encode())

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def publish_api(publish, port):
    """The HTTP API in front of the publish function (payload format 2.0)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            split = urllib.parse.urlsplit(self.path)
            event = {
                "version": "2.0", "routeKey": "$default", "rawPath": split.path, "rawQueryString": split.query,
                "headers": {name.lower(): value for name, value in self.headers.items()},
                "requestContext": {"http": {"method": "POST", "path": split.path, "sourceIp": self.client_address[0]}},
                "body": base64.b64encode(body).decode(), "isBase64Encoded": True,
            }
            try:
                answer = publish.invoke(event)
            except RuntimeError as error:
                log(error)
                answer = {"statusCode": 500, "body": '{"message":"Internal Server Error"}'}
            data = answer.get("body", "").encode()
            self.send_response(answer.get("statusCode", 200))
            for name, value in answer.get("headers", {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def poll(sqs, queue_url, arn, function, batch_size, stop):
    """SQS -> Lambda as an event source mapping: batches, partial batch answers, redelivery."""
    while not stop.is_set():
        try:
            received = sqs.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=batch_size, WaitTimeSeconds=1, VisibilityTimeout=VISIBILITY,
                AttributeNames=["All"], MessageAttributeNames=["All"],
            ).get("Messages", [])
        except Exception as error:  # moto went away: the run is ending
            if not stop.is_set():
                log("polling", arn, "failed:", error)
            return
        if not received:
            continue
        records = [
            {
                "messageId": message["MessageId"], "receiptHandle": message["ReceiptHandle"], "body": message["Body"],
                "attributes": message.get("Attributes", {}), "eventSource": "aws:sqs", "eventSourceARN": arn, "awsRegion": REGION,
            }
            for message in received
        ]
        try:
            failed = {item["itemIdentifier"] for item in function.invoke({"Records": records}, timeout=120).get("batchItemFailures", [])}
        except RuntimeError as error:
            log(error)
            failed = {record["messageId"] for record in records}
        done = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(received) if m["MessageId"] not in failed]
        if done:
            sqs.delete_message_batch(QueueUrl=queue_url, Entries=done)


def start_moto(port):
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        preexec_fn=die_with_parent,
    )
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("herald-aws-local: moto's server did not start")


def provision(endpoint, jwt_secret, publish_key):
    """What template.yaml makes, in moto: the table, the queues, the rules, the secrets."""
    session = boto3.session.Session(aws_access_key_id="local", aws_secret_access_key="local", region_name=REGION)
    client = lambda service: session.client(service, endpoint_url=endpoint)
    dynamodb, sqs, events, secrets = client("dynamodb"), client("sqs"), client("events"), client("secretsmanager")
    dynamodb.create_table(
        TableName="herald", BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    )
    queues = {}
    for name, fifo in [("ingress", False), ("entities.fifo", True), ("notifications", False), ("refused", False)]:
        attributes = {"FifoQueue": "true", "DeduplicationScope": "messageGroup", "FifoThroughputLimit": "perMessageGroupId"} if fifo else {}
        url = sqs.create_queue(QueueName=f"herald-{name}", Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        queues[name] = (url, arn)
    for rule, detail_type, target in [("entity-updated", "Entity Updated", "ingress"), ("user-notification", "Send User Push Notification", "notifications")]:
        events.put_rule(Name=rule, EventPattern=json.dumps({"detail-type": [detail_type]}))
        events.put_targets(Rule=rule, Targets=[{"Id": target, "Arn": queues[target][1]}])
    token_secret = secrets.create_secret(Name="herald-token", SecretString=json.dumps({"signature": jwt_secret}))["ARN"]
    key_secret = secrets.create_secret(Name="herald-publish-keys", SecretString=publish_key)["ARN"]
    return sqs, queues, token_secret, key_secret


async def websocket_front(port, functions, connections, stop):
    """API Gateway's WebSocket API: the authorizer and $connect on the handshake, a route per action."""
    websocket, authorizer = functions["websocket"], functions["authorizer"]
    loop = asyncio.get_running_loop()

    def context(connection_id, event_type, route, extra=None):
        entry = connections.open.get(connection_id, {})
        return dict(
            {
                "connectionId": connection_id, "eventType": event_type, "routeKey": route, "stage": STAGE, "domainName": f"127.0.0.1:{port}",
                "apiId": "local", "connectedAt": entry.get("connectedAt", int(time.time() * 1000)), "requestId": str(uuid.uuid4()),
                "identity": {"sourceIp": "127.0.0.1", "userAgent": entry.get("userAgent")},
            },
            **(extra or {}),
        )

    async def process_request(connection, request):
        split = urllib.parse.urlsplit(request.path)
        query = {name: values[0] for name, values in urllib.parse.parse_qs(split.query, keep_blank_values=True).items()}
        headers = {name: value for name, value in request.headers.raw_items()}
        connection_id = base64.b64encode(uuid.uuid4().bytes[:9]).decode().replace("/", "_").replace("+", "-")
        authorizing = {
            "type": "REQUEST", "methodArn": f"arn:aws:execute-api:{REGION}:000000000000:local/{STAGE}/$connect", "headers": headers,
            "queryStringParameters": query, "requestContext": context(connection_id, "CONNECT", "$connect"),
        }
        try:
            allowed = await loop.run_in_executor(None, authorizer.invoke, authorizing)
        except RuntimeError:
            return connection.respond(401, '{"message":"Unauthorized"}\n')
        connections.open[connection_id] = {"connectedAt": int(time.time() * 1000), "lastActiveAt": int(time.time() * 1000), "userAgent": headers.get("User-Agent")}
        connecting = {
            "headers": headers, "queryStringParameters": query, "isBase64Encoded": False,
            "requestContext": context(connection_id, "CONNECT", "$connect", {"authorizer": allowed.get("context", {})}),
        }
        try:
            answer = await loop.run_in_executor(None, websocket.invoke, connecting)
        except RuntimeError:
            answer = {"statusCode": 500}
        if answer.get("statusCode") != 200:
            connections.open.pop(connection_id, None)
            return connection.respond(answer.get("statusCode", 500) if answer.get("statusCode", 500) >= 400 else 500, '{"message":"Forbidden"}\n')
        connection.herald_id = connection_id
        return None

    def select_subprotocol(connection, subprotocols):
        return next((offered for offered in subprotocols if offered.lower() == "websocket"), None)

    async def handler(socket):
        connection_id = socket.herald_id
        connections.open[connection_id]["socket"] = socket
        try:
            async for message in socket:
                connections.open[connection_id]["lastActiveAt"] = int(time.time() * 1000)
                binary = isinstance(message, bytes)
                route = "$default"
                if not binary:
                    try:
                        action = json.loads(message).get("action")
                        route = action if action in ("subscribe", "unsubscribe", "refresh", "ping") else "$default"
                    except (ValueError, AttributeError):
                        pass
                event = {
                    "body": base64.b64encode(message).decode() if binary else message, "isBase64Encoded": binary,
                    "requestContext": context(connection_id, "MESSAGE", route),
                }
                try:
                    await loop.run_in_executor(None, websocket.invoke, event)
                except RuntimeError as error:
                    log(error)
                    await socket.send(json.dumps({"message": "Internal server error", "connectionId": connection_id, "requestId": str(uuid.uuid4())}))
        finally:
            disconnecting = {"requestContext": context(connection_id, "DISCONNECT", "$disconnect")}
            connections.open.pop(connection_id, None)
            try:
                await loop.run_in_executor(None, websocket.invoke, disconnecting)
            except RuntimeError as error:
                log(error)

    async with serve(
        handler, "127.0.0.1", port, process_request=process_request, select_subprotocol=select_subprotocol,
        max_size=32 * 1024, ping_interval=None,
    ) as server:
        actual = server.sockets[0].getsockname()[1]
        yield actual
        await stop.wait()


async def main():
    parser = argparse.ArgumentParser(description="Herald's AWS shape on 127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="the WebSocket API's port (0 = any free one)")
    parser.add_argument("--publish-port", type=int, default=0, help="the HTTP publish API's port (0 = any free one)")
    parser.add_argument("--jwt-secret", required=True)
    parser.add_argument("--publish-key", required=True)
    parser.add_argument("--binary", default=os.path.join(ROOT, ".build", "debug", "herald-lambda"))
    arguments = parser.parse_args()
    if not os.access(arguments.binary, os.X_OK):
        raise SystemExit(f"herald-aws-local: no herald-lambda at {arguments.binary} (swift build --product herald-lambda)")

    moto_port = free_port()
    moto = start_moto(moto_port)
    endpoint = f"http://127.0.0.1:{moto_port}"
    sqs, queues, token_secret, key_secret = provision(endpoint, arguments.jwt_secret, arguments.publish_key)
    management_port = free_port()
    environment = {
        "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_REGION": REGION, "HERALD_AWS_ENDPOINT": endpoint,
        "HERALD_TABLE": "herald", "HERALD_MANAGEMENT_ENDPOINT": f"http://127.0.0.1:{management_port}/{STAGE}",
        "HERALD_REFUSED_QUEUE_URL": queues["refused"][0], "HERALD_ENTITY_QUEUE_URL": queues["entities.fifo"][0],
        "HERALD_EVENT_BUS": "default", "HERALD_POST_CONCURRENCY": "64",
    }
    with_secret = dict(environment, HERALD_SECRET_ID=token_secret)
    functions = {
        "websocket": Function("WebSocketFunction", "websocket", arguments.binary, with_secret),
        "authorizer": Function("AuthorizerFunction", "authorizer", arguments.binary, with_secret),
        "router": Function("RouterFunction", "router", arguments.binary, environment),
        "fanout": Function("FanOutFunction", "fanout", arguments.binary, environment),
        "publish": Function("PublishFunction", "publish", arguments.binary, dict(environment, HERALD_PUBLISH_KEY_SECRET_ID=key_secret)),
    }
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def end(*_):
        # Everything this started goes first (moto ignores SIGTERM), then the script, at once.
        for function in functions.values():
            function.stop()
        moto.kill()
        os._exit(0)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, end)
    connections = Connections(loop)
    servers = [management_api(connections, management_port), publish_api(functions["publish"], arguments.publish_port or free_port())]
    stopping = threading.Event()
    for (name, batch), function in [(("ingress", 10), functions["router"]), (("entities.fifo", 10), functions["fanout"]), (("notifications", 10), functions["fanout"])]:
        url, arn = queues[name]
        threading.Thread(target=poll, args=(sqs, url, arn, function, batch, stopping), daemon=True).start()
    front = websocket_front(arguments.port, functions, connections, stop)
    try:
        port = await front.__anext__()
        print(f"listening on ws://127.0.0.1:{port}/", flush=True)
        print(f"publish API at http://127.0.0.1:{servers[1].server_port}/", flush=True)
        print(f"Management API at http://127.0.0.1:{management_port}/{STAGE}", flush=True)
        await front.__anext__()
    finally:
        end()


if __name__ == "__main__":
    asyncio.run(main())
