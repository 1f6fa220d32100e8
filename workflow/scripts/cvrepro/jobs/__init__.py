"""What every entry script shares: the job context, what each job receives (recipes: the rules'
params), the files a training writes, code fingerprints, provenance, logs, the console line and
GPU slots. Only scripts and rules import it (and tests and benchmarks, the recipes)."""
