"""``credrot revoke``: the emergency path for a leaked key."""

from __future__ import annotations

import argparse
import json

from credrot.ops.commands.base import Command
from credrot.ops.commands.rotate import add_rotation_options, rotation_json, wait_for
from credrot.ops.limits import EXIT_OK


class Revoke(Command):
    name = "revoke"
    summary = "emergency: rotate, then deactivate the previous key at once"
    description = """\
The emergency path for a leaked key: rotate, then immediately deactivate the previous key
(the one that was current until now) instead of waiting for the grace period. The new
current key is never touched. A key still in its grace from an earlier rotation, which
this rotation must delete, is deactivated first. Apps using credrot.client re-read the
secret on their next rejected call and carry on; anything else still holding the old key
stops working."""
    examples = """\
examples:
  credrot revoke ai-credential-rotation/bot
  credrot status ai-credential-rotation/bot   # check the result
"""

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        add_rotation_options(parser)
        parser.add_argument("--json", action="store_true", help="print the result as JSON")

    def run(self, args: argparse.Namespace) -> int:
        from credrot.ops import operations

        result = wait_for(operations.revoke, args, f"revoking: rotating {args.secret}")
        if args.json:
            print(
                json.dumps(
                    {
                        **rotation_json(result.rotation),
                        "user": result.user_name,
                        "deactivated_key_id": result.deactivated_key_id,
                        "note": result.note,
                    },
                    indent=2,
                )
            )
            return EXIT_OK
        if result.rotation.deactivated_first:
            print(
                f"Deactivated the earlier previous key {result.rotation.deactivated_first}"
                " first: it was still inside its grace and the rotation deletes it."
            )
        print(
            f"Rotated {args.secret} in {result.rotation.seconds:.1f} s: the current key is now"
            f" {result.rotation.current_key_id}."
        )
        if result.deactivated_key_id:
            print(
                f"Deactivated the previous key {result.deactivated_key_id} of user"
                f" {result.user_name}: it no longer authenticates; {result.note}."
            )
            print("Apps using credrot.client re-read the secret on their next rejected call.")
        else:
            print(f"Deactivated no key: {result.note}.")
        return EXIT_OK
