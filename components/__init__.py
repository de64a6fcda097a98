"""Pulumi components of ai-credential-rotation.

Import the component from ``components.rotated_access_key``; this package's ``__init__``
stays free of Pulumi so that pure modules (``components.iam_policies``) can be used by the
credrot drill and the tests without loading the Pulumi SDK.
"""
