# The two Quickstart commands, `make demo` and `make test`, each do the whole set-up.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
OUT    ?= demo_out
EXTRAS ?= test,demo,docs,bench

.PHONY: demo test lint docs bench dot clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[$(EXTRAS)]"
	touch $(STAMP)

venv: $(STAMP)

dot:
	@sh scripts/ensure_dot.sh

demo: $(STAMP) dot
	$(PY) -m tinygrad_memo demo --out $(OUT)

test: $(STAMP) dot
	$(PY) -m ruff check tinygrad_memo tests examples benchmarks
	$(PY) -m pytest -q

lint: $(STAMP)
	$(PY) -m ruff check tinygrad_memo tests examples benchmarks

docs: $(STAMP)
	$(PY) -m mkdocs build --strict

bench: $(STAMP)
	$(PY) -m tinygrad_memo bench

clean:
	rm -rf $(VENV) $(OUT) site .pytest_cache .hypothesis
