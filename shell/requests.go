package shell

import (
	"github.com/meerkat-zk/meerkat/jute"
)

// The requests the commands send, as the Java client's synchronous API
// makes them: paths are checked and put under the chroot, errors carry the
// client's path, and watches are registered as the replies say.

// Create modes (Java's CreateMode flags).
const (
	flagEphemeral  int32 = 1
	flagSequential int32 = 2
	modeContainer  int32 = 4
	modeTTL        int32 = 5 // persistent with TTL; +flagSequential for sequential
)

// sequentialMode and ttlMode classify create modes as Java's CreateMode.
func sequentialMode(flags int32) bool { return flags&flagSequential != 0 }
func ttlMode(flags int32) bool        { return flags == modeTTL || flags == modeTTL+1 }

// maxTTL is the largest TTL a node can have, in ms.
const maxTTL = 1<<40 - 1

// checkTTL checks a TTL as the Java client does.
func checkTTL(ttl int64) error {
	if ttl <= 0 || ttl > maxTTL {
		return argError("ttl must be positive and cannot be larger than: 1099511627775")
	}
	return nil
}

// request sends a request about path and turns a refusal into an error.
func (c *client) request(op jute.OpCode, path string, body []byte, onReply func(jute.Code) jute.Code) (*jute.Decoder, error) {
	code, resp := c.do(op, body, onReply)
	if code != jute.CodeOK {
		return nil, &keeperError{code: code, path: path}
	}
	return jute.NewDecoder(resp), nil
}

// decoded returns d's error, if decoding the reply failed.
func decoded(d *jute.Decoder, path string) error {
	if d.Err() != nil {
		return &keeperError{code: jute.CodeMarshallingError, path: path}
	}
	return nil
}

// create creates path with mode flags (and a TTL for the TTL modes) and
// returns the path created.
func (c *client) create(path string, data []byte, acl []jute.ACL, flags int32, ttl int64) (string, error) {
	if err := validateCreatePath(path, sequentialMode(flags)); err != nil {
		return "", err
	}
	isTTL := ttlMode(flags)
	if isTTL {
		if err := checkTTL(ttl); err != nil {
			return "", err
		}
	}
	if len(acl) == 0 {
		return "", &keeperError{code: jute.CodeInvalidACL, noPath: true}
	}
	op := jute.OpCreate
	switch {
	case isTTL:
		op = jute.OpCreateTTL
	case flags == modeContainer:
		op = jute.OpCreateContainer
	}
	req := jute.CreateRequest{Path: serverPath(c.chroot, path), Data: data, ACL: acl, Flags: flags, TTL: ttl}
	d, err := c.request(op, path, req.AppendCreate(nil, isTTL), nil)
	if err != nil {
		return "", err
	}
	created := d.String()
	return c.clientPath(created), decoded(d, path)
}

// delete deletes path at version (-1 for any).
func (c *client) delete(path string, version int32) error {
	if err := validatePath(path); err != nil {
		return err
	}
	p := path
	if p != "/" {
		p = serverPath(c.chroot, path)
	}
	_, err := c.request(jute.OpDelete, path, (&jute.PathVersionRequest{Path: p, Version: version}).Append(nil), nil)
	return err
}

// deleteAll deletes paths in one multi request and reports whether all
// went.
func (c *client) deleteAll(paths []string) bool {
	var body []byte
	for _, p := range paths {
		body = (&jute.MultiHeader{Type: jute.OpDelete, Err: -1}).Append(body)
		body = (&jute.PathVersionRequest{Path: serverPath(c.chroot, p), Version: -1}).Append(body)
	}
	code, resp := c.do(jute.OpMulti, jute.AppendMultiEnd(body), nil)
	if code != jute.CodeOK {
		return false
	}
	d := jute.NewDecoder(resp)
	for {
		var h jute.MultiHeader
		h.Decode(d)
		if d.Err() != nil {
			return false
		}
		if h.Done {
			return true
		}
		if h.Type == jute.OpError && d.Int() != 0 {
			return false
		}
	}
}

// watchOnReply registers a watch of kind on path when the reply's code is
// ok (or, for an exists watch, NONODE).
func (c *client) watchOnReply(watch bool, kind watchKind, path string) func(jute.Code) jute.Code {
	if !watch {
		return nil
	}
	return func(code jute.Code) jute.Code {
		switch {
		case code == jute.CodeOK && kind == watchExist:
			c.watches.add(watchData, path)
		case code == jute.CodeOK || code == jute.CodeNoNode && kind == watchExist:
			c.watches.add(kind, path)
		}
		return code
	}
}

// exists returns path's Stat, or nil when it does not exist.
func (c *client) exists(path string, watch bool) (*jute.Stat, error) {
	if err := validatePath(path); err != nil {
		return nil, err
	}
	body := (&jute.PathWatchRequest{Path: serverPath(c.chroot, path), Watch: watch}).Append(nil)
	d, err := c.request(jute.OpExists, path, body, c.watchOnReply(watch, watchExist, path))
	if ke, ok := err.(*keeperError); ok && ke.code == jute.CodeNoNode {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	var st jute.Stat
	st.Decode(d)
	return &st, decoded(d, path)
}

// getData returns path's data (nil for none) and Stat.
func (c *client) getData(path string, watch bool) ([]byte, jute.Stat, error) {
	if err := validatePath(path); err != nil {
		return nil, jute.Stat{}, err
	}
	return c.readData(path, serverPath(c.chroot, path), watch)
}

// getConfig returns the configuration node's data and Stat; it is never
// under the chroot.
func (c *client) getConfig(watch bool) ([]byte, jute.Stat, error) {
	return c.readData(configNode, configNode, watch)
}

// configNode holds the ensemble's membership.
const configNode = "/zookeeper/config"

func (c *client) readData(path, server string, watch bool) ([]byte, jute.Stat, error) {
	var st jute.Stat
	body := (&jute.PathWatchRequest{Path: server, Watch: watch}).Append(nil)
	d, err := c.request(jute.OpGetData, path, body, c.watchOnReply(watch, watchData, path))
	if err != nil {
		return nil, st, err
	}
	data := d.Buffer()
	st.Decode(d)
	return data, st, decoded(d, path)
}

// setData sets path's data at version (-1 for any) and returns its Stat.
func (c *client) setData(path string, data []byte, version int32) (jute.Stat, error) {
	var st jute.Stat
	if err := validatePath(path); err != nil {
		return st, err
	}
	body := (&jute.SetDataRequest{Path: serverPath(c.chroot, path), Data: data, Version: version}).Append(nil)
	d, err := c.request(jute.OpSetData, path, body, nil)
	if err != nil {
		return st, err
	}
	st.Decode(d)
	return st, decoded(d, path)
}

// getChildren returns path's children and, with withStat, its Stat.
func (c *client) getChildren(path string, watch, withStat bool) ([]string, jute.Stat, error) {
	var st jute.Stat
	if err := validatePath(path); err != nil {
		return nil, st, err
	}
	op := jute.OpGetChildren
	if withStat {
		op = jute.OpGetChildren2
	}
	body := (&jute.PathWatchRequest{Path: serverPath(c.chroot, path), Watch: watch}).Append(nil)
	d, err := c.request(op, path, body, c.watchOnReply(watch, watchChild, path))
	if err != nil {
		return nil, st, err
	}
	children := d.Strings()
	if withStat {
		st.Decode(d)
	}
	return children, st, decoded(d, path)
}

// getACL returns path's ACL and Stat.
func (c *client) getACL(path string) ([]jute.ACL, jute.Stat, error) {
	var st jute.Stat
	if err := validatePath(path); err != nil {
		return nil, st, err
	}
	d, err := c.request(jute.OpGetACL, path, (&jute.PathRequest{Path: serverPath(c.chroot, path)}).Append(nil), nil)
	if err != nil {
		return nil, st, err
	}
	acl := d.ACLs()
	st.Decode(d)
	return acl, st, decoded(d, path)
}

// setACL sets path's ACL at ACL version (-1 for any) and returns its Stat.
func (c *client) setACL(path string, acl []jute.ACL, version int32) (jute.Stat, error) {
	var st jute.Stat
	if err := validatePath(path); err != nil {
		return st, err
	}
	if len(acl) == 0 {
		return st, &keeperError{code: jute.CodeInvalidACL, noPath: true}
	}
	body := (&jute.SetACLRequest{Path: serverPath(c.chroot, path), ACL: acl, Version: version}).Append(nil)
	d, err := c.request(jute.OpSetACL, path, body, nil)
	if err != nil {
		return st, err
	}
	st.Decode(d)
	return st, decoded(d, path)
}

// sync asks the server to catch up with the leader on path and returns
// the answer's code.
func (c *client) sync(path string) (jute.Code, error) {
	if err := validatePath(path); err != nil {
		return 0, err
	}
	code, _ := c.do(jute.OpSync, (&jute.PathRequest{Path: serverPath(c.chroot, path)}).Append(nil), nil)
	return code, nil
}

// getEphemerals returns the session's ephemeral nodes whose paths start
// with prefix (sent as given: the Java client does not apply the chroot).
func (c *client) getEphemerals(prefix string) ([]string, error) {
	if err := validatePath(prefix); err != nil {
		return nil, err
	}
	d, err := c.request(jute.OpGetEphemerals, prefix, (&jute.PathRequest{Path: prefix}).Append(nil), nil)
	if err != nil {
		return nil, err
	}
	paths := d.Strings()
	return paths, decoded(d, prefix)
}

// getAllChildrenNumber returns how many nodes lie below path.
func (c *client) getAllChildrenNumber(path string) (int32, error) {
	if err := validatePath(path); err != nil {
		return 0, err
	}
	d, err := c.request(jute.OpGetAllChildrenNumber, path, (&jute.PathRequest{Path: serverPath(c.chroot, path)}).Append(nil), nil)
	if err != nil {
		return 0, err
	}
	n := d.Int()
	return n, decoded(d, path)
}

// The modes of addWatch (Java's AddWatchMode).
const (
	addWatchPersistent int32 = 0
	addWatchRecursive  int32 = 1
)

// addWatch sets a persistent watch, recursive or not, on path.
func (c *client) addWatch(path string, mode int32) error {
	if err := validatePath(path); err != nil {
		return err
	}
	kind := watchPersistent
	if mode == addWatchRecursive {
		kind = watchRecursive
	}
	body := (&jute.PathTypeRequest{Path: serverPath(c.chroot, path), Type: mode}).Append(nil)
	_, err := c.request(jute.OpAddWatch, path, body, c.watchOnReply(true, kind, path))
	return err
}

// removeWatches removes path's watches of watcher type wtype, on the server
// and here (here only, if the server cannot be reached and local is set);
// each kind removed is reported as an event.
func (c *client) removeWatches(path string, wtype int32, local bool) error {
	if err := validatePath(path); err != nil {
		return err
	}
	onReply := func(rc jute.Code) jute.Code {
		removed, code := c.watches.remove(path, wtype, local, rc)
		state := keeperSyncConnected
		if rc == jute.CodeConnectionLoss || rc == jute.CodeSessionExpired {
			state = keeperDisconnected
		}
		for _, typ := range removed {
			c.emit(watchedEvent{state: state, typ: typ, path: path, hasPath: true})
		}
		return code
	}
	body := (&jute.PathTypeRequest{Path: serverPath(c.chroot, path), Type: wtype}).Append(nil)
	_, err := c.request(jute.OpRemoveWatches, path, body, onReply)
	return err
}

// whoAmI returns the session's identities as scheme and user pairs.
func (c *client) whoAmI() ([]jute.ClientInfo, error) {
	d, err := c.request(jute.OpWhoAmI, "", nil, nil)
	if err != nil {
		return nil, err
	}
	n := d.VectorLen()
	infos := make([]jute.ClientInfo, 0, n)
	for range n {
		infos = append(infos, jute.ClientInfo{AuthScheme: d.String(), User: d.String()})
	}
	return infos, decoded(d, "")
}

// reconfig sends a reconfig request and returns the membership committed
// (the data of /zookeeper/config) and its Stat.
func (c *client) reconfig(req *jute.ReconfigRequest) ([]byte, jute.Stat, error) {
	var st jute.Stat
	// zkCli names no path in a reconfig's errors ("version No is not
	// valid : ").
	d, err := c.request(jute.OpReconfig, "", req.Append(nil), nil)
	if err != nil {
		return nil, st, err
	}
	data := d.Buffer()
	st.Decode(d)
	return data, st, decoded(d, "")
}
