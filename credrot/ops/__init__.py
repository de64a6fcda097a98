"""The operator CLI (``credrot``): status, rotate, revoke, unstick, export, sandbox.

``cli`` parses the command line and maps failures to exit codes (``limits``); ``commands``
holds one module per command; ``operations`` makes the AWS calls; ``health`` decides, from
plain data, what status reports. Needs boto3/botocore only.
"""
