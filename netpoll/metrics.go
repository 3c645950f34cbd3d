package netpoll

import (
	"sync/atomic"

	"github.com/VictoriaMetrics/metrics"
)

// Metrics of the client connections' flow control.
var (
	// backlogWaits counts the times a loop stopped reading because its
	// backlog reached maxBacklog.
	backlogWaits = metrics.NewCounter("meerkat_netpoll_backlog_waits_total")
	// outboundPauses and outstandingPauses count the times a connection
	// stopped reading: for replies its client did not read, or for
	// globalOutstandingLimit.
	outboundPauses    = metrics.NewCounter(`meerkat_netpoll_read_pauses_total{reason="outbound"}`)
	outstandingPauses = metrics.NewCounter(`meerkat_netpoll_read_pauses_total{reason="outstanding"}`)
	// slowConsumers counts the connections closed for holding more than
	// SlowConsumerBytes unsent.
	slowConsumers = metrics.NewCounter("meerkat_netpoll_slow_consumers_closed_total")
	// watchCapClosed counts the connections closed for asking for more
	// watches than MaxWatches.
	watchCapClosed = metrics.NewCounter("meerkat_netpoll_watch_cap_closed_total")
	// pausedConns is the number of connections not reading right now.
	pausedConns atomic.Int64
	_           = metrics.NewGauge("meerkat_netpoll_paused_connections", func() float64 {
		return float64(pausedConns.Load())
	})
	// current is the server the gauges below report on: the latest
	// started.
	current atomic.Pointer[Server]
	_       = metrics.NewGauge("meerkat_netpoll_outbound_bytes", func() float64 {
		if s := current.Load(); s != nil {
			return float64(s.rs.Buffered())
		}
		return 0
	})
	// aclLists is the number of distinct ACL lists the znodes use (the
	// ACL table frees a list no znode uses any more).
	_ = metrics.NewGauge("meerkat_acl_lists", func() float64 {
		if s := current.Load(); s != nil {
			return float64(s.pipe.View().ACLCount())
		}
		return 0
	})
	_ = metrics.NewGauge("meerkat_netpoll_outstanding_requests", func() float64 {
		if s := current.Load(); s != nil {
			return float64(s.outstanding.Load())
		}
		return 0
	})
)

// shedCounts count what the limits turned away and failed
// authentication, under ZooKeeper's metric names (see Server.Metrics).
type shedCounts struct {
	// rejected: connections refused by maxClientCnxns, maxCnxns or the
	// connection throttle (connection_rejected).
	rejected atomic.Int64
	// connectRequests: ConnectRequests read (connection_request_count).
	connectRequests atomic.Int64
	// authFailed: auth packets refused (auth_failed_count; failed TLS
	// handshakes are added from the bridge).
	authFailed atomic.Int64
}
