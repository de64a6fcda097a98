"""Exit codes and defaults the command line needs before any AWS module is imported: kept
apart so that ``credrot credential-process``, run by SDKs at every refresh, starts fast."""

from datetime import timedelta

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_PROBLEMS = 3
EXIT_TIMEOUT = 4
EXIT_LOCKED_OUT = 5
EXIT_FILE = 6
EXIT_INTERRUPTED = 130

DEFAULT_ROTATION_TIMEOUT = 300.0
# Lambda's longest timeout: a younger AWSPENDING may belong to a rotation still running.
DEFAULT_UNSTICK_MIN_AGE = timedelta(minutes=15)
# What `credrot drill --consumers` accepts: every consumer is a user, a secret, a bucket and
# app workers inside the one drill process.
MAX_DRILL_CONSUMERS = 200
