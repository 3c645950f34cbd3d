package engine

import (
	"errors"

	"github.com/meerkat-zk/meerkat/jute"
	"github.com/meerkat-zk/meerkat/membership"
)

// An ensemble's reconfig entry carries, before the client's request, the
// leader's decision: the outcome of the checks ZooKeeper's leader makes
// against its own view (a reconfig already in progress, the version, the
// new membership's validity, a synced quorum in it) and, when they pass,
// the new membership. Apply makes the checks every replica can (session,
// ACL) in ZooKeeper's order around it and writes what the leader decided,
// whatever this replica's /zookeeper/config held before (a member that
// joined has its own idea of the past).

// ReconfigBody returns the body of an ensemble's reconfig entry: the
// leader's verdict, the new membership (when the verdict is OK), then the
// request as the client sent it.
func ReconfigBody(verdict jute.Code, next membership.Config, request []byte) []byte {
	b := jute.AppendInt(nil, int32(verdict))
	var text []byte
	if verdict == jute.CodeOK {
		next.Version = 0
		text = []byte(next.Text())
	}
	return append(jute.AppendBuffer(b, text), request...)
}

// ReconfigRequest decodes a reconfig request's membership part and the
// version it asks to start from (-1: any); a null newMembers is an
// incremental request, an empty one a whole (empty) membership.
func ReconfigRequest(body []byte) (membership.Request, int64, error) {
	var rr jute.ReconfigRequest
	d := jute.NewDecoder(body)
	rr.Decode(d)
	if d.Err() != nil {
		return membership.Request{}, 0, d.Err()
	}
	req := membership.Request{Joining: rr.JoiningServers, Leaving: rr.LeavingServers}
	if !rr.NewMembersNull {
		req.NewMembers = &rr.NewMembers
	}
	return req, rr.CurConfigID, nil
}

// ConfigNodePath is the znode holding the ensemble's membership.
const ConfigNodePath = "/zookeeper/config"

// Membership returns the membership /zookeeper/config holds.
func (s *State) Membership() (membership.Config, error) {
	n, ok := s.get(ConfigNodePath)
	if !ok {
		return membership.Config{}, errors.New("engine: no " + ConfigNodePath)
	}
	return membership.Parse(string(n.Data()))
}

// reconfig applies an ensemble's reconfig entry (see ReconfigBody): on
// success /zookeeper/config holds the new membership, versioned with
// zxid, and the reply is its data and stat, as ZooKeeper's.
func (s *State) reconfig(e *Entry, zxid int64) ([]byte, jute.Code) {
	d := jute.NewDecoder(e.Body)
	verdict := jute.Code(d.Int())
	text := d.Buffer()
	if d.Err() != nil {
		return nil, jute.CodeMarshallingError
	}
	if verdict != jute.CodeOK {
		return nil, verdict
	}
	n, _ := s.get(ConfigNodePath)
	if !s.allowed(n, jute.PermWrite, e.Identities) {
		return nil, jute.CodeNoAuth
	}
	next, err := membership.Parse(string(text))
	if err != nil {
		return nil, jute.CodeMarshallingError
	}
	next.Version = zxid
	data := []byte(next.Text())
	u := n.withData(data)
	u.Version, u.Mtime, u.Mzxid = -1, e.Time, zxid
	s.putNode(u)
	s.pending = append(s.pending, change{kind: jute.EventNodeDataChanged, path: ConfigNodePath, acl: u.acl})
	s.commitChanges()
	st := u.Stat()
	return st.Append(jute.AppendBuffer(nil, data)), jute.CodeOK
}

// VersionMembership gives a membership still at version 0 (server lines
// from zoo.cfg) the current zxid as its version and mzxid, and reports
// whether it did. ZooKeeper's first leader versions its initial
// configuration so when reconfigEnabled is on; a replicated log does it
// where the first batch of a leadership says reconfigEnabled, so that
// every member does it at the same place whatever its own zoo.cfg says.
func (s *State) VersionMembership() bool {
	n, ok := s.get(ConfigNodePath)
	if !ok {
		return false
	}
	c, err := membership.Parse(string(n.Data()))
	if err != nil || len(c.Servers) == 0 || c.Version != 0 {
		return false
	}
	c.Version = s.zxid
	u := n.withData([]byte(c.Text()))
	u.Mzxid = s.zxid
	s.putNode(u)
	return true
}
