# The two entry points a new user needs (see README.md):
#   make demo   set everything up, then run the end-to-end job on the embedded default
#   make test   set everything up, then run the test suite
# Both create or reuse the virtual environment .venv inside the repository.

PYTHON ?= python3
# torch, FBGEMM and TorchRec move together (FBGEMM 1.8 is built against torch 2.13). FBGEMM's CPU build by
# default; on CUDA machines: make setup FBGEMM=fbgemm-gpu==1.8.0
TORCH    := torch==2.13.0
FBGEMM   ?= fbgemm-gpu-cpu==1.8.0
TORCHREC := torchrec==1.8.0
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo test benchmark clean

setup: $(STAMP)

# torch==2.13.0 goes in first: on CPU machines it picks the local CPU wheel, so
# nothing later pulls a CUDA build of several GB. TorchRec goes in with --no-deps: its metadata asks for
# fbgemm-gpu (the CUDA build, 2.7 GB, which fails to load on a CPU); its other dependencies are ours.
$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet "$(TORCH)" "$(FBGEMM)"
	$(BIN)/python -m pip install --quiet --no-deps "$(TORCHREC)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@echo "(pip's note that torchrec requires fbgemm-gpu is expected: $(FBGEMM) provides the same fbgemm_gpu module)"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/raylane demo

test: $(STAMP)
	$(BIN)/python -m pytest -q tests

benchmark: $(STAMP)
	$(BIN)/python benchmarks/datagen.py
	$(BIN)/python benchmarks/features.py

clean:
	rm -rf $(VENV) .pytest_cache
