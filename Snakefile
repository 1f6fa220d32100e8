# cvrepro: computer-vision experiments as one reproducible DAG.
# This file only loads and checks the configuration, includes one rule file per stage and
# declares what `snakemake` builds by default. See README.md and workflow/schemas/.
from snakemake.utils import min_version

min_version("9.12")  # path variables (<results>, <resources>) in rules

# Snakemake reads config.yaml itself, as YAML that may build Python objects or run a YTE
# template's code; read it first as plain data, so a Python tag, a template or a duplicate key
# stops here with one line instead of a message about tabs (cvrepro/config/yamlfile.py).
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "workflow" / "scripts"))
from cvrepro.config.yamlfile import ConfigError, check_config_file

try:
    for _path in ["config.yaml", *workflow.overwrite_configfiles]:
        check_config_file(_path)
except ConfigError as error:
    sys.exit(f"Config error: {error}")


configfile: "config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/subsets.smk"
include: "workflow/rules/pretrain.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/probes.smk"
include: "workflow/rules/shift.smk"
include: "workflow/rules/tables.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/report.smk"


onstart:
    # One line before the first job: what will run, on what (cvrepro/jobs/console.py).
    print(
        console.run_summary(
            [(job.rule.name, job.resources.get("gpu", 0)) for job in workflow.dag.needrun_jobs()],
            CONFIG["device"],
            CONFIG["precision"],
            CONFIG["rehearsal"],
        ),
        file=sys.stderr,
    )


onsuccess:
    print(console.done_line(list(STUDIES), LAYOUT.results), file=sys.stderr)


rule all:
    input:
        all_targets(),
    default_target: True
