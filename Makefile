# Two commands a new user needs: `make demo` and `make test`. Both build .venv first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
DEMO   := demo-out

.PHONY: install demo test docs bench bench-quick bench-frontier bench-latency bench-memory bench-scale clean

install: $(VENV)/.installed

# torch is pinned to the CPU build first: a bare `torch` requirement would pull several GB of CUDA
# packages. The package's own `torch>=2.1` is then already satisfied.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "tabcompress needs Python >= 3.11"'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev,export,lightgbm,catboost,dask,bench]'
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

# The full matrix (8 datasets × 4 teachers (forest, XGBoost, LightGBM, CatBoost) × 3 students × 8 methods
# × 3 seeds; 1–2 hours on 2 cores for the first two teachers, about as long again for the other two; B4 and B5
# add seconds), the no-data methods on the same splits and teachers (data-free, few-shot, adversarial MLP;
# about 1.5 hours more for two teachers), then BENCHMARKS.md and its plots. BENCH_ARGS narrows it, e.g.
# BENCH_ARGS="--datasets magic --teachers lgbm,catboost".
BENCH_ARGS ?=
bench: install
	$(PY) bench/run.py $(BENCH_ARGS)
	$(PY) bench/nodata.py --seeds 0,1,2 --out bench/results/nodata.json
	$(PY) bench/datafree_gap.py > bench/results/datafree_gap.md
	$(PY) bench/render.py bench/results/full.json --nodata bench/results/nodata.json \
		--append bench/results/datafree_gap.md

# Students on the fidelity–size frontier, full size: each dataset's rows with 20 % held out (stratified;
# at most 20,000 training rows, 100,000 synthetic rows), tabcompress's search (--student auto, asked for
# the most faithful student within 1 % of the teacher's bytes) with B4 (the teacher cut to each
# candidate's bytes) and B5 (the candidate's family and size on the true labels) at every size it tried.
# About 36 minutes for 8 datasets, two teachers, one seed, on 2 cores (two processes side by side; letter's
# 26-class forest takes 22 of them).
# FRONTIER_ARGS adds to it, e.g. FRONTIER_ARGS="--datasets magic".
FRONTIER_ARGS ?=
bench-frontier: install
	$(PY) bench/run.py --regime full --max-train-rows 20000 --set synthetic_max_rows=100000 \
		--frontier-share 0.01 --methods frontier --students auto --teachers rf,xgb --seeds 0 --name frontier_full \
		$(FRONTIER_ARGS)
	$(PY) bench/render.py bench/results/frontier_full.json --md bench/results/frontier_full.md

# Serving latency side by side: per dataset, the RF300 teacher (full regime, at most 20,000 training rows)
# as loaded and in onnxruntime (skl2onnx), against its default student (a depth-6 tree) as the Python
# wrapper, ONNX in onnxruntime, compiled C (cc -O2) and the Python export: one-row and 10,000-row latency
# and bytes, with the ratios. About 20 minutes for 8 datasets on 2 cores (one process; the timings want a
# quiet machine). LATENCY_ARGS adds to it, e.g. LATENCY_ARGS="--datasets magic --teachers rf,xgb".
LATENCY_ARGS ?=
bench-latency: install
	$(PY) bench/latency.py $(LATENCY_ARGS)

# `distill` with default settings on a 5M-row CSV: wall time and peak memory (/usr/bin/time -v).
bench-memory: install
	$(PY) bench/big_csv.py --rows 5000000

# Labelling on a two-worker local Dask cluster against one process: a 500-tree forest (fitted on
# magic) labels SCALE_ROWS synthetic rows both ways; wall time and peak RSS per process, answers
# checked identical (docs/scale.md). About 1.5 minutes for 1M rows and 10 for 10M on 2 cores.
SCALE_ROWS ?= 1000000
bench-scale: install
	$(PY) bench/scale.py --rows $(SCALE_ROWS)

bench-quick: install
	$(PY) bench/run.py --quick --datasets sample_data/bank_marketing_4k.csv --out bench/results/quick
	$(PY) bench/render.py bench/results/quick/quick.json --md bench/results/quick/BENCHMARKS.md

clean:
	rm -rf $(VENV) $(DEMO) build *.egg-info .pytest_cache
