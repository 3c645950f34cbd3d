package pipeline

import (
	"github.com/meerkat-zk/meerkat/engine"
	"github.com/meerkat-zk/meerkat/jute"
	"github.com/meerkat-zk/meerkat/membership"
)

// reconfigVerdict makes the checks ZooKeeper's leader makes of a reconfig
// against its own view, in its order: no other reconfig under way, the
// version asked to start from, a valid new membership, and a quorum of it
// connected and caught up. The entry carries the outcome to every replica
// (engine.ReconfigBody).
func (m *member) reconfigVerdict(e *engine.Entry) jute.Code {
	req, from, err := engine.ReconfigRequest(e.Body)
	if err != nil {
		return jute.CodeMarshallingError
	}
	if m.reconfiguring || m.repl.Reconfiguring() {
		return jute.CodeReconfigInProgress
	}
	cur, err := m.p.state.Membership()
	if err != nil {
		return jute.CodeBadArguments
	}
	if from != -1 && from != cur.Version {
		return jute.CodeBadVersion
	}
	next, err := membership.Next(cur, req, m.p.cfg.ReconfigMinVoters)
	if err != nil {
		return jute.CodeBadArguments
	}
	voters, synced := next.Voters(), 0
	for _, v := range voters {
		if uint64(v.ID) == m.id || m.repl.Synced(uint64(v.ID)) {
			synced++
		}
	}
	if synced <= len(voters)/2 {
		return jute.CodeNewConfigNoQuorum
	}
	return jute.CodeOK
}

// stampReconfig puts the leader's verdict into a reconfig entry it
// proposes; one that passes makes further reconfigs wait until it is
// applied.
func (m *member) stampReconfig(e *engine.Entry) {
	if !e.Policy.ReconfigEnabled {
		// The log answers RECONFIGDISABLED before it looks at the verdict.
		e.Body = engine.ReconfigBody(jute.CodeOK, e.Body)
		return
	}
	v := m.reconfigVerdict(e)
	if v == jute.CodeOK {
		m.reconfiguring = true
	}
	e.Body = engine.ReconfigBody(v, e.Body)
}

// membershipChanged tells OnMembership the membership the state holds.
func (p *Pipeline) membershipChanged() {
	if p.cfg.OnMembership == nil {
		return
	}
	if c, err := p.state.Membership(); err == nil {
		p.cfg.OnMembership(c)
	}
}
