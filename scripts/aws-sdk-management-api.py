#!/usr/bin/env python3
"""Drive Herald's @connections API with the AWS SDK for Python, unchanged.

A backend written for API Gateway's WebSocket Management API only needs Herald's URL as the
endpoint and a publish key as the secret access key (any access key id):

    python3 scripts/aws-sdk-management-api.py URL PUBLISH_KEY CONNECTION_ID

It posts to the connection, reads it back, checks that a wrong key and an unknown id fail the
way API Gateway's do, then deletes the connection. Each step prints one JSON line; the tests
(AWSSDKTests) read them.
"""
import json
import sys

import boto3
import botocore.exceptions


def client(url, secret):
    return boto3.client(
        'apigatewaymanagementapi',
        endpoint_url=url,
        region_name='us-east-1',
        aws_access_key_id='herald',
        aws_secret_access_key=secret,
    )


def main(url, key, connection_id):
    herald = client(url, key)
    herald.post_to_connection(ConnectionId=connection_id, Data=b'{"from":"boto3"}')
    print(json.dumps({'step': 'post', 'ok': True}), flush=True)

    described = herald.get_connection(ConnectionId=connection_id)
    print(json.dumps({
        'step': 'get',
        'sourceIp': described['Identity']['SourceIp'],
        'connectedAt': described['ConnectedAt'].isoformat(),
        'lastActiveAt': described['LastActiveAt'].isoformat(),
    }), flush=True)

    try:
        client(url, 'not-a-publish-key').post_to_connection(ConnectionId=connection_id, Data=b'x')
        print(json.dumps({'step': 'wrong-key', 'status': 200}), flush=True)
    except botocore.exceptions.ClientError as error:
        print(json.dumps({'step': 'wrong-key', 'status': error.response['ResponseMetadata']['HTTPStatusCode']}), flush=True)

    try:
        herald.post_to_connection(ConnectionId='L0SM9cOFvHcCIhw=', Data=b'x')
        print(json.dumps({'step': 'unknown', 'error': None}), flush=True)
    except herald.exceptions.GoneException:
        print(json.dumps({'step': 'unknown', 'error': 'GoneException'}), flush=True)

    herald.delete_connection(ConnectionId=connection_id)
    print(json.dumps({'step': 'delete', 'ok': True}), flush=True)


if __name__ == '__main__':
    main(*sys.argv[1:4])
