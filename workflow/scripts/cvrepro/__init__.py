"""cvrepro: the library behind the workflow's scripts (data, models, training, metrics, reports)."""
