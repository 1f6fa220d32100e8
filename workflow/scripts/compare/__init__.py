"""The code of `make compare` (workflow/scripts/compare_results.py), a user command like `make
why` (why.py) and, like it, no part of the pipeline's library: it reads two finished result trees
and imports nothing of cvrepro. diff: result sets matched value by value; selection: which studies
and tables are compared."""
