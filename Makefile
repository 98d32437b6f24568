# The two commands a fresh clone needs (README):  make demo   and   make test
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
export PATH := $(abspath $(BIN)):$(PATH)
export COURSE_NUM_THREADS ?= 2
export OMP_NUM_THREADS ?= $(COURSE_NUM_THREADS)
export OPENBLAS_NUM_THREADS ?= $(COURSE_NUM_THREADS)
export MKL_NUM_THREADS ?= $(COURSE_NUM_THREADS)
# Idle OpenMP threads sleep instead of spinning: on a busy machine spinning threads made a 14 s
# notebook take over 300 s (measured while six builds shared two cores); results are unchanged.
export OMP_WAIT_POLICY ?= PASSIVE
export MKL_WAIT_POLICY ?= PASSIVE

LINT_PATHS := course_utils autograder solutions tests benchmarks scripts

.PHONY: install demo lint test test-fast test-notebooks test-browser nbval build release audit bench gpu-check clean

# The instructor's install (the grader's stack and the test tools) with CI's exact pins. torch: the
# CPU build on a machine without an NVIDIA GPU (scripts/torch_choice.py says which build and why);
# the long step shows pip's progress. A student installs only course_utils: see `course-grader publish`.
$(STAMP): pyproject.toml requirements/ci.txt scripts/torch_choice.py
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install --progress-bar on -c requirements/ci.txt \
	  $$($(BIN)/python scripts/torch_choice.py) -e ".[instructor,test]"
	touch $(STAMP)

install: $(STAMP)

## Release every module, grade the example submissions, print the grade table, export CSV.
demo: $(STAMP)
	$(BIN)/course-grader demo --jobs 2

## Everything CI runs: lint, fast tests in parallel, then notebook runs one at a time, then nbval.
test: $(STAMP)
	$(MAKE) lint test-fast test-notebooks nbval

## ruff on the helpers, the grader, the module scripts, the tests and the benchmarks (pyproject's [tool.ruff]).
lint: $(STAMP)
	$(BIN)/ruff check $(LINT_PATHS)

test-fast: $(STAMP)
	$(BIN)/python -m pytest -n 2 -m "not notebooks and not browser" -q

test-notebooks: $(STAMP)
	$(BIN)/python -m pytest -p no:xdist -m notebooks -q --durations=12

## JupyterLab in headless Chromium on every student notebook (needs /usr/bin/chromium: .ci/setup-browser).
## Its own CI stage, after `make test`. Screenshots: browser-artifacts/ (BROWSER_ARTIFACTS).
BROWSER_ARTIFACTS ?= $(abspath browser-artifacts)
test-browser: $(STAMP)
	COURSE_BROWSER_ARTIFACTS=$(BROWSER_ARTIFACTS) $(BIN)/python -m pytest -p no:xdist -m browser -v --tb=short; \
	  rc=$$?; echo "test-browser: screenshots and timings in $(BROWSER_ARTIFACTS)"; exit $$rc

nbval: $(STAMP)
	$(BIN)/python -m pytest -p no:xdist --nbval solutions --nbval-sanitize-with tests/nbval_sanitize.cfg -q

build: $(STAMP)
	$(BIN)/course-grader build all

release: $(STAMP)
	$(BIN)/course-grader release all

audit: $(STAMP)
	$(BIN)/course-grader audit

bench: $(STAMP)
	$(BIN)/python benchmarks/conv_im2col.py
	$(BIN)/python benchmarks/conv_im2col.py --dtype float64
	$(BIN)/python benchmarks/grading.py m1_neurons --copies 4

## On a machine with an NVIDIA GPU: every notebook on the GPU (nbval lax), its CPU time beside it,
## and the example submissions graded. Installs the CUDA build of torch into .venv-gpu/ (PyPI's
## Linux build) unless GPU_PY names a Python that already has one. Stops at once without a GPU.
GPU_VENV ?= .venv-gpu
GPU_PY   ?=
gpu-check:
	@if ! { command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; }; then \
	  echo "gpu-check: no NVIDIA GPU on this machine (nvidia-smi finds none). Run it on a CUDA machine; nothing was installed."; \
	  exit 3; fi
ifeq ($(GPU_PY),)
	test -x $(GPU_VENV)/bin/python || $(PY) -m venv $(GPU_VENV)
	$(GPU_VENV)/bin/python -m pip install -q --upgrade pip
	$(GPU_VENV)/bin/python -m pip install --progress-bar on -c requirements/ci.txt -e ".[instructor,test]"
	$(GPU_VENV)/bin/python scripts/gpu_check.py
else
	$(GPU_PY) scripts/gpu_check.py
endif

clean:
	rm -rf autograder/workspace .pytest_cache gpu-check
