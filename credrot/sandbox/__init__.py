"""The rehearsal sandbox: AWS emulated by moto, running the real rotation Lambda.

- ``aws``: the in-process sandbox (``mock_aws``) where a driver runs the handler step by
  step, in either function mode; its shared sessions, fault injector, API-call counter and
  invariant checker serve the tests, the benches and the drill alike;
- ``fault_matrix``: every AWS call of a rotation and the sweep, failed four ways, then
  recovered (``bench/faults.py`` runs it whole, ``tests/resilience`` a subset);
- ``emulator``: moto's ThreadedMotoServer in-process with IAM authentication, patched where
  rotation needs AWS's behaviour, running the handler when Secrets Manager invokes it;
- ``provision``: a consumer created with the component's own policy documents;
- ``drill``: the zero-downtime rotation rehearsal (``credrot drill``); ``practice``:
  ``credrot sandbox``.

Needs the ``drill`` extra (moto): ``pip install "credrot[drill]"``.
"""
