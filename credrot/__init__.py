"""credrot: the application side of ai-credential-rotation.

- ``credrot.client``: a boto3 Session whose credentials are a secret's current access key,
  refreshed by themselves (what app teams import);
- ``python -m credrot``: the operator CLI (status, rotate, revoke, unstick) and the drill,
  a zero-downtime rotation rehearsal on an embedded AWS emulator;
- for workloads outside AWS: ``python -m credrot export`` seeds an AWS profile whose
  ``credential_process`` (``python -m credrot credential-process``) refreshes the key by
  reading its own secret (``credrot.credential_process``, ``credrot.self_read``,
  ``credrot.key_cache``); ``credrot.client.session(..., self_read=True)`` does the same
  in-process.

Importing the package imports nothing else: the client needs only boto3, and the emulator
(moto, rotation_lambda, components.iam_policies) is loaded only by the drill.
"""
