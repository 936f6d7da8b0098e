# Two entry points for a fresh machine with Python 3.11:
#   make book   install everything into .venv, then build the book into _build/html
#   make test   install everything into .venv, then lint and run every test
#               (unit tests, every notebook under nbval, the -W book build)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

export COMPANION_PROGRESS ?= 0
# One torch thread: the budget every chapter is held to, and the same numbers on any machine.
export OMP_NUM_THREADS ?= 1
export PYTHONHASHSEED = 0

# Local copies of the CDN scripts the book's pages load, for the offline browser test.
ASSETS ?= $(HOME)/.cache/gga-browser
ASSETS_STAMP := $(ASSETS)/.installed
export COMPANION_BROWSER_ASSETS := $(ASSETS)

.PHONY: book student-book test lint bench clean lab

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

book: $(STAMP)
	$(BIN)/jupyter-book build -W --keep-going .
	@echo "Open _build/html/index.html"

# The student edition: the same book with every solution removed (see book/instructors.md).
student-book: $(STAMP)
	$(BIN)/python -m companion.instructor student-edition _build/student
	@echo "Open _build/student/source/_build/html/index.html"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

$(ASSETS_STAMP):
	@if command -v npm >/dev/null 2>&1; then \
	  npm install --prefix $(ASSETS) --silent --no-audit --no-fund \
	    mathjax@3 requirejs@2.3.4 @jupyter-widgets/html-manager@1.0.6 && touch $(ASSETS_STAMP); \
	else echo "npm not found: the browser test will be skipped (it says why)"; fi

# pytest's exit code 5 means it collected no test: that is a failure here, never a pass.
test: $(STAMP) lint $(ASSETS_STAMP)
	$(BIN)/python -m pytest; status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; \
	exit $$status

# JupyterLab on the course folder (open a chapter under book/). Jupyter refuses to run as root
# (CI, containers) without --allow-root.
lab: $(STAMP)
	$(BIN)/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root)

bench: $(STAMP)
	$(BIN)/python benchmarks/chapters.py

clean:
	rm -rf _build .pytest_cache
