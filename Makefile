# Fresh-machine entry points. `make test` = what CI runs; `make demo` = the main job.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv test test-all lint demo clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch pinned: the CPU wheel on disk; an unpinned torch pulls a CUDA build.
	$(BIN)/pip install -q "torch==2.13.0"
	$(BIN)/pip install -q -e ".[all,dev]"
	touch $(STAMP)

venv: $(STAMP)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -m "not gpu and not trt" -q --durations=15

lint: $(STAMP)
	$(BIN)/ruff check .

demo: $(STAMP)
	BIN=$(BIN) bash tools/demo.sh

clean:
	rm -rf $(VENV) .pytest_cache
