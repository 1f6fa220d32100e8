"""What every entry script shares: the job context, the files a training writes, code
fingerprints, provenance, logs, the console line and GPU slots. Only scripts and rules import it."""
