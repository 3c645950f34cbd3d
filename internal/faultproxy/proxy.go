// Package faultproxy is a TCP proxy that tests put between two servers to
// break the link the way networks do: drop everything without resetting
// the connections (a partition), or delay it. Tests send traffic through
// it on loopback only.
package faultproxy

import (
	"net"
	"sync"
	"time"
)

// Proxy forwards the connections it accepts to a target address.
type Proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	drop  bool
	delay time.Duration
	links map[*link]struct{}
	wg    sync.WaitGroup
}

// link is one proxied connection: the client side and the target side.
type link struct {
	client, server net.Conn
	// dropped is set when the link lost data while dropping: on healing
	// it is reset, since its byte stream has a hole.
	dropped bool
}

// Start listens on a free loopback port and forwards to target.
func Start(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target, links: map[*link]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the address to connect to instead of the target.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Drop makes the proxy swallow everything in both directions, keeping the
// connections open: the two sides see silence, not a reset.
func (p *Proxy) Drop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.drop = true
}

// Delay holds every chunk for d before forwarding it (0: no delay).
func (p *Proxy) Delay(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.delay = d
}

// Heal forwards again. The connections that lost data while dropping are
// reset (their byte streams have holes); the servers connect again.
func (p *Proxy) Heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.drop, p.delay = false, 0
	for l := range p.links {
		if l.dropped {
			l.client.Close()
			l.server.Close()
			delete(p.links, l)
		}
	}
}

// Close stops the proxy and closes its connections.
func (p *Proxy) Close() {
	p.ln.Close()
	p.mu.Lock()
	for l := range p.links {
		l.client.Close()
		l.server.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.DialTimeout("tcp", p.target, 2*time.Second)
		if err != nil {
			c.Close()
			continue
		}
		l := &link{client: c, server: s}
		p.mu.Lock()
		p.links[l] = struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pump(l, c, s)
		go p.pump(l, s, c)
	}
}

// pump copies from src to dst, honouring drop and delay, until either side
// closes; then it closes both.
func (p *Proxy) pump(l *link, src, dst net.Conn) {
	defer p.wg.Done()
	defer func() {
		src.Close()
		dst.Close()
		p.mu.Lock()
		delete(p.links, l)
		p.mu.Unlock()
	}()
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			drop, delay := p.drop, p.delay
			if drop {
				l.dropped = true
			}
			p.mu.Unlock()
			if delay > 0 {
				time.Sleep(delay)
			}
			if !drop {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
		}
		if err != nil {
			return
		}
	}
}
