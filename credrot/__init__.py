"""credrot: the application side of ai-credential-rotation, split by audience.

- ``credrot.app`` (and ``credrot.client``, its stable public name): the app library that
  app teams and workload hosts install: a self-refreshing boto3 Session, the key cache,
  self-read and ``credential_process`` for hosts outside AWS. Needs boto3 only.
- ``credrot.ops``: the ``credrot`` command (status, rotate, revoke, unstick, export,
  credential-process, sandbox, drill). Needs boto3 only.
- ``credrot.sandbox``: the rehearsal sandbox (emulator, provisioning, drill); needs the
  ``drill`` extra (moto).

Importing the package imports nothing else.
"""
