# Every target builds .venv from requirements.txt first, so each README command works alone
# on a fresh machine. PYTHONDONTWRITEBYTECODE keeps __pycache__ out of rotation_lambda/,
# which is packaged as the Lambda's code.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: drill test lint bench clean

$(BIN)/.installed: requirements.txt
	@echo "Setting up $(VENV) from requirements.txt (about a minute the first time)..."
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	@$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
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

clean:
	rm -rf $(VENV) bench/results
