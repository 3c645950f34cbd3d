package engine

import (
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/meerkat-zk/meerkat/jute"
)

// ZooKeeper keeps usage statistics for quota roots: a znode P is a quota
// root while /zookeeper/quota/P/zookeeper_limits exists, and the server
// maintains /zookeeper/quota/P/zookeeper_stats ("count=N,bytes=B": the
// znodes under P, P included, and their data bytes) on every create, delete
// and setData under P, rewriting the stats data in place (no version, mzxid
// or watch event). With enforceQuota, a create or setData that would take
// the deepest quota root above it past a hard limit (countHardLimit,
// byteHardLimit) fails QUOTAEXCEEDED; soft limits (count, bytes) are never
// enforced, as in ZooKeeper.
//
// ZooKeeper tracks the roots in a trie; Meerkat looks the limits nodes up in
// the tree, which stays right through a failed multi's rollback and a
// restart without any state of its own.

const (
	quotaDir   = "/zookeeper/quota"
	limitsName = "zookeeper_limits"
	statsName  = "zookeeper_stats"
)

// limitsPath and statsPath are the nodes that make root a quota root and
// that hold its usage (ZooKeeper's Quotas.limitPath and statPath).
func limitsPath(root string) string { return quotaDir + root + "/" + limitsName }
func statsPath(root string) string  { return quotaDir + root + "/" + statsName }

// quotaRoot returns the deepest quota root that path is at or under, or ""
// when there is none (the root "/" never counts, as in ZooKeeper).
func (s *State) quotaRoot(path string) string { return quotaRootIn(s.tree.current(), path) }

// quotaRootIn is quotaRoot in tree t.
func quotaRootIn(t Tree, path string) string {
	if q, ok := t.Get(quotaDir); !ok || q.NumChildren == 0 {
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
		// The quota nodes mirror the tree under quotaDir: below a prefix
		// that has no node there, no deeper one has limits.
		if _, ok := t.Get(quotaDir + prefix); !ok {
			break
		}
		if _, ok := t.Get(limitsPath(prefix)); ok {
			deepest = prefix
		}
	}
	return deepest
}

// checkQuota is ZooKeeperServer.checkQuota: with enforcement on, it refuses
// a change of count znodes and bytes under path when it takes the deepest
// quota root above past a hard limit. Like ZooKeeper it reads the tree as
// committed (before the multi in progress, if any), and skips a root whose
// limits or stats node is missing or unreadable.
func (s *State) checkQuota(path string, bytes, count int64) jute.Code {
	if !s.policy.EnforceQuota {
		return jute.CodeOK
	}
	t := s.tree.current()
	if s.multiBase != nil {
		t = *s.multiBase
	}
	root := quotaRootIn(t, path)
	if root == "" {
		return jute.CodeOK
	}
	limits, ok := readStatsTrack(t, limitsPath(root))
	if !ok {
		return jute.CodeOK
	}
	countLimit, byteLimit := limits.hardLimit("countHardLimit"), limits.hardLimit("byteHardLimit")
	checkCount := count != 0 && countLimit > -1
	checkBytes := bytes != 0 && byteLimit > -1
	if !checkCount && !checkBytes {
		return jute.CodeOK
	}
	used, ok := readStatsTrack(t, statsPath(root))
	if !ok {
		return jute.CodeOK
	}
	if checkCount && used.count+count > countLimit || checkBytes && used.bytes+bytes > byteLimit {
		return jute.CodeQuotaExceeded
	}
	return jute.CodeOK
}

// readStatsTrack parses the StatsTrack held by the node at path in t.
func readStatsTrack(t Tree, path string) (statsTrack, bool) {
	n, ok := t.Get(path)
	if !ok {
		return statsTrack{}, false
	}
	return parseStatsTrack(n.Data())
}

// hardLimit returns the hard limit named key, or -1 when there is none.
func (st statsTrack) hardLimit(key string) int64 {
	if v, ok := st.extra[key]; ok {
		return v
	}
	return -1
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

// RecountQuotas sets every quota root's statistics to a fresh count of its
// subtree, as ZooKeeper does when it loads a data tree (setupQuota): for a
// tree built from another server's files, whose counts Meerkat did not keep.
func (s *State) RecountQuotas() {
	var roots []string
	s.tree.current().Descendants(quotaDir, func(n *Node) {
		if parent, name := splitPath(n.Path()); name == limitsName && n.NumChildren == 0 {
			roots = append(roots, parent[len(quotaDir):])
		}
	})
	for _, root := range roots {
		s.recountQuota(root)
	}
}

// recountQuota sets root's stats to a fresh count of its subtree, whatever
// they held, as ZooKeeper's updateQuotaForPath does.
func (s *State) recountQuota(root string) {
	stats, ok := s.get(statsPath(root))
	if !ok {
		return
	}
	st := statsTrack{}
	// A root that does not exist counts zero, as in ZooKeeper.
	if n, ok := s.get(root); ok {
		st.count, st.bytes = 1, int64(len(n.Data()))
		s.tree.current().Descendants(root, func(c *Node) {
			st.count++
			st.bytes += int64(len(c.Data()))
		})
	}
	s.putNode(stats.withData([]byte(st.String())))
}

// adjustQuota adds to root's stats in place; a missing or unparsable stats
// node is left alone.
func (s *State) adjustQuota(root string, bytes, count int64) {
	n, ok := s.get(statsPath(root))
	if !ok {
		return
	}
	st, ok := parseStatsTrack(n.Data())
	if !ok {
		return
	}
	st.count += count
	st.bytes += bytes
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
	pairs := dropTrailingEmpty(statsSeparator.Split(s, -1))
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
