"""Datasets: the registry, downloads, verification, preparation and the prepared contract, with
the pieces of the original formats that the built-in datasets (cvrepro/data/builtin, one module
each) share: readers, formats (their writers), cifar_pickle and synthetic (the rehearsal's files)."""
