# The README's two commands: `make run` (the default, offline study) and `make test`.
# Both set everything up on a fresh machine first; `make setup` does only that.
VENV      ?= .venv
PYTHON    ?= python3
PY        := $(VENV)/bin/python
SNAKEMAKE := $(VENV)/bin/snakemake
FMNIST    := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
# Extra snakemake arguments, e.g. `make run ARGS="--config studies=all -n"`.
ARGS      ?=
# GPU jobs allowed at once (`--resources gpu=N`): the number of GPUs nvidia-smi lists; each GPU job
# claims its own GPU (docs/cluster.md). Without a GPU the model jobs run on the CPU and the `gpu`
# resource would only make them wait for each other: N is then the core count, and --cores alone
# decides how many run at once.
GPUS      ?= $(shell n=$$(nvidia-smi -L 2>/dev/null | grep -c '^GPU'); [ "$${n:-0}" -gt 0 ] && echo $$n || nproc)

# The seed studies (studies/*.yaml) as a --config list: what `make rehearse` rehearses by default.
comma     := ,
empty     :=
space     := $(empty) $(empty)
SEED_STUDIES := [$(subst $(space),$(comma),$(sort $(basename $(notdir $(wildcard studies/*.yaml)))))]
STUDIES   ?= $(SEED_STUDIES)

.PHONY: setup setup-slurm venv data run rehearse test test-precision lint dry-run why clean bench compare gpu-wheels

setup: venv data

venv: $(VENV)/.installed

# Reinstalls when the dependency files change; the marker is written only after pip succeeded.
$(VENV)/.installed: requirements.txt constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -c constraints.txt
	touch $@

# The Slurm executor plugin, for profiles/slurm and tests/test_slurm.py (requirements-slurm.txt says
# why it is separate).
setup-slurm: $(VENV)/.installed-slurm

$(VENV)/.installed-slurm: requirements-slurm.txt constraints.txt $(VENV)/.installed
	$(PY) -m pip install --quiet -r requirements-slurm.txt -c constraints.txt
	touch $@

# Fashion-MNIST from Debian's package when we can install it (root + apt); otherwise the
# workflow's download rule fetches it from the internet on first use.
data:
	@if [ -f $(FMNIST) ]; then \
		echo "Fashion-MNIST: $(dir $(FMNIST))"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		(DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1 || \
		 (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist)) && \
		echo "Fashion-MNIST: installed Debian's dataset-fashion-mnist"; \
	else \
		echo "Fashion-MNIST: Debian package not installable here; the workflow will download it"; \
	fi

# `make run STUDIES='[ssl_methods]'` runs other studies (only a STUDIES given on the command line
# counts here: its default, the seed studies, is `make rehearse`'s).
run: setup
	$(SNAKEMAKE) --cores all --resources gpu=$(GPUS) $(if $(filter command line,$(origin STUDIES)),--config studies='$(STUDIES)') $(ARGS)

# Before a long run (README): each study's real DAG on synthetic files in its datasets' real
# formats, one epoch per training, in results-rehearsal/ and resources-rehearsal/ only. Needs no
# download and no GPU. E.g. `make rehearse STUDIES='[cifar10_transfer]'`. GPU=a100 (h100, l40s,
# rtx4090, v100, t4) adds a forecast of the real run on that GPU (config key forecast_gpu).
GPU ?=
rehearse: venv
	$(SNAKEMAKE) --cores all --resources gpu=$(GPUS) --config rehearsal=true studies='$(STUDIES)' $(if $(GPU),forecast_gpu=$(GPU)) $(ARGS)

# The suite at this CPU's own precision, then (with no ARGS) the tests that compare training and
# inference results again at the other one: CVREPRO_CPU_BF16 makes an fp32 CPU act as a bf16 one
# and the other way round (cvrepro/nets/cpu_flags.py), so every machine checks both precisions.
PRECISION_TESTS := tests/test_losses.py tests/test_engine.py tests/test_ssl_probes.py tests/test_online_probe.py tests/test_training_slice.py
OTHER_CPU_BF16   = $$($(PY) -c 'import sys; sys.path.insert(0, "workflow/scripts"); from cvrepro.nets.cpu_flags import cpu_has_native_bf16; print(0 if cpu_has_native_bf16() else 1)')

test: setup setup-slurm
	$(PY) -m pytest $(ARGS)
	@if [ -z "$(ARGS)" ]; then other=$(OTHER_CPU_BF16); \
		echo "The precision tests at this CPU's other precision (CVREPRO_CPU_BF16=$$other):"; \
		CVREPRO_CPU_BF16=$$other $(MAKE) --no-print-directory test-precision; fi

# Only the precision tests, at the precision CVREPRO_CPU_BF16 says (1: bf16, 0: fp32; unset: the CPU's).
test-precision: venv
	$(PY) -m pytest -o addopts='-ra --strict-markers -n auto --dist loadscope' $(PRECISION_TESTS) $(ARGS)

# The suite runs the same checks (tests/test_lint.py; `snakemake --lint` in tests/test_workflow.py).
lint: venv
	$(SNAKEMAKE) --lint
	$(VENV)/bin/snakefmt --check Snakefile workflow/rules
	$(VENV)/bin/ruff check workflow tests benchmarks
	$(VENV)/bin/ruff format --check workflow tests benchmarks

# STUDIES='[x]' on the command line selects studies for dry-run and why (else config.yaml's).
STUDY_SELECTION = $(if $(filter command line,$(origin STUDIES)),--config studies='$(STUDIES)',)

dry-run: venv
	$(SNAKEMAKE) -n --cores all --resources gpu=$(GPUS) $(STUDY_SELECTION) $(ARGS)

# Why does it rerun? Each job a dry run schedules, with its reasons: missing output, an upstream
# job that reruns, changed params, and which code modules changed since it ran.
why: venv
	$(PY) workflow/scripts/why.py $(STUDY_SELECTION) $(ARGS)

# Speed on this machine, side by side in one run (not a test): one table, also written to
# benchmarks/results/<machine>.{md,csv}. E.g. `make bench ARGS=--with-default-study`.
bench: setup
	$(PY) benchmarks/bench.py $(ARGS)

# What changed between two result sets, like `dvc metrics diff`: every table cell and metrics.json
# value matched by study, table/run, row and column. Prints the verdict and counts first, then the
# table cells and headline metrics that differ (per-class and other details with --detail; all of
# it in compare/compare.{md,csv}); fails when anything differs by more than TOL (default 0: exact)
# or is in one set only. E.g. `make compare A=old/results B=results TOL=0.001 STUDIES='[embedded]'`;
# more options in ARGS ("--detail --table NAME --include-timing --out DIR"). STUDIES given on the
# command line narrows it to those studies. The script's exit codes: 0 same, 1 differs, 2 bad usage.
TOL ?= 0
compare: venv
	@test -n "$(A)" -a -n "$(B)" || { echo "usage: make compare A=<results dir> B=<results dir> [TOL=0.001] [STUDIES='[a, b]']"; exit 2; }
	$(PY) workflow/scripts/compare_results.py "$(A)" "$(B)" --tol $(TOL) $(if $(filter command line,$(origin STUDIES)),--study '$(STUDIES)',) $(ARGS)

# snakemake's wheels for a GPU machine that cannot reach PyPI (benchmarks/gpu_session.sh installs
# them from .gpu-data/wheels, which the device tool carries).
gpu-wheels: venv
	$(PY) -m pip download --quiet -d .gpu-data/wheels snakemake==$$(sed -n 's/^snakemake==//p' constraints.txt)

clean:
	rm -rf results .snakemake results-rehearsal resources-rehearsal
