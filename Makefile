# Two commands for a fresh clone: `make chat` and `make test`. Both set everything up first.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PYTHON ?= python3

.PHONY: setup chat test test-fast lint bench llm-venv clean

$(STAMP): pyproject.toml scripts/build-llama-server.sh scripts/system-deps.sh
	scripts/system-deps.sh
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel
	$(PY) -m pip install -q -e '.[local,dev,evals,rag]'
	scripts/build-llama-server.sh $(PY)
	touch $(STAMP)

setup: $(STAMP)

chat: setup
	$(VENV)/bin/assistant chat

# Everything, the slow end-to-end tests against the real local model included.
test: setup
	$(PY) -m pytest -ra

# Only the fast tests (scripted server, unit tests).
test-fast: setup
	$(PY) -m pytest -ra -m "not slow"

lint: setup
	$(VENV)/bin/ruff check assistant tests benchmarks tools evals
	$(VENV)/bin/ruff format --check assistant evals
	$(VENV)/bin/mypy

bench: setup llm-venv
	$(PY) benchmarks/run_all.py

# `llm` (PyPI), the peer benchmarks/bench_first_answer.py compares against, in a venv of its own
# (benchmarks/.llm-venv): not a dependency of the project.
llm-venv:
	PYTHON=$(PYTHON) scripts/llm-bench-venv.sh

clean:
	rm -rf $(VENV) build *.egg-info
