# The two commands a newcomer needs: `make demo` and `make test`.
# Both create .venv (python3 -m venv + pip install -e '.[dev]') when it is missing or stale.
PY ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
BIN := $(VENV)/bin
DEMO_OUT ?= demo

.PHONY: demo test test-slow lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/infomin demo --out $(DEMO_OUT)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) $(DEMO_OUT)
