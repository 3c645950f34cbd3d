package bench

import (
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/meerkat-zk/meerkat/jute"
)

// eventWaiters waits for watch events on many connections with a few
// epoll loops instead of a goroutine per connection, so that reading ten
// thousand sockets costs the generator one read syscall each and no
// goroutine wake-up: the fan-out must measure the server, not the
// generator's scheduler.
type eventWaiters struct {
	conns []*conn
	fds   []int
	eps   []int // connection i belongs to loop i % len(eps)
}

// newEventWaiters registers every connection's socket with one of loops
// epoll instances (level-triggered, readable). Each registration carries
// the connection's index as its epoll data (EpollEvent.Fd, which the
// kernel hands back untouched), so an event leads to its connection
// without a lookup.
func newEventWaiters(conns []*conn, loops int) (*eventWaiters, error) {
	w := &eventWaiters{conns: conns, fds: make([]int, len(conns))}
	for l := 0; l < loops; l++ {
		ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
			w.close()
			return nil, fmt.Errorf("bench: epoll: %w", err)
		}
		w.eps = append(w.eps, ep)
	}
	for i, c := range conns {
		sc, ok := c.nc.(syscall.Conn)
		if !ok {
			w.close()
			return nil, errors.New("bench: connection has no file descriptor")
		}
		raw, err := sc.SyscallConn()
		if err != nil {
			w.close()
			return nil, err
		}
		_ = raw.Control(func(fd uintptr) { w.fds[i] = int(fd) })
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(i)}
		if err := unix.EpollCtl(w.eps[i%loops], unix.EPOLL_CTL_ADD, w.fds[i], &ev); err != nil {
			w.close()
			return nil, fmt.Errorf("bench: epoll_ctl: %w", err)
		}
	}
	return w, nil
}

func (w *eventWaiters) close() {
	for _, ep := range w.eps {
		_ = unix.Close(ep)
	}
	w.eps = nil
}

// wait reads until every connection has had a NodeDataChanged event for
// path, or until base+limit. It returns, per connection, the time of the
// event after base (0 when none came) and the number of unexpected frames,
// broken frames and lost connections. A connection that closes or sends a
// frame that cannot be parsed is dropped from its loop for good. No other
// goroutine may read the connections meanwhile.
func (w *eventWaiters) wait(path string, base time.Time, limit time.Duration) ([]int64, int64) {
	times := make([]int64, len(w.conns))
	bad := make([]int64, len(w.eps)) // bad[l] is written by loop l only
	var wg sync.WaitGroup
	for l, ep := range w.eps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			remaining := 0
			for i := l; i < len(w.conns); i += len(w.eps) {
				remaining++
			}
			events := make([]unix.EpollEvent, 512)
			for remaining > 0 && time.Since(base) < limit {
				n, err := unix.EpollWait(ep, events, 20)
				if err != nil && !errors.Is(err, unix.EINTR) {
					bad[l]++
					return
				}
				now := int64(time.Since(base))
				for _, ev := range events[:max(n, 0)] {
					i := int(ev.Fd)
					c := w.conns[i]
					// drop counts connection i as failed and stops
					// watching it: it will not come back this run.
					drop := func() {
						_ = unix.EpollCtl(ep, unix.EPOLL_CTL_DEL, w.fds[i], nil)
						bad[l]++
						if times[i] == 0 {
							remaining--
						}
					}
					k, err := unix.Read(w.fds[i], c.room())
					if errors.Is(err, unix.EAGAIN) {
						continue
					}
					if err != nil || k == 0 {
						drop() // closed
						continue
					}
					c.w += k
					for {
						p, err := c.next()
						if err != nil {
							// A frame length out of bounds: the stream
							// cannot be followed any further.
							drop()
							break
						}
						if p == nil {
							break
						}
						if xid, _, ok := replyHeader(p); !ok || xid != jute.XidNotification {
							bad[l]++
							continue
						}
						var e jute.WatcherEvent
						d := jute.NewDecoder(p[jute.ReplyHeaderSize:])
						e.Decode(d)
						if d.Err() != nil || e.Type != jute.EventNodeDataChanged || e.Path != path || times[i] != 0 {
							bad[l]++
							continue
						}
						times[i] = now
						remaining--
					}
				}
			}
		}()
	}
	wg.Wait()
	var total int64
	for _, b := range bad {
		total += b
	}
	return times, total
}
