"""CrossGuard policy pack of ai-credential-rotation (run with ``--policy-pack policy``).

Pulumi runs this folder as a script (``__main__.py``, with the folder on ``sys.path``); this
file only makes ``policy.guardrails`` importable by the tests and keeps mypy from confusing
``policy/__main__.py`` with the program's own ``__main__.py``.
"""
