package pipeline

import "github.com/VictoriaMetrics/metrics"

// Metrics of the write path.
var (
	// batchEntries is how many log entries each batch (one fsync) carries:
	// the group-commit factor.
	batchEntries = metrics.NewPrometheusHistogramExt("meerkat_pipeline_batch_entries", metrics.ExponentialBuckets(1, 2, 14))
	// logFailures counts batches refused because the log could not take them.
	logFailures = metrics.NewCounter("meerkat_pipeline_log_failures_total")
)
