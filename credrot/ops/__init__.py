"""The operator CLI (``credrot``): status, rotate, revoke, unstick, export, sandbox.

``cli`` parses the command line; ``operations`` makes the AWS calls; ``health`` decides,
from plain data, what status reports. Needs boto3/botocore only.
"""
