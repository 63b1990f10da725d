# `make demo` and `make test` set everything up on a fresh machine with Python 3.11 and pip.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# The stamp is a copy of the requirements the venv was built from: a changed requirements.txt
# makes it stale and the venv is rebuilt.
STAMP := $(VENV)/requirements.installed
WORKDIR ?= workdir/demo
PYTEST_ARGS ?=

.PHONY: demo test venv clean

venv: $(STAMP)

$(STAMP): requirements.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), f"walt3d_jax needs Python 3.11, found {sys.version}"'
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	cp requirements.txt $(STAMP)

demo: $(STAMP)
	$(PY) launch.py --config experiments/demo.py --workdir $(WORKDIR)

# One pytest-xdist worker per core, whole test files per worker (their module fixtures, e.g.
# compiled models, are built once): the suite is ~13 CPU-minutes, mostly single-threaded XLA.
test: $(STAMP)
	$(PY) -m pytest tests -q -n auto --dist loadfile $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) workdir .pytest_cache .hypothesis
