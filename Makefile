# Two commands for a newcomer: `make demo` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# torch is installed first and pinned: a looser requirement pulls a multi-GB CUDA build.
TORCH  := torch==2.13.0

.PHONY: demo test venv clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-all: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e '.[all]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed-all

venv: $(VENV)/.installed-dev

# The main job: the official Lite-HRNet-18, then the trained demo model exported to every
# format and precision (each file checked against PyTorch) and benchmarked on this CPU.
DEMO_MODEL := litehrnet_18_coco_128x96
demo: $(VENV)/.installed-all
	$(BIN)/lite-hrnet info litehrnet_18_coco_256x192
	$(BIN)/lite-hrnet export $(DEMO_MODEL) --weights synthetic --formats onnx,openvino,tflite \
		--precision fp32,fp16,int8 --out exports --reuse
	$(BIN)/lite-hrnet benchmark $(DEMO_MODEL) --weights synthetic --formats torch,onnx,openvino,tflite \
		--precision fp32,fp16,int8 --threads 1 --runs 50 --exports exports \
		--json exports/benchmark.json --plot exports/benchmark.png

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) .pytest_cache

# The C library over LiteRT and its command-line program (native/README.md): build/native/liblitehrnet.so
# and build/native/litehrnet-predict. Needs cmake, a C compiler, libjpeg and libpng (Debian: cmake
# libjpeg-dev libpng-dev); LiteRT's libLiteRt.so comes from the venv's ai-edge-litert.
NATIVE_BUILD := build/native
.PHONY: native
native: $(VENV)/.installed-dev
	cmake -S native -B $(NATIVE_BUILD) -DCMAKE_BUILD_TYPE=Release -DLHR_WERROR=ON -DLITERT_PYTHON=$(abspath $(BIN)/python)
	cmake --build $(NATIVE_BUILD) -j
