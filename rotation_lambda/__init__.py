"""Rotation Lambda: rotates one IAM user's access key stored in a Secrets Manager secret.

Entry point: rotation_lambda.handler.lambda_handler. Kept free of imports so that loading the
package costs nothing beyond the modules the handler needs.
"""
