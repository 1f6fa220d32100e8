"""The report stage, last in the pipeline: replicate statistics, table and figure kinds, plots,
the Markdown reports and the comparison of two result sets."""
