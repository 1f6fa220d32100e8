"""What a study's full run will fetch and cost, forecast in its rehearsal's report: the work
counted from the study (plan), each network measured on this machine (calibrate), the forecast
from the rehearsal's own jobs (forecast) and on a named GPU (gpus), the files the real run
fetches (fetches), the REPORT.md sections (cost_report) and, in the real run's report, the
forecast beside what each rule took (forecast_check)."""
