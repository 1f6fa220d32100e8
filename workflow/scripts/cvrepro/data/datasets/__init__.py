"""Datasets: the registry, downloads, readers of the original formats and the prepared contract."""
