# zzgw: the two commands are `make serve` and `make test`; everything they need is installed from here.
PYTHON ?= python3
TEST_WORKERS ?= $(shell n=$$(nproc); echo $$(( n * 2 < 8 ? n * 2 : 8 )))
VENV   := .venv
PY     := $(VENV)/bin/python
ZZGW   := $(VENV)/bin/zzgw
STAMP  := $(VENV)/.installed-stamp
SYSDEPS := $(VENV)/.system-deps-stamp
BUF    := node_modules/.bin/buf
PROTOS := $(wildcard protos/zzgw/v1/*.proto)
# zzgw.v1 as last released: `buf breaking` holds the protos to it (docs/adr/0014-compatibility-of-zzgw-v1.md)
PROTOS_BASELINE := protos/zzgw-v1.binpb

.PHONY: all install lock serve test lint protos protos-baseline bench clean

all: test

# the versions in constraints.txt, those last tested together: a release on PyPI since then changes nothing until
# `make lock` takes it (a new cryptography's warnings once failed CI on a tree whose own tests had passed)
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

# Debian packages (a CJK font, SoftHSM2), installed when missing and we are root; otherwise the script says what to do.
$(SYSDEPS): scripts/install-system-deps | $(STAMP)
	@if scripts/install-system-deps; then touch $(SYSDEPS); \
	else echo "continuing without them: the tests that need them will say so"; fi

install: $(STAMP) $(SYSDEPS)

## lock: write constraints.txt again from the newest releases within pyproject.toml's floors, in a venv of its own;
## run `make test` before committing the result
lock:
	rm -rf build/lock-venv
	$(PYTHON) -m venv build/lock-venv
	build/lock-venv/bin/python -m pip install --quiet --upgrade pip
	build/lock-venv/bin/python -m pip install --quiet -e '.[test]'
	sed -n '/^# Written by make lock/d; /^#/p' constraints.txt > build/constraints.txt
	build/lock-venv/bin/python -c 'import platform as p; print("# Written by make lock on", p.python_implementation(), p.python_version() + ",", p.system(), p.machine())' >> build/constraints.txt
	build/lock-venv/bin/python -m pip freeze --exclude-editable >> build/constraints.txt
	mv build/constraints.txt constraints.txt
	rm -rf build/lock-venv
	rm -f $(STAMP)

# buf (protobuf lint) comes from the npm registry. Without npm, or when npm cannot install it (no registry), this
# says so and does not stop make: lint skips its two buf steps, saying so, and runs the rest; the buf tests skip
# with a reason. protos-baseline alone needs buf, and stops without it. REQUIRE_BUF=1 (CI: .ci/run) stops here instead,
# so that buf breaking (ADR 0014) never goes unchecked for a registry's outage.
$(BUF): package.json
	@if ! command -v npm >/dev/null 2>&1; then echo "npm not found: buf not installed"; [ -z "$(REQUIRE_BUF)" ]; \
	elif npm install --no-audit --no-fund --no-package-lock --loglevel=error && [ -x $(BUF) ]; then touch $(BUF); \
	else echo "npm could not install buf"; [ -z "$(REQUIRE_BUF)" ]; fi

## serve: set up (venv, schema, keys, demo members) and run the gateway on SQLite in ./var, gRPC on 127.0.0.1:50051
serve: install
	$(ZZGW) init
	exec $(ZZGW) serve

## test: set up and run the whole suite but the tests marked measure, which make bench runs (PostgreSQL tests too:
## ZZGW_TEST_DATABASE_URL, else 127.0.0.1:5432/test if it answers), two workers per core (at most 8: TEST_WORKERS), each taking the next test when free (pytest-xdist's
## worksteal: a module's slow tests no longer end the run on one worker); `.venv/bin/pytest -m "not measure"` alone
## runs it in one process. Two a core, because much of a test's time is waiting (for a gateway process to start, stop or be
## replaced, for a client to be timed out): on 2 cores, one worker a core had kept them 47% busy, 12.0 min; two,
## 58%, 9.9 min; three, no sooner, 10.2 min (2026-12-05, the suite alone on a quiet machine). Bytecode is
## cached (__pycache__, ignored by git) even where PYTHONDONTWRITEBYTECODE is set, as in some container images:
## without it every process the suite starts (zzgw init and serve, the gateway's workers) compiled the gateway's
## hundred-odd modules again, ~0.4 s of CPU each, and each worker rewrote every test module's asserts (~10 s)
test: install $(BUF)
	env -u PYTHONDONTWRITEBYTECODE $(PY) -m pytest -q -n $(TEST_WORKERS) --dist worksteal --durations=20 -m "not measure"

## lint: buf lint, buf breaking against the released zzgw.v1 (ADR 0014), ruff (its checks; the format of the code and
## of the docs' Python examples), mypy and the import-layer contracts
lint: install $(BUF)
	@if [ -x $(BUF) ]; then echo "$(BUF) lint" && $(BUF) lint && \
	  echo "$(BUF) breaking --against $(PROTOS_BASELINE)" && $(BUF) breaking --against $(PROTOS_BASELINE); \
	else echo "buf not installed (needs npm): buf lint and buf breaking skipped"; fi
	$(VENV)/bin/ruff check gateway signing adapters tests benchmarks
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy gateway signing adapters benchmarks
	$(VENV)/bin/lint-imports --no-cache

## protos: regenerate the committed Python code from protos/zzgw/v1/*.proto
protos: install
	$(PY) -m grpc_tools.protoc -I . --python_out=. --pyi_out=. --grpc_python_out=. $(PROTOS)

## protos-baseline: at a release only, never to silence buf breaking: record the protos as released (ADR 0014)
protos-baseline: $(BUF)
	@[ -x $(BUF) ] || { echo "buf not installed (needs npm): the baseline is not recorded"; exit 1; }
	$(BUF) breaking --against $(PROTOS_BASELINE)
	$(BUF) build --exclude-source-info -o $(PROTOS_BASELINE)

## bench: ingest vs a bare gRPC server (SQLite, PostgreSQL), PDF sealing vs raw pyHanko, the server model (ADR 0001), SM2 vs openssl speed, verification vs a bare server (SQLite, PostgreSQL), the audit trail on vs off; first, a batch stream's memory peak (the tests marked measure)
bench: install
	$(PY) -m pytest -q -p no:cacheprovider -m measure tests/api/test_batch_memory.py
	$(PY) -m benchmarks.ingest
	$(PY) -m benchmarks.pdf_seal 20
	$(PY) -m benchmarks.signatures 2000
	$(PY) -m benchmarks.server_model
	$(PY) -m benchmarks.sm2 3
	$(PY) -m benchmarks.verify
	$(PY) -m benchmarks.verify --postgresql --parts warm,cold
	$(PY) -m benchmarks.audit --rounds 5
	$(PY) -m benchmarks.audit --rounds 5 --postgresql

clean:
	rm -rf $(VENV) node_modules build *.egg-info
