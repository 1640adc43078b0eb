# gngan: two commands for a newcomer.
#   make book   set up .venv, execute every notebook at BUDGET (default cpu: reuses results/), build the HTML
#   make test   unit tests, then every notebook at BUDGET=smoke and the book built from them (what CI runs)
# Options: make book BUDGET=paper DEVICE=cuda BOOK_THREADS=8; PYTHON=python3.11 make venv.

PYTHON ?= python3
BUDGET ?= cpu
DEVICE ?= cpu
# torch threads of the notebooks' kernels: the 1D/2D networks are tiny, and two threads per process on a busy
# machine run them 10-30x slower than one (measured: the 2D smoke sweep's settings, 1-3 s vs 12-42 s each)
BOOK_THREADS ?= 1
# A warning (e.g. a chapter listed in book/_toc.yml that was not produced) fails the build;
# --keep-going reports all of them first.
JB_FLAGS ?= --warningiserror --keep-going

VENV := .venv
BIN := $(VENV)/bin
NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb))

.PHONY: venv book test browser-test clean

venv: $(VENV)/.installed

# pip takes torch/torchvision from its configured sources; GPU users: see README.
# The ipykernel wheel already puts a `python3` kernelspec into the venv, and Jupyter prefers the
# venv's kernelspecs over the user's; installing it again records the venv's python by absolute path.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -e ".[book,test]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3
	touch $@

# MathJax served with the book, so equations render offline: the npm registry's tarball, checked by its
# sha256 (the value the registry's sha512 integrity agrees with), unpacked into book/_vendor (git-ignored; published as _static/mathjax).
MATHJAX_VERSION := 3.2.2
MATHJAX_SHA256 := 1b9c0a1c44df864e915690558e72adb9cc5203360daefd385084ced3b6c64c09
MATHJAX := book/_vendor/mathjax/tex-mml-chtml.js

$(MATHJAX):
	rm -rf book/_vendor/mathjax .mathjax-tmp && mkdir -p .mathjax-tmp book/_vendor
	cd .mathjax-tmp && npm pack --silent mathjax@$(MATHJAX_VERSION) >/dev/null
	echo "$(MATHJAX_SHA256)  .mathjax-tmp/mathjax-$(MATHJAX_VERSION).tgz" | sha256sum --check --quiet
	tar -xzf .mathjax-tmp/mathjax-$(MATHJAX_VERSION).tgz -C .mathjax-tmp
	mv .mathjax-tmp/package/es5 book/_vendor/mathjax && rm -rf .mathjax-tmp

# Execute each notebook with papermill into book/chapters/ (the kernel runs in notebooks/), then
# build the book from the executed copies (the book itself never executes anything).
book: venv $(MATHJAX)
	rm -rf book/chapters book/_build
	mkdir -p book/chapters
	set -e; for nb in $(NOTEBOOKS); do \
	  OMP_NUM_THREADS=$(BOOK_THREADS) $(BIN)/papermill $$nb book/chapters/$$(basename $$nb) \
	    -p budget $(BUDGET) -p device $(DEVICE) -k python3 --cwd notebooks; \
	done
	$(BIN)/python -m gngan book-tags book/chapters/*.ipynb
	$(BIN)/jupyter-book build book $(JB_FLAGS)
	@echo "Book built at budget=$(BUDGET). Open: $(CURDIR)/book/_build/html/index.html"

# Smoke runs are scratch (results/smoke/ is git-ignored): start afresh so they really train.
test: venv
	$(BIN)/pytest -q
	rm -rf results/smoke
	$(MAKE) book BUDGET=smoke
	$(MAKE) browser-test

# Opens every page of the built book in headless Chromium (Debian's `chromium`; screenshots in
# book/_build/screenshots/).
browser-test: venv
	$(BIN)/pytest -q -m browser tests/test_book_browser.py

clean:
	rm -rf book/_build book/chapters book/_vendor/mathjax results/smoke .pytest_cache
	@echo "Kept $(VENV)/ and data/ (caches); remove them by hand for a full reset."
