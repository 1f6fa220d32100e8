"""The workflow's configuration: loaded, completed with the schema's defaults and checked before
Snakemake schedules anything (load), the checks by section (checks_*), grids and replicates
expanded (expand). What each rule's jobs receive is cvrepro.jobs.recipes."""

from cvrepro.config.checks_data import subsets_disjoint
from cvrepro.config.load import deep_merge, load_config, resolve_study
from cvrepro.config.schema import ConfigError

__all__ = ["ConfigError", "deep_merge", "load_config", "resolve_study", "subsets_disjoint"]
