# Two entry points for a fresh machine with Python 3.11:
#   make book   install everything into .venv, then build the book into _build/html
#   make test   install everything into .venv, then lint and run every test
#               (unit tests while the -W builds of both editions execute every notebook once,
#               then the checks of those builds: cells run, figures, numbers, browser, PDF)
#   make check  the quick loop: lint and the unit tests, no book build
# and the whole book as a PDF:
#   make pdf    the book and the student edition as PDFs (installs Debian's TeX when root)
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

.PHONY: book student-book test check nbval lint bench clean lab pdf tex

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
	$(BIN)/python -m companion.classroom student-edition _build/student
	@echo "Open _build/student/source/_build/html/index.html"

# The whole book as a PDF through Jupyter Book's LaTeX builder (xelatex), and the student
# edition's PDF without solutions, each from the Sphinx environment of its HTML build (no notebook
# runs twice). Both websites host the PDFs in pdf/, where the intro page links them.
PDF_NAME := gates-gradients-adversaries
STUDENT_SOURCE := _build/student/source
pdf: tex book student-book
	$(BIN)/jupyter-book build -W --keep-going --builder pdflatex .
	COMPANION_EDITION=student $(BIN)/jupyter-book build -W --keep-going --builder pdflatex $(STUDENT_SOURCE)
	mkdir -p _build/html/pdf $(STUDENT_SOURCE)/_build/html/pdf
	cp _build/latex/$(PDF_NAME).pdf _build/html/pdf/$(PDF_NAME).pdf
	cp $(STUDENT_SOURCE)/_build/latex/$(PDF_NAME).pdf _build/html/pdf/$(PDF_NAME)-student.pdf
	cp _build/html/pdf/$(PDF_NAME)-student.pdf $(STUDENT_SOURCE)/_build/html/pdf/
	@echo "PDFs: _build/html/pdf/$(PDF_NAME).pdf and _build/html/pdf/$(PDF_NAME)-student.pdf"

# Debian's TeX for the PDF (what the LaTeX builder and sphinx-jupyterbook-latex use): installed
# with apt-get when missing and run as root, otherwise a message naming the packages.
TEX_PACKAGES := texlive-xetex texlive-latex-extra texlive-fonts-extra latexmk xindy fonts-freefont-otf
tex:
	@missing=""; for p in $(TEX_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "Installing Debian's TeX packages:$$missing (about 2 GB)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	else \
	  echo "make pdf needs Debian's TeX packages:$$missing" >&2; \
	  echo "install them with: sudo apt-get install$$missing" >&2; exit 1; \
	fi

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

# The contributors' quick loop: lint and every test that needs no book build.
check: $(STAMP) lint
	$(BIN)/python -m pytest -m "not build"; status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; \
	exit $$status

# nbval itself on every notebook (make test checks the same on the book build's execution).
nbval: $(STAMP)
	$(BIN)/python -m pytest book; status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no notebooks: failing" >&2; exit 1; fi; \
	exit $$status

# JupyterLab on the course folder (open a chapter under book/). Jupyter refuses to run as root
# (CI, containers) without --allow-root.
lab: $(STAMP)
	$(BIN)/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root)

bench: $(STAMP)
	$(BIN)/python benchmarks/chapters.py

clean:
	rm -rf _build .pytest_cache
