"""The app library: what an application or a workload host installs and runs.

- ``client``: a boto3 Session whose credentials are a secret's current key, refreshed by
  themselves (public name: ``credrot.client.session``);
- ``credential_process``: ``credrot export`` (seed an AWS profile) and the
  ``credential_process`` output any AWS SDK reads;
- ``self_read``: refresh a key outside AWS by reading the secret with the key itself;
- ``key_cache``: the owner-only file that holds a workload's current key;
- ``secret``: the secret's stages, region, refresh default and rejected-key codes, and its
  value read and parsed by the rotation Lambda's own parser.

Needs boto3/botocore only.
"""
