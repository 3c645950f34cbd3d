package pipeline

import (
	"errors"

	"github.com/meerkat-zk/meerkat/engine"
	"github.com/meerkat-zk/meerkat/jute"
	"github.com/meerkat-zk/meerkat/membership"
)

// reconfigVerdict makes the checks ZooKeeper's leader makes of a reconfig
// against its own view, in its order: no other reconfig proposed and not
// yet applied (raft may still be following the last one: it moves towards
// whatever membership was applied last, one safe step at a time), the
// version asked to start from, a valid new membership, and a quorum of it
// connected and caught up. It returns the outcome and, when it is OK, the
// new membership, which the entry carries to every replica
// (engine.ReconfigBody).
func (m *member) reconfigVerdict(e *engine.Entry) (jute.Code, membership.Config) {
	req, from, err := engine.ReconfigRequest(e.Body)
	if err != nil {
		return jute.CodeMarshallingError, membership.Config{}
	}
	if m.reconfiguring {
		return jute.CodeReconfigInProgress, membership.Config{}
	}
	cur, err := m.p.state.Membership()
	if err != nil {
		return jute.CodeBadArguments, membership.Config{}
	}
	if from != -1 && from != cur.Version {
		return jute.CodeBadVersion, membership.Config{}
	}
	next, err := membership.Next(cur, req, m.p.cfg.ReconfigMinVoters)
	switch {
	case errors.Is(err, membership.ErrMarshalling):
		return jute.CodeMarshallingError, membership.Config{}
	case err != nil:
		return jute.CodeBadArguments, membership.Config{}
	}
	voters, synced := next.Voters(), 0
	for _, v := range voters {
		if uint64(v.ID) == m.id || m.repl.Synced(uint64(v.ID)) {
			synced++
		}
	}
	if synced <= len(voters)/2 {
		return jute.CodeNewConfigNoQuorum, membership.Config{}
	}
	return jute.CodeOK, next
}

// stampReconfig puts the leader's decision into a reconfig entry it
// proposes; one that passes makes further reconfigs wait until it is
// applied.
func (m *member) stampReconfig(e *engine.Entry) {
	if !e.Policy.ReconfigEnabled {
		// The log answers RECONFIGDISABLED before it looks at the verdict.
		e.Body = engine.ReconfigBody(jute.CodeReconfigDisabled, membership.Config{}, e.Body)
		return
	}
	v, next := m.reconfigVerdict(e)
	if v == jute.CodeOK {
		m.reconfiguring = true
	}
	e.Body = engine.ReconfigBody(v, next, e.Body)
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
