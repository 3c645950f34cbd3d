package wal

import (
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// Metrics of the WAL, exposed with the process's other metrics.
var (
	syncDuration = metrics.NewHistogram("meerkat_wal_fsync_duration_seconds")
	bytesWritten = metrics.NewCounter("meerkat_wal_bytes_written_total")
)

func observeSync(d time.Duration) { syncDuration.Update(d.Seconds()) }
