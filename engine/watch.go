package engine

import (
	"github.com/meerkat-zk/meerkat/jute"
)

// WatchMode is how a watch behaves once registered.
type WatchMode uint8

// Watch modes: standard watches fire once; persistent ones stay; recursive
// ones also fire for every descendant (never with NodeChildrenChanged).
const (
	WatchStandard WatchMode = iota
	WatchPersistent
	WatchRecursive
)

// Watcher types of checkWatches and removeWatches.
const (
	WatcherChildren int32 = 1
	WatcherData     int32 = 2
	WatcherAny      int32 = 3
)

// watcherSet is the watchers of one path and their modes. Most paths have
// one watcher, kept inline: a map per watched path would cost several
// hundred bytes per watch (a million watches took 650 MB); the map exists
// only from the second watcher on.
type watcherSet[W comparable] struct {
	one     W
	oneMode WatchMode
	hasOne  bool
	more    map[W]WatchMode
}

func (s *watcherSet[W]) len() int {
	n := len(s.more)
	if s.hasOne {
		n++
	}
	return n
}

func (s *watcherSet[W]) get(w W) (WatchMode, bool) {
	if s.hasOne && s.one == w {
		return s.oneMode, true
	}
	mode, ok := s.more[w]
	return mode, ok
}

// set gives w mode, and returns the mode it replaced.
func (s *watcherSet[W]) set(w W, mode WatchMode) (old WatchMode, had bool) {
	if old, had = s.get(w); had && s.hasOne && s.one == w {
		s.oneMode = mode
		return old, had
	}
	if !had && !s.hasOne {
		s.one, s.oneMode, s.hasOne = w, mode, true
		return old, had
	}
	if s.more == nil {
		s.more = map[W]WatchMode{}
	}
	s.more[w] = mode
	return old, had
}

func (s *watcherSet[W]) remove(w W) {
	if s.hasOne && s.one == w {
		var zero W
		s.one, s.hasOne = zero, false
		return
	}
	delete(s.more, w)
}

// each calls fn with every watcher and its mode, and removes those for
// which fn returns true.
func (s *watcherSet[W]) each(fn func(w W, mode WatchMode) (remove bool)) {
	if s.hasOne && fn(s.one, s.oneMode) {
		s.remove(s.one)
	}
	for w, mode := range s.more {
		if fn(w, mode) {
			delete(s.more, w)
		}
	}
}

// watchManager is one of ZooKeeper's two watch tables (data or child). A
// path holds one mode per watcher: registering again replaces the mode, the
// quirk ZooKeeper 3.8 has.
type watchManager[W comparable] struct {
	byPath    map[string]*watcherSet[W]
	byWatcher map[W]map[string]struct{}
	recursive int
}

func newWatchManager[W comparable]() watchManager[W] {
	return watchManager[W]{byPath: map[string]*watcherSet[W]{}, byWatcher: map[W]map[string]struct{}{}}
}

func (m *watchManager[W]) add(path string, w W, mode WatchMode) {
	ws := m.byPath[path]
	if ws == nil {
		ws = &watcherSet[W]{}
		m.byPath[path] = ws
	}
	old, had := ws.set(w, mode)
	if had && old == WatchRecursive {
		m.recursive--
	}
	if mode == WatchRecursive {
		m.recursive++
	}
	ps := m.byWatcher[w]
	if ps == nil {
		ps = map[string]struct{}{}
		m.byWatcher[w] = ps
	}
	ps[path] = struct{}{}
}

func (m *watchManager[W]) removePath(path string, w W) bool {
	ps := m.byWatcher[w]
	if _, ok := ps[path]; !ok {
		return false
	}
	delete(ps, path)
	if len(ps) == 0 {
		delete(m.byWatcher, w)
	}
	ws := m.byPath[path]
	if ws == nil {
		return false
	}
	mode, ok := ws.get(w)
	if !ok {
		return false
	}
	if mode == WatchRecursive {
		m.recursive--
	}
	ws.remove(w)
	if ws.len() == 0 {
		delete(m.byPath, path)
	}
	return true
}

func (m *watchManager[W]) removeWatcher(w W) {
	for p := range m.byWatcher[w] {
		ws := m.byPath[p]
		if ws == nil {
			continue
		}
		if mode, _ := ws.get(w); mode == WatchRecursive {
			m.recursive--
		}
		ws.remove(w)
		if ws.len() == 0 {
			delete(m.byPath, p)
		}
	}
	delete(m.byWatcher, w)
}

// nextParent walks a path up as ZooKeeper's PathParentIterator does:
// "/a/b", "/a", "/", then done.
func nextParent(p string) (string, bool) {
	if p == "/" || p == "" {
		return "", false
	}
	parent, _ := splitPath(p)
	if parent == "" {
		parent = "/"
	}
	return parent, true
}

// trigger collects the watchers an event on path fires, removing standard
// watches, and calls fire for each one not in suppress. It returns the set
// fired, for the suppression of the delete event in the child table.
func (m *watchManager[W]) trigger(path string, typ int32, suppress map[W]struct{}, fire func(W)) map[W]struct{} {
	var fired map[W]struct{}
	local, atParent := path, false
	for {
		if ws := m.byPath[local]; ws != nil {
			ws.each(func(w W, mode WatchMode) (remove bool) {
				switch {
				case mode == WatchRecursive:
					if typ == jute.EventNodeChildrenChanged {
						return false
					}
				case atParent:
					return false
				case mode == WatchStandard:
					remove = true
					if ps := m.byWatcher[w]; ps != nil {
						delete(ps, local)
						if len(ps) == 0 {
							delete(m.byWatcher, w)
						}
					}
				}
				if fired == nil {
					fired = map[W]struct{}{}
				}
				fired[w] = struct{}{}
				return remove
			})
			if ws.len() == 0 {
				delete(m.byPath, local)
			}
		}
		if m.recursive == 0 {
			break
		}
		var ok bool
		if local, ok = nextParent(local); !ok {
			break
		}
		atParent = true
	}
	for w := range fired {
		if _, skip := suppress[w]; !skip {
			fire(w)
		}
	}
	return fired
}

// contains is ZooKeeper 3.8's WatchManager.containsWatcher. Its loop
// reduces to one test, quirk included: the answer is yes when any watcher,
// not only w, has a watch on exactly this path.
func (m *watchManager[W]) contains(path string) bool {
	return m.byPath[path] != nil
}

// Watches is the watch registry of the connections one goroutine (an event
// loop) owns: ZooKeeper's data and child tables. It is not safe for
// concurrent use.
type Watches[W comparable] struct {
	data  watchManager[W]
	child watchManager[W]
}

// NewWatches returns an empty registry.
func NewWatches[W comparable]() *Watches[W] {
	return &Watches[W]{data: newWatchManager[W](), child: newWatchManager[W]()}
}

// AddData registers a standard data watch (getData, exists).
func (t *Watches[W]) AddData(path string, w W) { t.data.add(path, w, WatchStandard) }

// AddChild registers a standard child watch (getChildren).
func (t *Watches[W]) AddChild(path string, w W) { t.child.add(path, w, WatchStandard) }

// AddPersistent registers an addWatch watch in both tables; recursive
// selects PERSISTENT_RECURSIVE.
func (t *Watches[W]) AddPersistent(path string, w W, recursive bool) {
	mode := WatchPersistent
	if recursive {
		mode = WatchRecursive
	}
	t.data.add(path, w, mode)
	t.child.add(path, w, mode)
}

// Trigger fires the watches an event matches, calling fire once per watcher
// that should be told.
func (t *Watches[W]) Trigger(ev Event, fire func(W)) {
	switch ev.Type {
	case jute.EventNodeCreated, jute.EventNodeDataChanged:
		t.data.trigger(ev.Path, ev.Type, nil, fire)
	case jute.EventNodeDeleted:
		fired := t.data.trigger(ev.Path, ev.Type, nil, fire)
		t.child.trigger(ev.Path, ev.Type, fired, fire)
	case jute.EventNodeChildrenChanged:
		t.child.trigger(ev.Path, ev.Type, nil, fire)
	}
}

// Contains answers checkWatches for watcher type typ (1 children, 2 data,
// 3 any). Like ZooKeeper 3.8 it does not look at who asks.
func (t *Watches[W]) Contains(path string, typ int32) bool {
	switch typ {
	case WatcherChildren:
		return t.child.contains(path)
	case WatcherData:
		return t.data.contains(path)
	}
	return t.child.contains(path) || t.data.contains(path)
}

// Remove answers removeWatches: it reports whether anything was removed.
func (t *Watches[W]) Remove(path string, typ int32, w W) bool {
	switch typ {
	case WatcherChildren:
		return t.child.removePath(path, w)
	case WatcherData:
		return t.data.removePath(path, w)
	}
	c := t.child.removePath(path, w)
	return t.data.removePath(path, w) || c
}

// RemoveWatcher drops every watch of w (its connection closed).
func (t *Watches[W]) RemoveWatcher(w W) {
	t.data.removeWatcher(w)
	t.child.removeWatcher(w)
}

// Summary returns what the wchs four-letter word reports, for the data table
// only, as ZooKeeper does: watchers, paths and watches.
func (t *Watches[W]) Summary() (watchers, paths, total int) {
	for _, ps := range t.data.byWatcher {
		total += len(ps)
	}
	return len(t.data.byWatcher), len(t.data.byPath), total
}

// CountOf returns the watches w holds in both tables.
func (t *Watches[W]) CountOf(w W) int { return len(t.data.byWatcher[w]) + len(t.child.byWatcher[w]) }

// Count returns the watches in both tables (mntr's zk_watch_count).
func (t *Watches[W]) Count() int {
	n := 0
	for _, ws := range t.data.byPath {
		n += ws.len()
	}
	for _, ws := range t.child.byPath {
		n += ws.len()
	}
	return n
}

// ByWatcher calls fn with each watcher and the paths of its data watches.
func (t *Watches[W]) ByWatcher(fn func(w W, paths []string)) {
	for w, ps := range t.data.byWatcher {
		paths := make([]string, 0, len(ps))
		for p := range ps {
			paths = append(paths, p)
		}
		fn(w, paths)
	}
}

// ByPath calls fn with each data-watched path and its watchers.
func (t *Watches[W]) ByPath(fn func(path string, ws []W)) {
	for p, set := range t.data.byPath {
		ws := make([]W, 0, set.len())
		set.each(func(w W, _ WatchMode) bool {
			ws = append(ws, w)
			return false
		})
		fn(p, ws)
	}
}

// SetWatches re-registers a reconnecting client's watches against view, as
// DataTree.setWatches does, calling fire for each event the client missed
// since relativeZxid (those watches are not re-registered).
func (t *Watches[W]) SetWatches(v *View, sw *jute.SetWatches, w W, fire func(Event)) {
	for _, p := range sw.DataWatches {
		n, ok := v.Tree.Get(p)
		switch {
		case !ok:
			fire(Event{Type: jute.EventNodeDeleted, Path: p})
		case n.Mzxid > sw.RelativeZxid:
			fire(Event{Type: jute.EventNodeDataChanged, Path: p})
		default:
			t.data.add(p, w, WatchStandard)
		}
	}
	for _, p := range sw.ExistWatches {
		if _, ok := v.Tree.Get(p); ok {
			fire(Event{Type: jute.EventNodeCreated, Path: p})
		} else {
			t.data.add(p, w, WatchStandard)
		}
	}
	for _, p := range sw.ChildWatches {
		n, ok := v.Tree.Get(p)
		switch {
		case !ok:
			fire(Event{Type: jute.EventNodeDeleted, Path: p})
		case n.Pzxid > sw.RelativeZxid:
			fire(Event{Type: jute.EventNodeChildrenChanged, Path: p})
		default:
			t.child.add(p, w, WatchStandard)
		}
	}
	for _, p := range sw.PersistentWatches {
		t.AddPersistent(p, w, false)
	}
	for _, p := range sw.PersistentRecursive {
		t.AddPersistent(p, w, true)
	}
}
