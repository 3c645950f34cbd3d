package shell

import (
	"slices"
	"strings"
	"sync"

	"github.com/meerkat-zk/meerkat/jute"
)

// The kinds of watch a session holds, as the Java client tracks them.
type watchKind int

const (
	watchData watchKind = iota
	watchExist
	watchChild
	watchPersistent
	watchRecursive
	numWatchKinds
)

// The watcher types of removewatches (Java's WatcherType).
const (
	watcherChildren int32 = 1
	watcherData     int32 = 2
	watcherAny      int32 = 3
)

// watchRegistry is the client's side of a session's watches: which paths
// have which kinds. It decides which events reach the shell and what
// removewatches removes, and is replayed to the server after a reconnect.
type watchRegistry struct {
	mu    sync.Mutex
	paths [numWatchKinds]map[string]bool
}

func (w *watchRegistry) add(kind watchKind, path string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.paths[kind] == nil {
		w.paths[kind] = map[string]bool{}
	}
	w.paths[kind][path] = true
}

// take removes path from the kinds given and reports whether any had it.
func (w *watchRegistry) take(path string, kinds ...watchKind) bool {
	found := false
	for _, k := range kinds {
		if w.paths[k][path] {
			delete(w.paths[k], path)
			found = true
		}
	}
	return found
}

// trigger consumes the one-shot watches an event of type typ on path fires
// and reports whether any watch (persistent ones included) wanted it.
func (w *watchRegistry) trigger(typ int32, path string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	fired := false
	switch typ {
	case eventNodeCreated, eventNodeDataChanged:
		fired = w.take(path, watchData, watchExist)
	case eventNodeChildrenChanged:
		fired = w.take(path, watchChild)
	case eventNodeDeleted:
		fired = w.take(path, watchData, watchExist, watchChild)
	default:
		return false
	}
	if w.paths[watchPersistent][path] {
		fired = true
	}
	for p := path; ; p = parentPath(p) {
		if w.paths[watchRecursive][p] {
			fired = true
		}
		if p == "/" {
			break
		}
	}
	return fired
}

// parentPath returns the parent of a path other than "/".
func parentPath(p string) string {
	if i := strings.LastIndexByte(p, '/'); i > 0 {
		return p[:i]
	}
	return "/"
}

// remove takes path's watches of watcher type wtype away after the server
// answered a removeWatches with rc, as the Java client does, and returns
// the event types to report for what it removed. Without a watch of that
// type (or when the server refused and local is not set) it fails.
func (w *watchRegistry) remove(path string, wtype int32, local bool, rc jute.Code) ([]int32, jute.Code) {
	w.mu.Lock()
	defer w.mu.Unlock()
	has := func(kinds ...watchKind) bool {
		return slices.ContainsFunc(kinds, func(k watchKind) bool { return w.paths[k][path] })
	}
	var present bool
	switch wtype {
	case watcherChildren:
		present = has(watchChild, watchPersistent, watchRecursive)
	case watcherData:
		present = has(watchData, watchExist, watchPersistent, watchRecursive)
	default:
		present = has(watchData, watchExist, watchChild, watchPersistent, watchRecursive)
	}
	if !present {
		return nil, jute.CodeNoWatcher
	}
	if rc != jute.CodeOK && !local {
		return nil, rc
	}
	var events []int32
	if wtype != watcherData && w.take(path, watchChild) {
		events = append(events, eventChildWatchRemoved)
	}
	if wtype != watcherChildren && w.take(path, watchData, watchExist) {
		events = append(events, eventDataWatchRemoved)
	}
	if wtype == watcherAny && w.take(path, watchPersistent, watchRecursive) {
		events = append(events, eventPersistentWatchRemoved)
	}
	if events == nil {
		return nil, jute.CodeNoWatcher
	}
	return events, jute.CodeOK
}

// setWatches returns the watches to set again on a new connection, with
// the server's paths (prefix prepended).
func (w *watchRegistry) setWatches(prefix string) (sw jute.SetWatches, some, persistent bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	list := func(k watchKind) []string {
		var out []string
		for p := range w.paths[k] {
			out = append(out, serverPath(prefix, p))
		}
		some = some || len(out) > 0
		return out
	}
	sw.DataWatches, sw.ExistWatches, sw.ChildWatches = list(watchData), list(watchExist), list(watchChild)
	sw.PersistentWatches, sw.PersistentRecursive = list(watchPersistent), list(watchRecursive)
	return sw, some, len(sw.PersistentWatches)+len(sw.PersistentRecursive) > 0
}
