# Every target builds .venv from the hash-locked requirements first, so each README command
# works alone on a fresh machine. pip installs only the pinned uv (requirements/bootstrap.lock);
# uv installs the rest, about 20 times faster than pip. PYTHONDONTWRITEBYTECODE keeps
# __pycache__ out of rotation_lambda/, which is packaged as the Lambda's code.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LOCK_FLAGS := --quiet --generate-hashes --python-version 3.11 --custom-compile-command "make lock"
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: drill test lint bench lock clean

$(BIN)/.installed: requirements.txt requirements/bootstrap.lock requirements/dev.lock
	@echo "Setting up $(VENV) from the hash-locked requirements (about half a minute the first time)..."
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install --quiet --disable-pip-version-check --require-hashes \
		-r requirements/bootstrap.lock
	@$(BIN)/uv pip install --quiet --python $(BIN)/python --require-hashes -r requirements.txt
	@touch $@

## drill: the zero-downtime rotation drill on an embedded AWS emulator (no AWS account needed)
drill: $(BIN)/.installed
	$(BIN)/python -m credrot drill

## test: linters, type checks and the whole test suite
test: $(BIN)/.installed lint
	$(BIN)/python -m pytest

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy rotation_lambda credrot components policy bench __main__.py

## bench: performance figures (tables on stdout, JSON under bench/results/)
bench: $(BIN)/.installed
	$(BIN)/python bench/run_all.py

## lock: regenerate the hash-locked files from requirements/*.in and policy/requirements.in
# dev.lock first: the runtime and the policy pack take its versions, so what the tests run
# is what deploys.
lock: $(BIN)/.installed
	cd requirements && ../$(BIN)/uv pip compile $(LOCK_FLAGS) dev.in -o dev.lock
	cd requirements && ../$(BIN)/uv pip compile $(LOCK_FLAGS) runtime.in -c dev.lock \
		-o runtime.lock
	cd requirements && ../$(BIN)/uv pip compile $(LOCK_FLAGS) bootstrap.in -o bootstrap.lock
	cd policy && ../$(BIN)/uv pip compile $(LOCK_FLAGS) requirements.in \
		-c ../requirements/dev.lock -o requirements.txt

clean:
	rm -rf $(VENV) bench/results
