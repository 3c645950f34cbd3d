package netpoll

import (
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/meerkat-zk/meerkat/engine"
)

// AdminCommands are the commands of ZooKeeper 3.8's AdminServer, by name.
var AdminCommands = []string{
	"configuration", "connection_stat_reset", "connections", "dirs", "dump", "environment",
	"get_trace_mask", "hash", "initial_configuration", "is_read_only", "last_snapshot", "leader",
	"monitor", "observer_connection_stat_reset", "observers", "ruok", "server_stats",
	"set_trace_mask", "stat_reset", "stats", "system_properties", "voting_view", "watch_summary",
	"watches", "watches_by_path", "zabstate",
}

// adminAliases are the four-letter names the AdminServer also answers to.
var adminAliases = map[string]string{
	"conf": "configuration", "crst": "connection_stat_reset", "cons": "connections",
	"envi": "environment", "gtmk": "get_trace_mask", "icfg": "initial_configuration",
	"isro": "is_read_only", "lsnp": "last_snapshot", "lead": "leader", "mntr": "monitor",
	"orst": "observer_connection_stat_reset", "obsr": "observers", "srvr": "server_stats",
	"stmk": "set_trace_mask", "srst": "stat_reset", "stat": "stats", "sysp": "system_properties",
	"wchs": "watch_summary", "wchc": "watches", "wchp": "watches_by_path",
}

// defaultTraceMask is the trace mask ZooKeeper reports (gtmk).
const defaultTraceMask = 306

// AdminCommand answers an AdminServer command (or its four-letter alias)
// as ZooKeeper 3.8 does: the command's fields, with "command" (its full
// name) and "error" (null, or what went wrong, an unknown command
// included).
func (s *Server) AdminCommand(name string, params url.Values) map[string]any {
	if full, ok := adminAliases[name]; ok {
		name = full
	}
	r := map[string]any{"command": name, "error": nil}
	fail := func(msg string) map[string]any {
		r["error"] = msg
		return r
	}
	if !slices.Contains(AdminCommands, name) {
		return fail("Unknown command: " + name)
	}
	if !s.serving() {
		switch name {
		case "ruok", "environment", "system_properties", "get_trace_mask", "initial_configuration":
		default:
			return fail("This ZooKeeper instance is not currently serving requests")
		}
	}
	switch name {
	case "ruok", "observer_connection_stat_reset":
	case "configuration":
		c := s.cfg
		maps.Copy(r, map[string]any{
			"client_port": c.Info.ClientPort, "data_dir": c.Info.DataDir, "data_log_dir": c.Info.DataLogDir,
			"tick_time": c.Tick.Milliseconds(), "max_client_cnxns": c.MaxClientCnxns,
			"min_session_timeout": c.MinSessionTimeout.Milliseconds(), "max_session_timeout": c.MaxSessionTimeout.Milliseconds(),
			"server_id": c.Info.ServerID, "client_port_listen_backlog": -1,
		})
	case "connection_stat_reset":
		s.resetConnectionStats()
	case "stat_reset":
		s.resetServerStats()
	case "connections":
		r["connections"] = s.connectionList(true)
		r["secure_connections"] = []any{}
	case "dirs":
		r["datadir_size"] = s.dirSize(s.cfg.Info.DataDir)
		r["logdir_size"] = s.dirSize(s.cfg.Info.DataLogDir)
	case "dump":
		d := s.sessionDump()
		expiry := map[string][]int64{}
		for at, ids := range d.global {
			expiry[strconv.FormatInt(at, 10)] = ids
		}
		eph := map[string][]string{}
		for _, e := range d.ephemerals {
			eph[strconv.FormatInt(e.id, 10)] = e.paths
		}
		r["expiry_time_to_session_ids"], r["session_id_to_ephemeral_paths"] = expiry, eph
	case "environment", "system_properties":
		for _, kv := range envEntries() {
			r[kv[0]] = kv[1]
		}
	case "get_trace_mask":
		r["tracemask"] = defaultTraceMask
	case "set_trace_mask":
		mask, err := strconv.ParseInt(params.Get("traceMask"), 10, 64)
		if err != nil {
			return fail("setTraceMask requires long traceMask argument")
		}
		r["tracemask"] = mask
	case "hash":
		r["digests"] = []any{}
	case "initial_configuration":
		r["initial_configuration"] = s.cfg.Info.InitialConfig
	case "is_read_only":
		r["read_only"] = s.Mode() == ModeReadOnly
	case "last_snapshot":
		var zxid int64
		at := time.Now()
		if s.cfg.Info.LastSnapshot != nil {
			zxid, at = s.cfg.Info.LastSnapshot()
		}
		r["zxid"], r["timestamp"] = strconv.FormatInt(zxid, 16), at.Unix()
	case "leader":
		q, ok := s.quorum()
		if !ok {
			return fail("server is not initialized")
		}
		r["is_leader"] = s.Mode() == ModeLeader
		r["leader_id"] = q.LeaderID
		host, _, _ := strings.Cut(s.memberLines()[strconv.FormatInt(q.LeaderID, 10)], ":")
		r["leader_ip"] = host
	case "monitor":
		for _, g := range s.Metrics().Flat() {
			r[g.Name] = g.Value
		}
	case "observers":
		q, _ := s.quorum()
		r["synced_observers"] = q.SyncedObservers
		r["observers"] = []any{}
	case "server_stats", "stats":
		maps.Copy(r, s.serverStats())
		if name == "stats" {
			r["connections"] = s.connectionList(false)
			r["secure_connections"] = []any{}
		}
	case "voting_view":
		view := map[string]string{}
		for id, line := range s.memberLines() {
			if !strings.Contains(line, ":observer") {
				view[id] = line
			}
		}
		r["current_config"] = view
	case "watch_summary":
		watchers, byPath := s.watchMaps()
		total := 0
		for _, ps := range watchers {
			total += len(ps)
		}
		r["num_connections"], r["num_paths"], r["num_total_watches"] = len(watchers), len(byPath), total
	case "watches":
		watchers, _ := s.watchMaps()
		out := map[string][]string{}
		for id, ps := range watchers {
			out[strconv.FormatInt(id, 10)] = ps
		}
		r["session_id_to_watched_paths"] = out
	case "watches_by_path":
		_, byPath := s.watchMaps()
		r["path_to_session_ids"] = byPath
	case "zabstate":
		_, member := s.quorum()
		state := ""
		if member {
			state = "broadcast"
		}
		r["voting"], r["zabstate"] = member && s.Mode() != ModeObserver, state
	}
	return r
}

// connectionList describes every client connection as the connections
// (full) and stats (brief) commands do.
func (s *Server) connectionList(full bool) []map[string]any {
	out := []map[string]any{}
	for _, rep := range s.report() {
		for _, c := range rep.conns {
			m := map[string]any{
				"remote_socket_address": strings.TrimPrefix(c.remote, "/"), "interest_ops": c.interest,
				"outstanding_requests": c.queued, "packets_received": c.stats.received, "packets_sent": c.stats.sent,
			}
			if full {
				st := c.stats
				var lastResp int64
				if !st.lastResp.IsZero() {
					lastResp = st.lastResp.UnixMilli()
				}
				maps.Copy(m, map[string]any{
					"session_id": c.sessionID, "last_operation": orNA(st.lastOp), "established": st.established.UnixMilli(),
					"session_timeout": c.timeout, "last_cxid": st.lastCxid, "last_zxid": st.lastZxid,
					"last_response_time": lastResp, "last_latency": st.lastLatency, "min_latency": st.latency.min,
					"avg_latency": st.latency.avg(), "max_latency": st.latency.max,
				})
			}
			out = append(out, m)
		}
	}
	return out
}

// serverStats is what the server_stats and stats commands share.
func (s *Server) serverStats() map[string]any {
	t := s.serverTotals()
	lat := t.latency()
	v := s.pipe.View()
	responses := map[string]any{"last_buffer_size": -1, "min_buffer_size": -1, "max_buffer_size": -1}
	return map[string]any{
		"version":   Version,
		"read_only": s.Mode() == ModeReadOnly,
		"server_stats": map[string]any{
			"packets_sent": t.sent, "packets_received": t.received, "fsync_threshold_exceed_count": 0,
			"client_response_stats": responses, "data_dir_size": s.dirSize(s.cfg.Info.DataDir),
			"log_dir_size": s.dirSize(s.cfg.Info.DataLogDir), "provider_null": false, "server_state": s.Mode(),
			"last_processed_zxid": v.Zxid, "outstanding_requests": t.outstanding, "avg_latency": lat.Avg(),
			"max_latency": lat.Max, "min_latency": lat.Min, "num_alive_client_connections": t.conns,
			"uptime": time.Since(s.started).Milliseconds(), "auth_failed_count": 0,
			"non_mtlsremote_conn_count": 0, "non_mtlslocal_conn_count": 0,
		},
		"client_response": responses,
		"node_count":      nodeCount(v),
	}
}

// memberLines are the server lines of the membership /zookeeper/config
// holds, by server id; none on a standalone server.
func (s *Server) memberLines() map[string]string {
	lines := map[string]string{}
	if s.cfg.Info.Membership == nil {
		return lines
	}
	if n, ok := s.pipe.View().Tree.Get(engine.ConfigNodePath); ok {
		for _, line := range strings.Split(n.Data(), "\n") {
			if k, v, ok := strings.Cut(line, "="); ok && strings.HasPrefix(k, "server.") {
				lines[strings.TrimPrefix(k, "server.")] = v
			}
		}
	}
	return lines
}
