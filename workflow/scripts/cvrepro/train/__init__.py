"""Stage 4, training: the one training loop (engine), what each method adds to it (methods,
losses), schedules, freezing, resuming after a kill and the online probe."""
