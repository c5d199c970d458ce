# The two commands of the README:  make demo  |  make test
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: install demo test cuda-compile clean-ops

install:
	bash tools/install.sh

demo: install
	$(PY) tools/demo.py

test: install
	$(PY) -m pytest

cuda-compile: install
	$(PY) tools/check_cuda_compile.py

clean-ops:
	rm -rf build perception/_ops_ext*.so
