package wal

import (
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/meerkat-zk/meerkat/zkmetrics"
)

// Metrics of the WAL, exposed with the process's other metrics.
var (
	syncDuration = metrics.NewPrometheusHistogramExt("meerkat_wal_fsync_duration_seconds", metrics.ExponentialBuckets(0.0001, 2, 16))
	bytesWritten = metrics.NewCounter("meerkat_wal_bytes_written_total")
)

// observeSync records one fsync, also as ZooKeeper's fsynctime (ms).
func observeSync(d time.Duration) {
	syncDuration.Update(d.Seconds())
	zkmetrics.FsyncTime.Add(d.Milliseconds())
}
