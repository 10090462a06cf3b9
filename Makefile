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
# The hand-written engine (`make engine`) joins in where cmake is installed.
comma := ,
DEMO_ENGINE := $(if $(shell command -v cmake 2>/dev/null),$(comma)engine,)
demo: $(VENV)/.installed-all $(if $(DEMO_ENGINE),engine)
	$(BIN)/lite-hrnet info litehrnet_18_coco_256x192
	$(BIN)/lite-hrnet export $(DEMO_MODEL) --weights synthetic --formats onnx,openvino,tflite$(DEMO_ENGINE) \
		--precision fp32,fp16,int8 --out exports --reuse
	$(BIN)/lite-hrnet benchmark $(DEMO_MODEL) --weights synthetic --formats torch,onnx,openvino,tflite$(DEMO_ENGINE) \
		--precision fp32,fp16,int8 --threads 1 --runs 50 --exports exports \
		--json exports/benchmark.json --plot exports/benchmark.png

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) .pytest_cache

# Mutation testing with mutmut (not part of `make test`; minutes to an hour, see the README): each
# part runs in a scratch copy of the working tree under build/mutation/PART with its config from
# benchmarks/mutation/PART.cfg; the evaluation part is slow (its tests run the CLI) and runs last.
# Scores per module and survivors: build/mutation/PART/{score.md,survivors.tsv}; the recorded
# results and the reasons survivors are acceptable: benchmarks/mutation/README.md.
.PHONY: mutation
MUTATION_PARTS ?= core evaluate
MUTATION_JOBS  ?= 2
mutation: $(VENV)/.installed-dev
	@for part in $(MUTATION_PARTS); do \
		dir=build/mutation/$$part; echo "mutation testing: $$part (log: $$dir/run.log)"; \
		rm -rf $$dir && mkdir -p $$dir && \
		cp -r lite_hrnet tests pyproject.toml $$dir/ && cp benchmarks/mutation/$$part.cfg $$dir/setup.cfg && \
		( cd $$dir && LITE_HRNET_SHARED=$${LITE_HRNET_SHARED:-$(abspath ..)/shared} \
			nice -n 19 $(abspath $(BIN))/python -m mutmut run --max-children $(MUTATION_JOBS) > run.log 2>&1 \
			|| { tail -n 30 run.log; exit 1; } ) && \
		( cd $$dir && $(abspath $(BIN))/python $(CURDIR)/benchmarks/mutation/summary.py --survivors survivors.tsv \
			> score.md ) && cat $$dir/score.md || exit 1; \
	done

# The C library over LiteRT and its command-line program (native/README.md): build/native/liblitehrnet.so
# and build/native/litehrnet-predict. Needs cmake, a C compiler, libjpeg and libpng (Debian: cmake
# libjpeg-dev libpng-dev); LiteRT's libLiteRt.so comes from the venv's ai-edge-litert.
NATIVE_BUILD := build/native
.PHONY: native engine
native: $(VENV)/.installed-dev
	cmake -S native -B $(NATIVE_BUILD) -DCMAKE_BUILD_TYPE=Release -DLHR_WERROR=ON -DLITERT_PYTHON=$(abspath $(BIN)/python) \
		-DLHR_BUILD_TOOLS=ON -DLHR_BUILD_TESTS=ON -DLHR_REQUIRE_LITERT=ON
	cmake --build $(NATIVE_BUILD) -j

# The hand-written engine alone (build/native/liblhr_engine.so, the `engine` format's runtime): needs
# cmake and a C compiler only.
engine:
	cmake -S native -B $(NATIVE_BUILD) -DCMAKE_BUILD_TYPE=Release -DLHR_WERROR=ON -DLITERT_PYTHON=$(abspath $(BIN)/python) \
		-DLHR_BUILD_TOOLS=OFF -DLHR_BUILD_TESTS=OFF -DLHR_REQUIRE_LITERT=OFF
	cmake --build $(NATIVE_BUILD) -j --target lhr_engine

# ---------------------------------------------------------------- java
# The JVM library over liblitehrnet (java/, package io.github.litehrnet), built offline with javac and
# the JUnit 5 console launcher of Debian's junit5 package (no Maven repository needed):
#   make java       build/java/lite-hrnet.jar, build/java/liblitehrnet_jni.so (needs `make native`)
#                   and the launcher build/java/litehrnet-predict (the arguments of `lite-hrnet predict`)
#   make java-test  the JUnit tests; the JNI ones need JAVA_TEST_MODEL=FILE.tflite (tests/test_java.py
#                   runs them all from pytest, with the demo model and the COCO sample)
.PHONY: java java-jar java-test-classes java-test
JAVAC     ?= javac
JAR       ?= jar
JAVA      ?= java
JAVA_HOME ?= $(patsubst %/bin/javac,%,$(realpath $(shell command -v $(JAVAC) 2>/dev/null)))
JUNIT_JAR ?= /usr/share/java/junit-platform-console-standalone.jar
JAVA_OUT  := build/java
# java/src/main: the library (Android builds the same folder); java/src/cli: the desktop launcher (ImageIO, AWT)
JAVA_MAIN := $(shell find java/src/main/java java/src/cli/java -name '*.java' 2>/dev/null)
JAVA_TEST := $(shell find java/src/test -type f 2>/dev/null)
JAVA_TEST_MODEL ?=

java: $(JAVA_OUT)/lite-hrnet.jar $(JAVA_OUT)/liblitehrnet_jni.so $(JAVA_OUT)/litehrnet-predict
java-jar: $(JAVA_OUT)/lite-hrnet.jar
java-test-classes: $(JAVA_OUT)/test-classes/.built

$(JAVA_OUT)/lite-hrnet.jar: $(JAVA_MAIN)
	rm -rf $(JAVA_OUT)/classes && mkdir -p $(JAVA_OUT)/classes
	$(JAVAC) --release 11 -encoding UTF-8 -Xlint:all -d $(JAVA_OUT)/classes $(JAVA_MAIN)
	$(JAR) --create --file $@ --main-class io.github.litehrnet.cli.PredictMain -C $(JAVA_OUT)/classes .

$(JAVA_OUT)/test-classes/.built: $(JAVA_OUT)/lite-hrnet.jar $(JAVA_TEST)
	@test -f $(JUNIT_JAR) || { echo "JUnit 5 not found at $(JUNIT_JAR): apt-get install junit5 (or set JUNIT_JAR)"; exit 1; }
	rm -rf $(JAVA_OUT)/test-classes && mkdir -p $(JAVA_OUT)/test-classes
	$(JAVAC) --release 11 -encoding UTF-8 -d $(JAVA_OUT)/test-classes -cp $(JAVA_OUT)/lite-hrnet.jar:$(JUNIT_JAR) \
		$(filter %.java,$(JAVA_TEST))
	cp -r java/src/test/resources/. $(JAVA_OUT)/test-classes/
	touch $@

# The JNI glue links build/native/liblitehrnet.so and finds it next door at run time ($ORIGIN/../native).
$(JAVA_OUT)/liblitehrnet_jni.so: java/src/main/c/litehrnet_jni.c native/include/litehrnet.h | native
	@test -n "$(JAVA_HOME)" && test -f "$(JAVA_HOME)/include/jni.h" || { echo "jni.h not found: install a JDK (openjdk-17-jdk-headless) or set JAVA_HOME"; exit 1; }
	mkdir -p $(JAVA_OUT)
	$(CC) -std=c11 -O2 -Wall -Wextra -fPIC -shared -I"$(JAVA_HOME)/include" -I"$(JAVA_HOME)/include/linux" \
		-Inative/include $< -Lbuild/native -llitehrnet -Wl,-rpath,'$$ORIGIN/../native' -o $@

$(JAVA_OUT)/litehrnet-predict: java/src/cli/litehrnet-predict.sh $(JAVA_OUT)/lite-hrnet.jar $(JAVA_OUT)/liblitehrnet_jni.so
	install -m 755 $< $@

java-test: java $(JAVA_OUT)/test-classes/.built
	$(JAVA) -Dlitehrnet.jni.library=$(abspath $(JAVA_OUT)/liblitehrnet_jni.so) \
		$(if $(JAVA_TEST_MODEL),-Dlitehrnet.test.model=$(abspath $(JAVA_TEST_MODEL))) \
		-jar $(JUNIT_JAR) --disable-banner --details=summary --fail-if-no-tests \
		-cp $(JAVA_OUT)/lite-hrnet.jar:$(JAVA_OUT)/test-classes --select-package io.github.litehrnet
