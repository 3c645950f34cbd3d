package reactor

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// errLinger is what OnClose reports for a closing connection whose client
// did not take its output within Config.Linger.
var errLinger = errors.New("reactor: output not taken within the linger time")

// acceptPause is how long accepting stops when the process runs out of file
// descriptors or memory, so that the loop does not spin on a listener that
// stays readable.
const acceptPause = 100 * time.Millisecond

// Loop is one event loop: an epoll instance and the goroutine that waits on
// it. Every field without a lock or an atomic belongs to that goroutine.
type Loop struct {
	srv    *Server
	index  int
	epfd   int
	evfd   int     // eventfd that wakes the loop for queued tasks
	conns  []*Conn // by file descriptor
	buf    []byte  // read buffer, shared by the loop's connections
	events []unix.EpollEvent

	mu      sync.Mutex // guards tasks, halting and stopped, and writes to evfd
	tasks   []func()
	spare   []func()
	halting bool // Stop was called: exit after the tasks queued so far
	stopped bool // the loop has exited: Execute refuses
	woken   atomic.Bool

	// ready are connections whose kept input waits for OnRead (ResumeRead).
	ready, readySpare []*Conn
	// finishing are connections to close once the current callback returns.
	finishing []*Conn
	// lingering are closing connections still writing, oldest (and so
	// soonest to expire) first.
	lingering []*Conn
	// acceptAt is when the first loop accepts again after a pause.
	acceptAt time.Time
	// halted is set once the loop has closed its connections: a connection
	// handed to it afterwards is closed at once.
	halted bool

	buffered atomic.Int64 // output bytes queued on this loop's connections
	done     chan struct{}
}

func newLoop(s *Server, index int) (*Loop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("reactor: epoll_create1: %w", err)
	}
	evfd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		_ = unix.Close(epfd)
		return nil, fmt.Errorf("reactor: eventfd: %w", err)
	}
	l := &Loop{srv: s, index: index, epfd: epfd, evfd: evfd,
		buf: make([]byte, s.cfg.ReadSize), events: make([]unix.EpollEvent, 256), done: make(chan struct{})}
	if err := l.watch(evfd, unix.EPOLLIN); err != nil {
		l.release()
		return nil, err
	}
	return l, nil
}

// Index is the loop's position in Server.Loops.
func (l *Loop) Index() int { return l.index }

// Execute queues fn to run on the loop's goroutine; it fails with
// ErrStopped once the loop has exited. Functions run in the order they were
// queued. It is safe from any goroutine, and from the loop's own.
func (l *Loop) Execute(fn func()) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return ErrStopped
	}
	l.tasks = append(l.tasks, fn)
	l.wakeLocked()
	return nil
}

// wakeLocked makes the loop's next epoll_wait return, once per batch of
// tasks. l.mu is held, so the eventfd cannot be closed meanwhile.
func (l *Loop) wakeLocked() {
	if l.woken.CompareAndSwap(false, true) {
		var one [8]byte
		binary.NativeEndian.PutUint64(one[:], 1)
		_, _ = unix.Write(l.evfd, one[:])
	}
}

// stop asks the loop to exit; Server.Stop waits for done.
func (l *Loop) stop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.srv.started.Load() {
		if !l.stopped {
			l.stopped = true
			l.release()
			close(l.done)
		}
		return
	}
	l.halting = true
	l.wakeLocked()
}

// watch adds fd to the loop's epoll set.
func (l *Loop) watch(fd int, events uint32) error {
	ev := unix.EpollEvent{Events: events, Fd: int32(fd)}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return fmt.Errorf("reactor: epoll_ctl add %d: %w", fd, err)
	}
	return nil
}

// release closes the loop's own descriptors (and the listener, on the
// first loop).
func (l *Loop) release() {
	if l.index == 0 && l.srv.lfd >= 0 {
		_ = unix.Close(l.srv.lfd)
		l.srv.lfd = -1
	}
	_ = unix.Close(l.evfd)
	_ = unix.Close(l.epfd)
}

// run is the loop's goroutine.
func (l *Loop) run() {
	busy := false
	for {
		// After a round with events, poll once without blocking and, if
		// nothing came, yield before blocking, as gnet's poller does.
		// Blocking at once after every round made a lone client's round
		// trip about a third slower here (conns=1 depth=1: 12-17k against
		// 19-26k getData/s).
		timeout := l.timeout()
		if busy {
			timeout = 0
		}
		n, err := unix.EpollWait(l.epfd, l.events, timeout)
		if err != nil && !errors.Is(err, unix.EINTR) {
			// Only a bug (a bad epoll descriptor) gets here.
			panic(fmt.Sprintf("BUG: reactor: epoll_wait: %v", err))
		}
		if n <= 0 && busy && len(l.ready) == 0 {
			busy = false
			runtime.Gosched()
			continue
		}
		busy = n > 0
		tasks := false
		for i := 0; i < n; i++ {
			ev := l.events[i]
			switch fd := int(ev.Fd); {
			case fd == l.evfd:
				tasks = true
			case l.index == 0 && fd == l.srv.lfd:
				l.accept()
			default:
				if fd < len(l.conns) && l.conns[fd] != nil {
					l.serve(l.conns[fd], ev.Events)
				}
			}
			l.settle()
		}
		if tasks && l.runTasks() {
			l.shutdown()
			return
		}
		l.deliverReady()
		l.expire(time.Now())
	}
}

// timeout is how long epoll_wait may block: not at all while kept input
// waits, until the next deadline otherwise.
func (l *Loop) timeout() int {
	if len(l.ready) > 0 {
		return 0
	}
	var next time.Time
	if len(l.lingering) > 0 {
		next = l.lingering[0].deadline
	}
	if !l.acceptAt.IsZero() && (next.IsZero() || l.acceptAt.Before(next)) {
		next = l.acceptAt
	}
	if next.IsZero() {
		return -1
	}
	ms := time.Until(next).Milliseconds() + 1
	return int(max(ms, 0))
}

// runTasks runs the queued tasks and reports whether the loop must exit.
func (l *Loop) runTasks() bool {
	var drain [8]byte
	_, _ = unix.Read(l.evfd, drain[:])
	// Reset the flag before taking the tasks: a task queued after the take
	// then writes the eventfd again.
	l.woken.Store(false)
	l.mu.Lock()
	tasks, halting := l.tasks, l.halting
	l.tasks, l.spare = l.spare[:0], nil
	l.mu.Unlock()
	for i, fn := range tasks {
		fn()
		l.settle()
		tasks[i] = nil
	}
	l.spare = tasks[:0]
	return halting
}

// shutdown closes every connection and the loop's descriptors, runs the
// tasks queued meanwhile and marks the loop stopped.
func (l *Loop) shutdown() {
	l.halted = true
	for _, c := range l.conns {
		if c != nil && !c.closed {
			c.doomed, c.err = true, ErrStopped
			l.close(c)
		}
	}
	l.mu.Lock()
	l.stopped = true
	tasks := l.tasks
	l.tasks = nil
	l.release()
	l.mu.Unlock()
	for _, fn := range tasks {
		fn()
	}
	l.settle()
	close(l.done)
}

// accept takes the pending connections and hands them to the loops in
// turn. It runs on the first loop only.
func (l *Loop) accept() {
	s := l.srv
	for range 256 {
		fd, sa, err := unix.Accept4(s.lfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		switch {
		case err == nil:
		case errors.Is(err, unix.EAGAIN):
			return
		case errors.Is(err, unix.EINTR), errors.Is(err, unix.ECONNABORTED):
			continue
		default:
			// Out of descriptors or memory: the listener stays readable, so
			// stop watching it for a moment instead of spinning.
			s.cfg.Logger.Warn("reactor: accept failed; pausing accepts", "err", err, "pause", acceptPause)
			l.acceptAt = time.Now().Add(acceptPause)
			_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_MOD, s.lfd, &unix.EpollEvent{Fd: int32(s.lfd)})
			return
		}
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
		target := s.loops[s.next]
		s.next = (s.next + 1) % len(s.loops)
		remote := tcpAddr(sa)
		if target == l {
			l.open(fd, remote, nil, nil)
		} else if target.Execute(func() { target.open(fd, remote, nil, nil) }) != nil {
			_ = unix.Close(fd)
		}
	}
}

// open sets up an accepted or adopted connection on this loop.
func (l *Loop) open(fd int, remote *net.TCPAddr, peer any, codec Codec) {
	if l.halted {
		_ = unix.Close(fd)
		return
	}
	if err := l.watch(fd, unix.EPOLLIN); err != nil {
		l.srv.cfg.Logger.Warn("reactor: cannot watch a new connection", "err", err)
		_ = unix.Close(fd)
		return
	}
	c := &Conn{loop: l, fd: fd, remote: remote, peer: peer, codec: codec, interest: unix.EPOLLIN}
	if fd >= len(l.conns) {
		l.conns = append(l.conns, make([]*Conn, fd+1-len(l.conns))...)
	}
	l.conns[fd] = c
	if !l.srv.handler.OnOpen(c) {
		l.conns[fd] = nil
		c.closed = true
		_ = unix.Close(fd)
		return
	}
	if codec != nil {
		// The codec may hold input already: what came with the end of a
		// TLS handshake.
		l.decode(c, nil)
	}
}

// serve handles the events epoll reported for c.
func (l *Loop) serve(c *Conn, events uint32) {
	if events&unix.EPOLLOUT != 0 && len(c.out) > 0 && !c.doomed {
		l.writeOut(c)
	}
	if events&(unix.EPOLLIN|unix.EPOLLHUP|unix.EPOLLERR) != 0 && c.wantsInput() {
		l.read(c)
	}
	if events&(unix.EPOLLHUP|unix.EPOLLERR) != 0 && !c.doomed {
		// Shut both ways, or reset: nothing more can be written.
		l.doom(c, socketError(c.fd))
	}
}

// read reads once from c and offers the input to the handler.
func (l *Loop) read(c *Conn) {
	n, err := readFD(c.fd, l.buf)
	switch {
	case errors.Is(err, unix.EAGAIN):
		return
	case err != nil:
		l.doom(c, err)
		return
	case n == 0:
		c.eof = true
		c.sync()
		l.srv.handler.OnReadEOF(c)
		return
	}
	if c.codec != nil {
		l.decode(c, l.buf[:n])
		return
	}
	l.deliver(c, l.buf[:n])
}

// deliver offers data read from c, after what c kept from before.
func (l *Loop) deliver(c *Conn, data []byte) {
	if len(c.in) > 0 {
		c.in = append(c.in, data...)
		data = c.in
	}
	l.offer(c, data)
}

// decode passes raw, read from c, through its codec and offers the
// plaintext; the codec's end of stream is end of input.
func (l *Loop) decode(c *Conn, raw []byte) {
	plain, reply, eof, err := c.codec.Decode(raw)
	c.writeRaw(reply)
	if err != nil {
		l.doom(c, err)
		return
	}
	if len(plain) > 0 {
		l.deliver(c, plain)
	}
	if eof && !c.eof && !c.doomed && !c.closed {
		c.eof = true
		c.sync()
		l.srv.handler.OnReadEOF(c)
	}
}

// offer hands data, which is c.in or the read buffer, to the handler and
// keeps in c.in what it did not consume.
func (l *Loop) offer(c *Conn, data []byte) {
	k := l.srv.handler.OnRead(c, data)
	if k < 0 || k > len(data) {
		panic(fmt.Sprintf("BUG: reactor: OnRead consumed %d of %d bytes", k, len(data)))
	}
	rest := data[k:]
	switch {
	case len(rest) == 0:
		if cap(c.in) > len(l.buf) {
			c.in = nil
		} else {
			c.in = c.in[:0]
		}
	case len(c.in) > 0 && &data[0] == &c.in[0]:
		c.in = c.in[:copy(c.in, rest)]
	default:
		c.in = append(c.in[:0], rest...)
	}
}

// writeOut writes c's queued output as far as the socket takes it.
func (l *Loop) writeOut(c *Conn) {
	n, err := writeFD(c.fd, c.out)
	if err != nil {
		if !errors.Is(err, unix.EAGAIN) {
			l.doom(c, err)
		}
		return
	}
	c.out = c.out[n:]
	l.buffered.Add(-int64(n))
	if len(c.out) > 0 {
		return
	}
	c.out = nil
	c.sync()
	if c.closing {
		l.doom(c, nil)
		return
	}
	l.srv.handler.OnDrained(c)
}

// deliverReady offers kept input to the connections that resumed reading.
func (l *Loop) deliverReady() {
	ready := l.ready
	l.ready, l.readySpare = l.readySpare[:0], nil
	for i, c := range ready {
		ready[i] = nil
		c.queued = false
		if c.wantsInput() && len(c.in) > 0 {
			l.offer(c, c.in)
		}
		l.settle()
	}
	l.readySpare = ready[:0]
}

// expire aborts the closing connections whose linger time is over, and
// resumes accepting after a pause.
func (l *Loop) expire(now time.Time) {
	for len(l.lingering) > 0 {
		c := l.lingering[0]
		if !c.closed && now.Before(c.deadline) {
			break
		}
		l.lingering[0] = nil
		l.lingering = l.lingering[1:]
		if !c.closed && !c.doomed {
			l.doom(c, errLinger)
		}
	}
	if len(l.lingering) == 0 {
		l.lingering = nil
	}
	if !l.acceptAt.IsZero() && !now.Before(l.acceptAt) {
		l.acceptAt = time.Time{}
		_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_MOD, l.srv.lfd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(l.srv.lfd)})
	}
	l.settle()
}

// doom marks c to be closed, with err for OnClose, once the current
// callback returns; it writes and reads nothing more meanwhile.
func (l *Loop) doom(c *Conn, err error) {
	if c.doomed || c.closed {
		return
	}
	c.doomed, c.err = true, err
	l.finishing = append(l.finishing, c)
}

// settle closes the connections doomed by the last callback. OnClose may
// doom more; they are closed too.
func (l *Loop) settle() {
	for len(l.finishing) > 0 {
		c := l.finishing[len(l.finishing)-1]
		l.finishing[len(l.finishing)-1] = nil
		l.finishing = l.finishing[:len(l.finishing)-1]
		l.close(c)
	}
}

// close closes c's socket, drops what it had queued and tells the handler.
func (l *Loop) close(c *Conn) {
	if c.closed {
		return
	}
	c.closed = true
	if c.handoff != nil {
		// Another descriptor may share the socket later: take it out of
		// epoll explicitly before giving it away.
		_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, c.fd, nil)
		c.handoff(os.NewFile(uintptr(c.fd), "handed-off connection"))
	} else {
		// Closing the only descriptor of the socket also takes it out of
		// epoll.
		_ = unix.Close(c.fd)
	}
	l.conns[c.fd] = nil
	l.buffered.Add(-int64(len(c.out)))
	c.out, c.in = nil, nil
	l.srv.handler.OnClose(c, c.err)
}

// socketError returns the pending error of a socket, or ECONNRESET when it
// reports none.
func socketError(fd int) error {
	if n, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR); err == nil && n != 0 {
		return unix.Errno(n)
	}
	return unix.ECONNRESET
}

func readFD(fd int, b []byte) (int, error) {
	for {
		n, err := unix.Read(fd, b)
		if !errors.Is(err, unix.EINTR) {
			return n, err
		}
	}
}

func writeFD(fd int, b []byte) (int, error) {
	for {
		n, err := unix.Write(fd, b)
		if !errors.Is(err, unix.EINTR) {
			return n, err
		}
	}
}
