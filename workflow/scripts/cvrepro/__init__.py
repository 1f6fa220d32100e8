"""cvrepro: the library behind the workflow's scripts, one package per pipeline stage.

Bottom to top (a package imports only from those before it; tests/test_layers.py keeps it so):
study, names, paths (what a study is, its shared names, where its files live) -> data -> nets ->
evaluate -> train -> report -> config (validation needs every stage's registries) -> jobs.
"""
