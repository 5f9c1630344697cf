# Borrower Guard. `make run` and `make test` are the two commands of the README's quick start.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run chat test test-fast lint check bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $(STAMP)

run: $(STAMP)  ## start the bot with the embedded defaults
	$(BIN)/python -m bot run

chat: $(STAMP)  ## terminal chat
	$(BIN)/python -m bot chat

check: $(STAMP)  ## validate content/ and dialogs/
	$(BIN)/python -m bot check

lint: $(STAMP)
	$(BIN)/ruff check .

test: $(STAMP)  ## ruff, mypy, content check and the whole test suite
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m bot check
	$(BIN)/python -m pytest

test-fast: $(STAMP)  ## the quick loop: everything but the tests that start processes
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -m "not processes" -x

bench: $(STAMP)  ## benchmarks (figures quoted in the README)
	$(BIN)/python bench/engine.py
	@for f in bench/*.py; do case $$f in bench/engine.py) ;; *) echo; $(BIN)/python $$f || exit 1;; esac; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
