"""The training stage (pretraining, training, fine-tuning), after data and before evaluation: the
one training loop (engine), what each method adds to it (methods, losses), schedules, freezing,
resuming after a kill and the online probe."""
