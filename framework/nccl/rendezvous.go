package nccl

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The rendezvous: rank 0 listens on the coordinator address; every other
// rank connects (retrying until the deadline) and says who it is; once all
// have, rank 0 sends each the unique id. The connections then stay open as
// a liveness channel: a rank that ends normally says "DONE" first, so a
// connection that closes without it means the process stopped, and the
// job is stopped on every rank with that reason.
//
// Lines (each ends in '\n'):
//
//	rank → 0: "MAMBAKIT-RDV 1 <rank> <world>"
//	0 → rank: "OK" and the 128 id bytes, or "ERR <reason>"
//	either:   "DONE" (this side ends normally) or "ABORT <reason>" (0 → rank)

const rdvHello = "MAMBAKIT-RDV 1"

// RendezvousConfig describes one rank's side of the rendezvous.
type RendezvousConfig struct {
	Addr    string        // coordinator HOST:PORT; rank 0 listens there
	Rank    int           // this process's rank
	World   int           // number of ranks
	Timeout time.Duration // for all ranks to connect (default 2 minutes)
	// NewID makes the id on rank 0 (GetUniqueID; tests pass their own).
	NewID func() (UniqueID, error)
	// Listener, when set on rank 0, is used instead of listening on Addr.
	Listener net.Listener
}

// Session is a finished rendezvous: the id, and the liveness of the ranks.
type Session struct {
	ID   UniqueID
	Rank int

	mu     sync.Mutex
	conns  map[int]net.Conn // rank 0: every other rank's; others: {0: coordinator}
	done   map[int]bool     // peers that said DONE
	err    error            // first lost peer
	lost   chan struct{}    // closed when err is set
	closed bool
}

// Rendezvous runs this rank's side and returns the session, or an error
// that says which ranks did not connect, or why a rank was refused.
func Rendezvous(ctx context.Context, c RendezvousConfig) (*Session, error) {
	if c.World < 1 || c.Rank < 0 || c.Rank >= c.World {
		return nil, fmt.Errorf("rendezvous: rank %d of %d ranks: want 0 ≤ rank < world", c.Rank, c.World)
	}
	if c.Timeout <= 0 {
		c.Timeout = 2 * time.Minute
	}
	s := &Session{Rank: c.Rank, conns: map[int]net.Conn{}, done: map[int]bool{}, lost: make(chan struct{})}
	var err error
	if c.Rank == 0 {
		err = s.serve(ctx, c)
	} else {
		err = s.join(ctx, c)
	}
	if err != nil {
		s.closeAll()
		return nil, err
	}
	for r, conn := range s.conns {
		go s.watch(r, conn)
	}
	return s, nil
}

func (s *Session) serve(ctx context.Context, c RendezvousConfig) error {
	if c.NewID == nil {
		c.NewID = GetUniqueID
	}
	id, err := c.NewID()
	if err != nil {
		return err
	}
	s.ID = id
	if c.World == 1 {
		return nil
	}
	ln := c.Listener
	if ln == nil {
		if ln, err = net.Listen("tcp", c.Addr); err != nil {
			return fmt.Errorf("rendezvous: rank 0 cannot listen on %s: %w", c.Addr, err)
		}
	}
	defer ln.Close()
	deadline := time.Now().Add(c.Timeout)
	if tl, ok := ln.(*net.TCPListener); ok {
		tl.SetDeadline(deadline)
	}
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	type hello struct {
		rank int
		conn net.Conn
		err  error
	}
	hellos := make(chan hello)
	acceptEnded := make(chan struct{})
	quit := make(chan struct{})
	defer close(quit)
	go func() {
		defer close(acceptEnded)
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				conn.SetDeadline(deadline)
				rank, err := readHello(conn, c.World)
				select {
				case hellos <- hello{rank, conn, err}:
				case <-quit:
					conn.Close()
				}
			}()
		}
	}()
	var refused []string
	for len(s.conns) < c.World-1 {
		var h hello
		select {
		case h = <-hellos:
		case <-acceptEnded:
		}
		if h.conn == nil {
			break
		}
		if h.err == nil {
			if _, dup := s.conns[h.rank]; dup {
				h.err = fmt.Errorf("rank %d connected twice (two processes were given the same rank)", h.rank)
			}
		}
		if h.err != nil {
			h.conn.SetDeadline(time.Now().Add(5 * time.Second))
			fmt.Fprintf(h.conn, "ERR %s\n", oneLine(h.err.Error()))
			h.conn.Close()
			refused = append(refused, h.err.Error())
			if !errors.Is(h.err, errNotMambakit) {
				// A real rank with a wrong setting: the job cannot start.
				return fmt.Errorf("rendezvous on %s: %w", c.Addr, h.err)
			}
			continue
		}
		s.conns[h.rank] = h.conn
	}
	if len(s.conns) < c.World-1 {
		var missing []string
		for r := 1; r < c.World; r++ {
			if _, ok := s.conns[r]; !ok {
				missing = append(missing, strconv.Itoa(r))
			}
		}
		why := fmt.Sprintf("within %v", c.Timeout)
		if ctx.Err() != nil {
			why = "before the job was stopped"
		}
		msg := fmt.Sprintf("rendezvous on %s: rank(s) %s of %d did not connect %s", c.Addr, strings.Join(missing, ", "), c.World, why)
		if len(refused) > 0 {
			msg += " (refused: " + strings.Join(refused, "; ") + ")"
		}
		for _, conn := range s.conns {
			conn.SetDeadline(time.Now().Add(5 * time.Second))
			fmt.Fprintf(conn, "ERR %s\n", msg)
		}
		return errors.New(msg)
	}
	for _, conn := range s.conns {
		conn.SetDeadline(time.Time{})
		if _, err := conn.Write(append([]byte("OK\n"), id[:]...)); err != nil {
			return fmt.Errorf("rendezvous: send the id: %w", err)
		}
		setKeepAlive(conn)
	}
	return nil
}

var errNotMambakit = errors.New("not a mambakit rank")

// readHello reads a rank's first line: at most 64 bytes, so a stranger
// cannot make rank 0 buffer without end.
func readHello(conn net.Conn, world int) (int, error) {
	line, err := bufio.NewReaderSize(conn, 64).ReadSlice('\n')
	if err != nil {
		return 0, fmt.Errorf("%w: %v", errNotMambakit, err)
	}
	return parseHello(string(line), world)
}

// parseHello checks a hello line against the job's world size and returns
// the rank it names (1..world−1).
func parseHello(line string, world int) (int, error) {
	f := strings.Fields(line)
	if len(f) != 4 || f[0]+" "+f[1] != rdvHello {
		return 0, fmt.Errorf("%w: %q", errNotMambakit, strings.TrimSpace(line))
	}
	rank, err1 := strconv.Atoi(f[2])
	w, err2 := strconv.Atoi(f[3])
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("%w: %q", errNotMambakit, strings.TrimSpace(line))
	}
	if w != world {
		return 0, fmt.Errorf("rank %d says the job has %d ranks, rank 0 says %d", rank, w, world)
	}
	if rank < 1 || rank >= world {
		return 0, fmt.Errorf("rank %d is outside 1..%d", rank, world-1)
	}
	return rank, nil
}

func (s *Session) join(ctx context.Context, c RendezvousConfig) error {
	deadline := time.Now().Add(c.Timeout)
	var conn net.Conn
	var last error
	for conn == nil {
		if ctx.Err() != nil {
			return fmt.Errorf("rendezvous: rank %d: stopped while connecting to %s", c.Rank, c.Addr)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("rendezvous: rank %d could not reach the coordinator (rank 0) at %s within %v: %v", c.Rank, c.Addr, c.Timeout, last)
		}
		d := net.Dialer{Timeout: time.Until(deadline)}
		var err error
		if conn, err = d.DialContext(ctx, "tcp", c.Addr); err != nil {
			last = err
			conn = nil
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	s.conns[0] = conn
	// The coordinator answers when every rank is in, or at its own
	// deadline, which may be later than ours: wait longer for the answer.
	conn.SetDeadline(time.Now().Add(c.Timeout + 10*time.Second))
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if _, err := fmt.Fprintf(conn, "%s %d %d\n", rdvHello, c.Rank, c.World); err != nil {
		return fmt.Errorf("rendezvous: rank %d: %w", c.Rank, err)
	}
	var line []byte
	one := make([]byte, 1)
	for len(line) < 1024 {
		if _, err := io.ReadFull(conn, one); err != nil {
			return fmt.Errorf("rendezvous: rank %d: the coordinator at %s closed the connection before sending the id (%v)", c.Rank, c.Addr, err)
		}
		if one[0] == '\n' {
			break
		}
		line = append(line, one[0])
	}
	switch l := string(line); {
	case l == "OK":
	case strings.HasPrefix(l, "ERR "):
		return fmt.Errorf("rendezvous: rank %d refused by the coordinator: %s", c.Rank, l[4:])
	default:
		return fmt.Errorf("rendezvous: rank %d: unexpected reply %q from %s", c.Rank, l, c.Addr)
	}
	if _, err := io.ReadFull(conn, s.ID[:]); err != nil {
		return fmt.Errorf("rendezvous: rank %d: reading the id: %w", c.Rank, err)
	}
	conn.SetDeadline(time.Time{})
	setKeepAlive(conn)
	return nil
}

func setKeepAlive(conn net.Conn) {
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetKeepAliveConfig(net.KeepAliveConfig{Enable: true, Idle: 15 * time.Second, Interval: 5 * time.Second, Count: 3})
	}
}

// watch reads a peer's connection until it ends.
func (s *Session) watch(rank int, conn net.Conn) {
	r := bufio.NewReader(conn)
	for {
		line, err := r.ReadString('\n')
		line = strings.TrimSpace(line)
		switch {
		case line == "DONE":
			s.mu.Lock()
			s.done[rank] = true
			s.mu.Unlock()
			continue
		case strings.HasPrefix(line, "ABORT "):
			s.fail(errors.New(line[6:]))
			return
		}
		if err != nil {
			s.mu.Lock()
			ok, closed := s.done[rank], s.closed
			s.mu.Unlock()
			if !ok && !closed {
				if rank == 0 {
					s.fail(errors.New("the coordinator (rank 0) stopped: its connection closed"))
				} else {
					s.fail(fmt.Errorf("rank %d stopped: its connection to the coordinator closed", rank))
				}
			}
			return
		}
	}
}

// fail records the first lost peer; rank 0 passes the reason on to every
// other rank and closes their connections.
func (s *Session) fail(err error) {
	s.mu.Lock()
	if s.err != nil || s.closed {
		s.mu.Unlock()
		return
	}
	s.err = err
	close(s.lost)
	conns := s.peers()
	s.mu.Unlock()
	if s.Rank == 0 {
		for _, c := range conns {
			fmt.Fprintf(c, "ABORT %s\n", oneLine(err.Error()))
			c.Close()
		}
	}
}

func (s *Session) peers() []net.Conn {
	ranks := make([]int, 0, len(s.conns))
	for r := range s.conns {
		ranks = append(ranks, r)
	}
	sort.Ints(ranks)
	out := make([]net.Conn, len(ranks))
	for i, r := range ranks {
		out[i] = s.conns[r]
	}
	return out
}

// Err is nil while every peer is alive, then the first loss: which rank
// stopped. It is cheap enough to poll.
func (s *Session) Err() error {
	if s == nil {
		return nil
	}
	select {
	case <-s.lost:
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.err
	default:
		return nil
	}
}

// Lost is closed when a peer is lost.
func (s *Session) Lost() <-chan struct{} { return s.lost }

// Close ends the session. With ok, the peers are told this rank ended
// normally; without, they see it stop (and stop too).
func (s *Session) Close(ok bool) {
	if s == nil {
		return
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	conns := s.peers()
	s.mu.Unlock()
	for _, c := range conns {
		if ok {
			c.SetWriteDeadline(time.Now().Add(5 * time.Second))
			io.WriteString(c, "DONE\n")
		}
		c.Close()
	}
}

func (s *Session) closeAll() {
	for _, c := range s.conns {
		c.Close()
	}
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }
