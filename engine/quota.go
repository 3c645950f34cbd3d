package engine

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// ZooKeeper keeps usage statistics for quota roots: a znode P is a quota
// root while /zookeeper/quota/P/zookeeper_limits exists, and the server
// maintains /zookeeper/quota/P/zookeeper_stats ("count=N,bytes=B": the
// znodes under P, P included, and their data bytes) on every create, delete
// and setData under P, rewriting the stats data in place (no version, mzxid
// or watch event). Quotas are only reported here, never enforced, as in
// ZooKeeper without enforceQuota.
//
// ZooKeeper tracks the roots in a trie; Meerkat looks the limits nodes up in
// the tree, which stays right through a failed multi's rollback and a
// restart without any state of its own.

const (
	quotaDir   = "/zookeeper/quota"
	limitsName = "zookeeper_limits"
	statsName  = "zookeeper_stats"
)

// quotaRoot returns the deepest quota root that path is at or under, or ""
// when there is none (the root "/" never counts, as in ZooKeeper).
func (s *State) quotaRoot(path string) string {
	if q, ok := s.get(quotaDir); !ok || q.NumChildren == 0 {
		return ""
	}
	deepest := ""
	for i := 1; i <= len(path); i++ {
		if i < len(path) && path[i] != '/' {
			continue
		}
		prefix := path[:i]
		if prefix == "/" {
			continue
		}
		if _, ok := s.get(quotaDir + prefix + "/" + limitsName); ok {
			deepest = prefix
		}
	}
	return deepest
}

// quotaCreated updates the statistics after path was created with n bytes.
func (s *State) quotaCreated(path string, n int) {
	if parent, name := splitPath(path); strings.HasPrefix(parent, quotaDir) && name == statsName {
		// A new stats node starts with the subtree as it is.
		s.recountQuota(parent[len(quotaDir):])
	}
	if root := s.quotaRoot(path); root != "" {
		s.adjustQuota(root, int64(n), 1)
	}
}

// quotaChanged updates the statistics after path's data changed by delta
// bytes, or after it was deleted (count -1, delta minus its size).
func (s *State) quotaChanged(path string, delta int64, count int64) {
	if root := s.quotaRoot(path); root != "" {
		s.adjustQuota(root, delta, count)
	}
}

// recountQuota sets root's stats to a fresh count of its subtree.
func (s *State) recountQuota(root string) {
	var count, bytes int64
	// A root that does not exist counts zero, as in ZooKeeper.
	if n, ok := s.get(root); ok {
		count, bytes = 1, int64(len(n.Data()))
		s.tree.current().Descendants(root, func(c *Node) {
			count++
			bytes += int64(len(c.Data()))
		})
	}
	s.rewriteStats(root, func(st *statsTrack) { *st = statsTrack{count: count, bytes: bytes} })
}

// adjustQuota adds to root's stats.
func (s *State) adjustQuota(root string, bytes, count int64) {
	s.rewriteStats(root, func(st *statsTrack) {
		st.count += count
		st.bytes += bytes
	})
}

// rewriteStats applies fn to the parsed stats of root and stores them back
// in place. A missing or unparsable stats node is left alone.
func (s *State) rewriteStats(root string, fn func(*statsTrack)) {
	path := quotaDir + root + "/" + statsName
	n, ok := s.get(path)
	if !ok {
		return
	}
	st, ok := parseStatsTrack(n.Data())
	if !ok {
		return
	}
	fn(&st)
	s.putNode(n.withData([]byte(st.String())))
}

// statsTrack is ZooKeeper's StatsTrack: count and bytes, and any other
// key=value pairs (the hard limits), kept as read.
type statsTrack struct {
	count, bytes int64
	extra        map[string]int64
}

var statsSeparator = regexp.MustCompile(`[,;]+`)

// parseStatsTrack parses "count=N,bytes=B[=;key=value...]"; a missing count
// or bytes reads as -1, an empty value as -1.
func parseStatsTrack(s string) (statsTrack, bool) {
	st := statsTrack{count: -1, bytes: -1}
	if s == "" {
		return st, true
	}
	pairs := statsSeparator.Split(s, -1)
	for len(pairs) > 0 && pairs[len(pairs)-1] == "" {
		pairs = pairs[:len(pairs)-1]
	}
	for _, pair := range pairs {
		kv := javaSplit(pair, "=")
		if len(kv) < 2 {
			if len(kv) == 1 && strings.HasSuffix(pair, "=") {
				kv = append(kv, "")
			} else {
				return st, false
			}
		}
		v := int64(-1)
		if kv[1] != "" {
			var err error
			if v, err = strconv.ParseInt(kv[1], 10, 64); err != nil {
				return st, false
			}
		}
		switch kv[0] {
		case "count":
			st.count = v
		case "bytes":
			st.bytes = v
		default:
			if st.extra == nil {
				st.extra = map[string]int64{}
			}
			st.extra[kv[0]] = v
		}
	}
	return st, true
}

// String formats as StatsTrack.toString: count and bytes first, then, after
// a stray "=" old parsers skip, the other keys sorted.
func (st statsTrack) String() string {
	var b strings.Builder
	b.WriteString("count=" + strconv.FormatInt(st.count, 10) + ",bytes=" + strconv.FormatInt(st.bytes, 10))
	if len(st.extra) > 0 {
		keys := make([]string, 0, len(st.extra))
		for k := range st.extra {
			keys = append(keys, k)
		}
		slices.Sort(keys) // Java's String order, for these ASCII keys
		b.WriteString("=")
		for _, k := range keys {
			b.WriteString(";" + k + "=" + strconv.FormatInt(st.extra[k], 10))
		}
	}
	return b.String()
}
