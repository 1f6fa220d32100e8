"""Stage 5, report: replicate statistics, table and figure kinds, plots, the Markdown reports and
the comparison of two result sets."""
