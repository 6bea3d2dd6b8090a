# The two commands of the README: `make run` (the product) and `make test` (the tests).
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
PORT ?= 8501
export ANONYMIZED_TELEMETRY := False
export HF_HUB_OFFLINE := 1

.PHONY: run test test-slow test-browser install kb lint typecheck evals clean-kb

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# torch first, pinned: the CPU build on local disk (an unpinned one pulls a CUDA build of several GB)
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

## Build the default knowledge base (national laws): lexical index now, vectors behind it with a progress bar.
kb: $(STAMP)
	$(PY) -m ingest statutes --no-dense
	$(PY) -m ingest --fill-dense --background

## The product: install, build the default knowledge base, start the app on http://127.0.0.1:$(PORT)
run: kb
	$(VENV)/bin/streamlit run app.py --server.headless true --server.address 127.0.0.1 \
		--server.port $(PORT) --browser.gatherUsageStats false

## The tests (default suite, < 15 min on 2 cores)
test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(PY) -m pytest -q

# exit code 5 = no test collected: fine for an optional marker suite
test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow || test $$? -eq 5

test-browser: $(STAMP)
	$(PY) -m pytest -q -m browser || test $$? -eq 5

lint: $(STAMP)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check kb ingest evals tests app.py

typecheck: $(STAMP)
	$(VENV)/bin/mypy

clean-kb:
	rm -rf .kb
