#!/usr/bin/env python3
"""Generate botocore-signed SigV4 test vectors for Herald's AWSSignatureV4 verifier.

Every vector is signed by botocore itself at a fixed instant, either through
`botocore.auth.SigV4Auth` directly or by a real boto3 `apigatewaymanagementapi`
client talking to a throwaway capture server on 127.0.0.1. The headers are
recorded as they appear on the wire, including the unsigned ones the HTTP layer
adds after signing. The result is written as Swift literals to
Tests/AWSSignatureTests/BotocoreVectors.swift.

Usage: python3 scripts/make-sigv4-vectors.py
"""

import datetime
import hashlib
import http.server
import pathlib
import threading
from unittest import mock
from urllib.parse import urlsplit

import boto3
import botocore
import botocore.auth
from botocore.auth import SigV4Auth, _host_from_url
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

FIXED_TIME = datetime.datetime(2026, 11, 25, 12, 34, 56)
FIXED_EPOCH = int(FIXED_TIME.replace(tzinfo=datetime.timezone.utc).timestamp())
ACCESS_KEY_ID = 'AKIDEXAMPLE'
SECRET = 'herald-publish-key-1'
ENDPOINT = 'http://127.0.0.1:8080'
CONNECTION_PATH = '/@connections/abc%3D%2B'  # ConnectionId "abc=+" as botocore serialises it
USER_AGENT = ('User-Agent', f'Boto3/{boto3.__version__} Botocore/{botocore.__version__}')
OUTPUT = pathlib.Path(__file__).resolve().parent.parent / 'Tests' / 'AWSSignatureTests' / 'BotocoreVectors.swift'


def frozen_clock():
    """Pin the instant SigV4Auth.add_auth reads (it overwrites context['timestamp'])."""
    return mock.patch.object(botocore.auth, 'get_current_datetime', return_value=FIXED_TIME)


class CanonicalRequestRecorder:
    """Context manager that records every canonical request SigV4Auth builds."""

    def __init__(self):
        self.recorded = []
        original = SigV4Auth.canonical_request

        def record(signer, request):
            canonical = original(signer, request)
            self.recorded.append(canonical)
            return canonical

        self._patch = mock.patch.object(SigV4Auth, 'canonical_request', record)

    def __enter__(self):
        self._patch.start()
        return self

    def __exit__(self, *exc):
        self._patch.stop()


def vector(name, method, url, headers, body, canonical_request):
    """One test vector: the request as received plus botocore's canonical request for it."""
    parts = urlsplit(url)
    return {
        'name': name,
        'method': method,
        'rawPath': parts.path,
        'rawQuery': parts.query,
        'headers': headers,
        'body': body,
        'secret': SECRET,
        'canonicalRequest': canonical_request,
    }


def signed_with_sigv4auth(name, method, url, body=b'', headers=(), context=None,
                          region='us-east-1', service='execute-api'):
    """Sign with SigV4Auth and return the request as an HTTP client would send it."""
    request = AWSRequest(method=method, url=url, data=body)
    for header_name, value in (USER_AGENT, *headers):
        request.headers[header_name] = value  # HTTPHeaders appends, so repeats are kept
    request.context.update(context or {})
    with frozen_clock(), CanonicalRequestRecorder() as recorder:
        SigV4Auth(Credentials(ACCESS_KEY_ID, SECRET), service, region).add_auth(request)
    wire = [('Host', _host_from_url(url))] + list(request.headers.items())
    if body:
        wire.append(('Content-Length', str(len(body))))
    return vector(name, method, url, wire, body, recorder.recorded[0])


class CaptureHandler(http.server.BaseHTTPRequestHandler):
    """Records each request verbatim and answers 200 with an empty body."""

    captured = []

    def handle_any(self):
        body = self.rfile.read(int(self.headers.get('Content-Length') or 0))
        self.captured.append((self.command, self.path, list(self.headers.items()), body))
        self.send_response(200)
        self.send_header('Content-Length', '0')
        self.end_headers()

    do_GET = do_POST = do_DELETE = handle_any

    def log_message(self, *args):
        pass


def signed_by_boto3_client():
    """Drive a real apigatewaymanagementapi client against a loopback capture server."""
    server = http.server.HTTPServer(('127.0.0.1', 0), CaptureHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f'http://127.0.0.1:{server.server_address[1]}'
    try:
        with frozen_clock(), CanonicalRequestRecorder() as recorder:
            client = boto3.client('apigatewaymanagementapi', endpoint_url=endpoint,
                                  region_name='us-east-1', aws_access_key_id=ACCESS_KEY_ID,
                                  aws_secret_access_key=SECRET)
            client.post_to_connection(ConnectionId='abc=+/x', Data=b'{"event":"ping"}')
            client.get_connection(ConnectionId='abc=+/x')
            client.delete_connection(ConnectionId='abc=+/x')
    finally:
        server.shutdown()
    names = ['boto3 client post_to_connection', 'boto3 client get_connection',
             'boto3 client delete_connection']
    return [vector(name, method, endpoint + path, headers, body, canonical)
            for name, (method, path, headers, body), canonical
            in zip(names, CaptureHandler.captured, recorder.recorded, strict=True)]


def all_vectors():
    body = '{"message":"hello \u2713","n":1}'.encode()
    return [
        signed_with_sigv4auth('POST connection with body', 'POST', ENDPOINT + CONNECTION_PATH, body),
        signed_with_sigv4auth('GET connection', 'GET', ENDPOINT + CONNECTION_PATH),
        signed_with_sigv4auth('DELETE connection', 'DELETE', ENDPOINT + CONNECTION_PATH),
        signed_with_sigv4auth('GET with query string', 'GET',
                              ENDPOINT + CONNECTION_PATH + '?z=last&a=2&a=10&a-b=x&flag&c=%2F%20'),
        signed_with_sigv4auth(
            'POST with content hash, repeated and untrimmed headers, other scope', 'POST',
            'http://herald.example.com/@connections/abc%3D%2B', body,
            headers=[('X-Amz-Content-SHA256', hashlib.sha256(body).hexdigest()),
                     ('Content-Type', '  application/json ;   charset=utf-8 '),
                     ('X-Herald-Tag', 'first'), ('X-Herald-Tag', ' second  value ')],
            region='eu-west-3', service='execute-api'),
        signed_with_sigv4auth('POST over https with unsigned payload', 'POST',
                              'https://herald.example.com:8443/@connections/abc%3D%2B', body,
                              context={'payload_signing_enabled': False}),
        signed_with_sigv4auth('GET with dot segments and double slashes', 'GET',
                              ENDPOINT + '/stage/./x/../@connections//abc%3D%2B/'),
        *signed_by_boto3_client(),
    ]


def swift_string(text):
    """A Swift string literal for `text`."""
    out = []
    for char in text:
        if char in '\\"':
            out.append('\\' + char)
        elif char == '\n':
            out.append('\\n')
        elif 0x20 <= ord(char) < 0x7F:
            out.append(char)
        else:
            out.append('\\u{%X}' % ord(char))
    return '"' + ''.join(out) + '"'


def swift_vector(v):
    headers = ''.join(f'            ({swift_string(n)}, {swift_string(value)}),\n'
                      for n, value in v['headers'])
    return (
        '    BotocoreVector(\n'
        f'        name: {swift_string(v["name"])},\n'
        f'        method: {swift_string(v["method"])},\n'
        f'        rawPath: {swift_string(v["rawPath"])},\n'
        f'        rawQuery: {swift_string(v["rawQuery"])},\n'
        f'        headers: [\n{headers}        ],\n'
        f'        body: {swift_string(v["body"].decode())},\n'
        f'        secret: {swift_string(v["secret"])},\n'
        f'        signedAt: {FIXED_EPOCH},\n'
        f'        canonicalRequest: {swift_string(v["canonicalRequest"])}\n'
        '    ),\n'
    )


def main():
    source = (
        f'// Generated by scripts/make-sigv4-vectors.py with botocore {botocore.__version__}; do not edit.\n'
        '// Each request was signed by botocore at 2026-11-25T12:34:56Z.\n\n'
        'let botocoreVectors: [BotocoreVector] = [\n'
        + ''.join(swift_vector(v) for v in all_vectors())
        + ']\n'
    )
    OUTPUT.write_text(source)
    print(f'wrote {OUTPUT}')


if __name__ == '__main__':
    main()
