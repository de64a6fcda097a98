"""The rehearsal sandbox: an embedded AWS emulator running the real rotation Lambda.

- ``emulator``: moto's ThreadedMotoServer in-process, patched where rotation needs AWS's
  behaviour;
- ``provision``: a consumer created with the component's own policy documents;
- ``drill``: the zero-downtime rotation rehearsal (``credrot drill``).

Needs the ``drill`` extra (moto): ``pip install "credrot[drill]"``.
"""
