# Two commands for a new user: `make demo` and `make test`. Both install first when needed.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test test-portable lint bench docs clean

install: $(STAMP)

# A torch already importable by $(PY) is kept (the venv sees system packages); otherwise the
# CPU build pinned in constraints/cpu.txt is installed.
$(STAMP): pyproject.toml constraints/cpu.txt
	@if $(PY) -c "import torch" >/dev/null 2>&1; then \
	    echo "ann: using the torch already installed for $(PY)"; \
	    $(PY) -m venv --system-site-packages $(VENV); \
	    $(BIN)/pip install -q -e ".[dev,peers,export,serve,tensorboard,docs]"; \
	else \
	    $(PY) -m venv $(VENV); \
	    $(BIN)/pip install -q -c constraints/cpu.txt -e ".[dev,peers,export,serve,tensorboard,docs]"; \
	fi
	@touch $(STAMP)

demo: install
	$(BIN)/ann tour

# One worker per core (pytest-xdist); a module's tests stay on one worker, so its fixtures train
# once.
test: install
	$(BIN)/python -m pytest -q -n auto --dist loadscope

# Every convergence test under seeds 0-4 at 1 and 2 torch threads (about 10x their share of
# `make test`): a threshold that holds for one seed or one CPU's rounding fails here.
test-portable: install
	$(BIN)/python -m pytest -q -m convergence --portable

# The documentation site in build/site: docs/gen.py writes a page per family from the recipes and
# the command line reference from the parser; mkdocstrings reads the API from the docstrings.
# Strict: a broken reference or page fails the build.
docs: install
	$(BIN)/python docs/gen.py
	$(BIN)/python -m mkdocs build --strict

# ruff, then the import-layer contract of pyproject.toml ([tool.importlinter]).
lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/lint-imports

bench: install
	$(BIN)/python benchmarks/recipes.py

clean:
	rm -rf $(VENV) runs tour test-artifacts .pytest_cache
