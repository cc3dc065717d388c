package nccl

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

func testID() (UniqueID, error) {
	var id UniqueID
	for i := range id {
		id[i] = byte(i*7 + 3)
	}
	return id, nil
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skipf("no localhost TCP: %v", err)
	}
	return ln
}

// rendezvousAll runs world ranks (those in skip stay away) and returns
// their sessions and errors.
func rendezvousAll(t *testing.T, world int, timeout time.Duration, skip map[int]bool) ([]*Session, []error) {
	t.Helper()
	ln := listen(t)
	addr := ln.Addr().String()
	sess := make([]*Session, world)
	errs := make([]error, world)
	var wg sync.WaitGroup
	for r := 0; r < world; r++ {
		if skip[r] {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := RendezvousConfig{Addr: addr, Rank: r, World: world, Timeout: timeout, NewID: testID}
			if r == 0 {
				c.Listener = ln
			}
			sess[r], errs[r] = Rendezvous(context.Background(), c)
		}()
	}
	wg.Wait()
	return sess, errs
}

func TestRendezvousDeliversID(t *testing.T) {
	want, _ := testID()
	sess, errs := rendezvousAll(t, 4, 20*time.Second, nil)
	for r, err := range errs {
		if err != nil {
			t.Fatalf("rank %d: %v", r, err)
		}
		if sess[r].ID != want {
			t.Fatalf("rank %d got another id", r)
		}
	}
	// Normal end: every rank says DONE; nobody is reported lost.
	for r := 3; r >= 0; r-- {
		sess[r].Close(true)
	}
	for r, s := range sess {
		if err := s.Err(); err != nil {
			t.Fatalf("rank %d after a normal end: %v", r, err)
		}
	}
}

func TestRendezvousSingleRank(t *testing.T) {
	s, err := Rendezvous(context.Background(), RendezvousConfig{Addr: "unused:0", Rank: 0, World: 1, NewID: testID})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := testID()
	if s.ID != want {
		t.Fatal("wrong id")
	}
	s.Close(true)
}

func TestRendezvousMissingRank(t *testing.T) {
	// Rank 2 of 3 never connects: rank 0 names it, and rank 1 hears why.
	_, errs := rendezvousAll(t, 3, 500*time.Millisecond, map[int]bool{2: true})
	if errs[0] == nil || !strings.Contains(errs[0].Error(), "rank(s) 2 of 3 did not connect within") {
		t.Fatalf("rank 0: %v", errs[0])
	}
	if errs[1] == nil || !strings.Contains(errs[1].Error(), "refused by the coordinator") || !strings.Contains(errs[1].Error(), "rank(s) 2 of 3") {
		t.Fatalf("rank 1: %v", errs[1])
	}
}

func TestRendezvousNoCoordinator(t *testing.T) {
	ln := listen(t)
	addr := ln.Addr().String()
	ln.Close() // nobody listens there now
	_, err := Rendezvous(context.Background(), RendezvousConfig{Addr: addr, Rank: 1, World: 2, Timeout: 300 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "could not reach the coordinator (rank 0) at "+addr) {
		t.Fatalf("got %v", err)
	}
}

func TestRendezvousWrongWorld(t *testing.T) {
	ln := listen(t)
	addr := ln.Addr().String()
	var wg sync.WaitGroup
	var err0, err1 error
	wg.Add(2)
	go func() {
		defer wg.Done()
		_, err0 = Rendezvous(context.Background(), RendezvousConfig{Listener: ln, Addr: addr, Rank: 0, World: 2, Timeout: 10 * time.Second, NewID: testID})
	}()
	go func() {
		defer wg.Done()
		_, err1 = Rendezvous(context.Background(), RendezvousConfig{Addr: addr, Rank: 1, World: 3, Timeout: 10 * time.Second})
	}()
	wg.Wait()
	if err0 == nil || !strings.Contains(err0.Error(), "rank 1 says the job has 3 ranks, rank 0 says 2") {
		t.Fatalf("rank 0: %v", err0)
	}
	if err1 == nil || !strings.Contains(err1.Error(), "says the job has 3 ranks") {
		t.Fatalf("rank 1: %v", err1)
	}
}

func TestRendezvousStrangerIgnored(t *testing.T) {
	// A connection that is not a rank (a port scanner, say) is refused and
	// the rendezvous goes on.
	ln := listen(t)
	addr := ln.Addr().String()
	var wg sync.WaitGroup
	var s0, s1 *Session
	var err0, err1 error
	wg.Add(1)
	go func() {
		defer wg.Done()
		s0, err0 = Rendezvous(context.Background(), RendezvousConfig{Listener: ln, Addr: addr, Rank: 0, World: 2, Timeout: 20 * time.Second, NewID: testID})
	}()
	// One sends an HTTP request; one a long line with no end (rank 0 reads
	// at most 64 bytes of it).
	for _, msg := range []string{"GET / HTTP/1.0\n", strings.Repeat("x", 4096)} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte(msg))
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, 100)
		n, err := c.Read(buf)
		c.Close()
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("stranger sending %.20q: no answer within 10 s", msg)
		}
		// Rank 0 closes a connection whose bytes it did not all read, so
		// the long line's sender may see a reset instead of the ERR line.
		if !strings.HasPrefix(string(buf[:n]), "ERR ") && (len(msg) < 100 || err == nil) {
			t.Fatalf("stranger sending %.20q got %q (%v)", msg, buf[:n], err)
		}
	}
	s1, err1 = Rendezvous(context.Background(), RendezvousConfig{Addr: addr, Rank: 1, World: 2, Timeout: 20 * time.Second})
	wg.Wait()
	if err0 != nil || err1 != nil {
		t.Fatalf("rank 0: %v; rank 1: %v", err0, err1)
	}
	s0.Close(true)
	s1.Close(true)
}

func TestRendezvousLostRank(t *testing.T) {
	// Rank 2 stops without saying DONE: rank 0 notices and tells rank 1.
	sess, errs := rendezvousAll(t, 3, 20*time.Second, nil)
	for r, err := range errs {
		if err != nil {
			t.Fatalf("rank %d: %v", r, err)
		}
	}
	sess[2].Close(false)
	<-sess[0].Lost()
	<-sess[1].Lost()
	if err := sess[0].Err(); err == nil || err.Error() != "rank 2 stopped: its connection to the coordinator closed" {
		t.Fatalf("rank 0: %v", err)
	}
	if err := sess[1].Err(); err == nil || !strings.Contains(err.Error(), "rank 2 stopped") {
		t.Fatalf("rank 1: %v", err)
	}
}

func TestRendezvousLostCoordinator(t *testing.T) {
	sess, errs := rendezvousAll(t, 2, 20*time.Second, nil)
	if errs[0] != nil || errs[1] != nil {
		t.Fatal(errs)
	}
	sess[0].Close(false)
	<-sess[1].Lost()
	if err := sess[1].Err(); err == nil || !strings.Contains(err.Error(), "the coordinator (rank 0) stopped") {
		t.Fatalf("rank 1: %v", err)
	}
}

func TestRendezvousCancelled(t *testing.T) {
	ln := listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Rendezvous(ctx, RendezvousConfig{Listener: ln, Addr: ln.Addr().String(), Rank: 0, World: 2, Timeout: time.Minute, NewID: testID})
	if err == nil || !strings.Contains(err.Error(), "before the job was stopped") {
		t.Fatalf("got %v", err)
	}
}

func TestRendezvousBadRank(t *testing.T) {
	_, err := Rendezvous(context.Background(), RendezvousConfig{Addr: "x:1", Rank: 2, World: 2})
	if err == nil {
		t.Fatal("rank 2 of 2 accepted")
	}
	if errors.Is(err, ErrNoLibrary) {
		t.Fatal("wrong error")
	}
}

// FuzzParseHello feeds rank 0's parser of a connecting rank's first line:
// it never panics, and a line it accepts names a rank in 1..world−1.
func FuzzParseHello(f *testing.F) {
	f.Add("MAMBAKIT-RDV 1 1 2\n", 2)
	f.Add("MAMBAKIT-RDV 1 3 2\n", 2)
	f.Add("GET / HTTP/1.1\r\n", 4)
	f.Add("MAMBAKIT-RDV 1 -1 99999999999999999999\n", 8)
	f.Fuzz(func(t *testing.T, line string, world int) {
		rank, err := parseHello(line, world)
		if err == nil && (rank < 1 || rank >= world) {
			t.Fatalf("parseHello(%q, %d) accepted rank %d", line, world, rank)
		}
	})
}
