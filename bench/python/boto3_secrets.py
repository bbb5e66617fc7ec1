"""Peer baseline: boto3 reading AWS Secrets Manager secrets, as a job script would.

One STS `AssumeRoleWithWebIdentity` with the job's ID token and role, then a
Secrets Manager client with the temporary credentials, then either
`GetSecretValue` for each secret in turn (`get`, what a typical script does)
or one `BatchGetSecretValue` of every id (`batch`, at most 20 ids per call,
as the API allows). Prints a JSON object of the `SecretString` values by id,
so the harness can check that every secret was read.

Usage: boto3_secrets.py get|batch ENDPOINT REGION ROLE_ARN ID_TOKEN SECRET_ID...
"""

import json
import sys
import time

import boto3


def main() -> int:
    mode, endpoint, region, role_arn, token, *secret_ids = sys.argv[1:]
    sts = boto3.client("sts", region_name=region, endpoint_url=endpoint)
    assumed = sts.assume_role_with_web_identity(
        RoleArn=role_arn,
        RoleSessionName=str(time.time_ns()),
        WebIdentityToken=token,
    )
    credentials = assumed["Credentials"]
    client = boto3.client(
        "secretsmanager",
        region_name=region,
        endpoint_url=endpoint,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )
    values = {}
    if mode == "get":
        for secret_id in secret_ids:
            values[secret_id] = client.get_secret_value(SecretId=secret_id)["SecretString"]
    elif mode == "batch":
        for start in range(0, len(secret_ids), 20):
            answer = client.batch_get_secret_value(SecretIdList=secret_ids[start : start + 20])
            if answer.get("Errors"):
                print(json.dumps(answer["Errors"], default=str), file=sys.stderr)
                return 1
            for secret in answer["SecretValues"]:
                values[secret["Name"]] = secret["SecretString"]
    else:
        print(f"unknown mode {mode!r}: get or batch", file=sys.stderr)
        return 2
    json.dump(values, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
