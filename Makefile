# Two commands a new user needs: `make demo` and `make test`. Both build .venv first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
DEMO   := demo-out

.PHONY: install demo test docs bench bench-quick bench-frontier clean

install: $(VENV)/.installed

# torch is pinned to the CPU build first: a bare `torch` requirement would pull several GB of CUDA
# packages. The package's own `torch>=2.1` is then already satisfied.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "tabcompress needs Python >= 3.11"'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

demo: install
	$(PY) sample_data/train_teacher.py sample_data/bank_marketing_4k.csv $(DEMO)/teacher.joblib
	$(VENV)/bin/tabcompress distill $(DEMO)/teacher.joblib sample_data/bank_marketing_4k.csv \
		--out $(DEMO) --seed 0

test: install
	$(VENV)/bin/python -m pytest

# docs/options.md, written from the command line itself (tests/test_docs.py fails when it drifts).
docs: install
	$(PY) -m tabcompress.cli.reference > docs/options.md

# The full matrix (8 datasets × 2 teachers × 3 students × 8 methods × 3 seeds, about 1–2 hours on
# 2 cores; B4 and B5 add seconds), the no-data methods on the same splits and teachers (data-free, few-shot, adversarial MLP;
# about 1.5 hours more), then BENCHMARKS.md and its plots. BENCH_ARGS narrows it, e.g. BENCH_ARGS="--datasets magic".
BENCH_ARGS ?=
bench: install
	$(PY) bench/run.py $(BENCH_ARGS)
	$(PY) bench/nodata.py --seeds 0,1,2 --out bench/results/nodata.json
	$(PY) bench/datafree_gap.py > bench/results/datafree_gap.md
	$(PY) bench/render.py bench/results/full.json --nodata bench/results/nodata.json \
		--append bench/results/datafree_gap.md

# Students on the fidelity–size frontier, full size: each dataset's rows with 20 % held out (stratified),
# tabcompress's students and its search (--student auto) against B4 (the teacher cut to the student's
# bytes), B5 (the student's family and size on the true labels), B0, B1 and B3; its own page, beside the
# results. B2 is left out (CTGAN's 300 epochs on every training row: minutes per dataset and seed).
# About 17 minutes for magic, one seed, on 2 shared cores; the MLP cells take half of it.
# FRONTIER_ARGS adds to it, e.g. FRONTIER_ARGS="--datasets magic --seeds 0 --max-train-rows 20000".
FRONTIER_ARGS ?=
bench-frontier: install
	$(PY) bench/run.py --regime full --students tree4,tree8,mlp64x64,gbdt,linear,auto \
		--methods B0,B1,B3,B4,B5,tabcompress,oracle,frontier --name frontier_full $(FRONTIER_ARGS)
	$(PY) bench/render.py bench/results/frontier_full.json --md bench/results/frontier_full.md

bench-quick: install
	$(PY) bench/run.py --quick --datasets sample_data/bank_marketing_4k.csv --out bench/results/quick
	$(PY) bench/render.py bench/results/quick/quick.json --md bench/results/quick/BENCHMARKS.md

clean:
	rm -rf $(VENV) $(DEMO) build *.egg-info .pytest_cache
