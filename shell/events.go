package shell

import "strconv"

// The session states an event reports (Java's Watcher.Event.KeeperState).
const (
	keeperDisconnected      int32 = 0
	keeperSyncConnected     int32 = 3
	keeperAuthFailed        int32 = 4
	keeperConnectedReadOnly int32 = 5
	keeperClosed            int32 = 7
	keeperExpired           int32 = -112
)

// The event types (Java's Watcher.Event.EventType).
const (
	eventNone                   int32 = -1
	eventNodeCreated            int32 = 1
	eventNodeDeleted            int32 = 2
	eventNodeDataChanged        int32 = 3
	eventNodeChildrenChanged    int32 = 4
	eventDataWatchRemoved       int32 = 5
	eventChildWatchRemoved      int32 = 6
	eventPersistentWatchRemoved int32 = 7
)

var keeperStateNames = map[int32]string{
	-1: "Unknown", keeperDisconnected: "Disconnected", 1: "NoSyncConnected", keeperSyncConnected: "SyncConnected",
	keeperAuthFailed: "AuthFailed", keeperConnectedReadOnly: "ConnectedReadOnly", 6: "SaslAuthenticated",
	keeperExpired: "Expired", keeperClosed: "Closed",
}

var eventTypeNames = map[int32]string{
	eventNone: "None", eventNodeCreated: "NodeCreated", eventNodeDeleted: "NodeDeleted",
	eventNodeDataChanged: "NodeDataChanged", eventNodeChildrenChanged: "NodeChildrenChanged",
	eventDataWatchRemoved: "DataWatchRemoved", eventChildWatchRemoved: "ChildWatchRemoved",
	eventPersistentWatchRemoved: "PersistentWatchRemoved",
}

// watchedEvent is a watch event or a change of the session's state.
type watchedEvent struct {
	state, typ int32
	path       string
	hasPath    bool // state changes have none ("null")
}

// String renders the event as Java's WatchedEvent.toString does.
func (e watchedEvent) String() string {
	path := "null"
	if e.hasPath {
		path = e.path
	}
	return "WatchedEvent state:" + name(keeperStateNames, e.state) + " type:" + name(eventTypeNames, e.typ) + " path:" + path
}

func name(names map[int32]string, v int32) string {
	if n, ok := names[v]; ok {
		return n
	}
	return strconv.Itoa(int(v))
}
