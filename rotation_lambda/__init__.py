"""Rotation Lambda: rotates IAM users' access keys stored in Secrets Manager secrets.

Entry point: rotation_lambda.handler.lambda_handler. No imports here: loading the package
costs nothing beyond the modules the handler needs.
"""
