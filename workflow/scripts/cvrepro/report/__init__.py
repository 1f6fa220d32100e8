"""The report stage, last in the pipeline: replicate statistics, table and figure kinds (one
module each, in tables/ and figures/), the Markdown reports, and the real run's cost and downloads
that a rehearsal's report forecasts (cost/)."""
