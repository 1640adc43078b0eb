# gngan: two commands for a newcomer.
#   make book   set up .venv, execute every notebook at BUDGET (default cpu: reuses results/), build the HTML
#   make test   unit tests, then every notebook at BUDGET=smoke and the book built from them (what CI runs)
# Options: make book BUDGET=paper DEVICE=cuda; PYTHON=python3.11 make venv.

PYTHON ?= python3
BUDGET ?= cpu
DEVICE ?= cpu
# A warning (e.g. a chapter listed in book/_toc.yml that was not produced) fails the build;
# --keep-going reports all of them first.
JB_FLAGS ?= --warningiserror --keep-going

VENV := .venv
BIN := $(VENV)/bin
NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb))

.PHONY: venv book test clean

venv: $(VENV)/.installed

# pip takes torch/torchvision from its configured sources; GPU users: see README.
# The ipykernel wheel already puts a `python3` kernelspec into the venv, and Jupyter prefers the
# venv's kernelspecs over the user's; installing it again records the venv's python by absolute path.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -e ".[book,test]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3
	touch $@

# Execute each notebook with papermill into book/chapters/ (the kernel runs in notebooks/), then
# build the book from the executed copies (the book itself never executes anything).
book: venv
	rm -rf book/chapters book/_build
	mkdir -p book/chapters
	set -e; for nb in $(NOTEBOOKS); do \
	  $(BIN)/papermill $$nb book/chapters/$$(basename $$nb) \
	    -p budget $(BUDGET) -p device $(DEVICE) -k python3 --cwd notebooks; \
	done
	$(BIN)/jupyter-book build book $(JB_FLAGS)
	@echo "Book built at budget=$(BUDGET). Open: $(CURDIR)/book/_build/html/index.html"

# Smoke runs are scratch (results/smoke/ is git-ignored): start afresh so they really train.
test: venv
	$(BIN)/pytest -q
	rm -rf results/smoke
	$(MAKE) book BUDGET=smoke

clean:
	rm -rf book/_build book/chapters results/smoke .pytest_cache
	@echo "Kept $(VENV)/ and data/ (caches); remove them by hand for a full reset."
