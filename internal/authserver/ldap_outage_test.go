//go:build systools

package authserver

import (
	"fmt"
	"net"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wharf-registry/wharf/internal/testkit"
)

// stallProxy forwards TCP to a directory and can stop forwarding: while
// stalled, connections are accepted and bytes read but nothing is passed
// on, as a hung server or a black-holed network looks to a client. It also
// counts the connections open to the directory at once.
type stallProxy struct {
	ln       net.Listener
	upstream string
	gate     sync.RWMutex // held for writing while stalled
	open     atomic.Int32
	peak     atomic.Int32
}

func startStallProxy(t *testing.T, upstream string) *stallProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &stallProxy{ln: ln, upstream: upstream}
	t.Cleanup(func() { ln.Close() })
	go p.serve()
	return p
}

func (p *stallProxy) addr() string { return p.ln.Addr().String() }
func (p *stallProxy) stall()       { p.gate.Lock() }
func (p *stallProxy) resume()      { p.gate.Unlock() }

func (p *stallProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.forward(c)
	}
}

func (p *stallProxy) forward(c net.Conn) {
	defer c.Close()
	up, err := net.Dial("tcp", p.upstream)
	if err != nil {
		return
	}
	defer up.Close()
	n := p.open.Add(1)
	defer p.open.Add(-1)
	for {
		peak := p.peak.Load()
		if n <= peak || p.peak.CompareAndSwap(peak, n) {
			break
		}
	}
	done := make(chan struct{}, 2)
	go func() { p.copy(up, c); done <- struct{}{} }()
	go func() { p.copy(c, up); done <- struct{}{} }()
	<-done
}

// copy passes bytes on, waiting at the gate before each write.
func (p *stallProxy) copy(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.gate.RLock()
			_, werr := dst.Write(buf[:n])
			p.gate.RUnlock()
			if werr != nil {
				return
			}
		}
		if err != nil { // EOF or a closed connection: the other side ends too
			return
		}
	}
}

// A directory that stops answering fails logins with 503 within the
// timeout (1 s here), names itself in the log, and is used again once it
// answers.
func TestLDAPSlowIsA503WithinTheTimeout(t *testing.T) {
	d := testkit.StartSlapd(t, directoryLDIF)
	p := startStallProxy(t, d.Addr())
	f, logs := ldapFixture(t, d, p.addr(), "none")
	runLogins(t, f, []loginCase{{"before", "bob", "bobpw", "repository:team/ops/x:pull", 200, "pull"}})

	p.stall()
	runLogins(t, f, []loginCase{
		{"stalled on a pooled connection", "alice", "alicepw", "repository:dev/app:pull", 503, ""},
		{"stalled on a new connection", "carol", "carolpw", "repository:carol/x:pull", 503, ""},
	})
	p.resume()
	runLogins(t, f, []loginCase{{"after", "alice", "alicepw", "repository:dev/app:pull", 200, "pull"}})
	want := fmt.Sprintf("ldap_auth ldap://%s: no answer within 1s", p.addr())
	if !strings.Contains(logs.String(), want) {
		t.Errorf("log lacks %q:\n%s", want, logs)
	}
}

// Stopping the directory mid-test: cached logins keep working, others get
// 503 (never 401: the password may be right), and all recover when the
// directory is back.
func TestLDAPDownIs503AndRecovers(t *testing.T) {
	d := testkit.StartSlapd(t, directoryLDIF)
	f, logs := ldapFixture(t, d, d.Addr(), "none")
	runLogins(t, f, []loginCase{{"alice before", "alice", "alicepw", "repository:dev/app:pull", 200, "pull"}})

	d.Stop()
	runLogins(t, f, []loginCase{
		{"a cached login keeps its labels", "alice", "alicepw", "repository:dev/app:pull,push", 200, "pull,push"},
		{"an uncached login is unavailable", "bob", "bobpw", "repository:team/ops/x:pull", 503, ""},
		{"a wrong password cannot be told either", "alice", "wrong", "repository:dev/app:pull", 503, ""},
		{"static users do not need the directory", "admin", "adminpassword", "repository:x:pull", 200, "pull"},
	})
	if want := "ldap_auth ldap://" + d.Addr(); !strings.Contains(logs.String(), want) {
		t.Errorf("log does not name the server (%s):\n%s", want, logs)
	}

	d.Start()
	runLogins(t, f, []loginCase{
		{"bob after recovery", "bob", "bobpw", "repository:team/ops/x:pull", 200, "pull"},
		{"wrong password after recovery", "alice", "wrong", "repository:dev/app:pull", 401, ""},
	})
}

// At most max_connections connections reach the directory, however many
// logins arrive at once; the others wait for one and succeed.
func TestLDAPConnectionsArePooledAndBounded(t *testing.T) {
	d := testkit.StartSlapd(t, directoryLDIF)
	p := startStallProxy(t, d.Addr())
	pw := testkit.WriteFile(t, t.TempDir(), "svc.pw", []byte("svcpassword\n"))
	cfg := strings.NewReplacer("ADDR", p.addr(), "TLS", "none", "CA", d.CAFile, "PWFILE", pw,
		"timeout: 1", "timeout: 30\n\tmax_connections: 2").Replace(ldapConfig)
	// Every attempt in flight holds a throttle token: allow this burst.
	f, _ := newLoggedFixture(t, cfg+"throttle: {max_failures: 100}\n")

	var wg sync.WaitGroup
	statuses := make(chan int, 24)
	for i := 0; i < 24; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			user := []string{"alice", "bob", "carol"}[i%3]
			resp := f.get(t, nil, user, user+"pw")
			statuses <- resp.StatusCode
		}()
	}
	wg.Wait()
	close(statuses)
	for s := range statuses {
		if s != 200 {
			t.Errorf("status %d", s)
		}
	}
	if peak := p.peak.Load(); peak < 1 || peak > 2 {
		t.Errorf("%d connections to the directory at once, want 1 or 2", peak)
	}
}

// An unknown user costs the directory exchange of a wrong password (bind,
// search, bind refused), so neither the answer nor its timing tells them
// apart. Read from slapd's own log of operations.
func TestLDAPUnknownUserCostsAWrongPasswordsExchange(t *testing.T) {
	d := testkit.StartSlapd(t, directoryLDIF)
	f, _ := ldapFixture(t, d, d.Addr(), "none")
	results := regexp.MustCompile(`RESULT tag=(\d+) err=(\d+)`)
	exchange := func(user, pw string) string {
		t.Helper()
		before := len(d.Output())
		if resp := f.get(t, nil, user, pw); resp.StatusCode != 401 {
			t.Fatalf("%s: status %d", user, resp.StatusCode)
		}
		// slapd logs through a pipe, from several threads: wait (a hang
		// guard, not a speed check) for the exchange's three results, and
		// compare them as a set.
		var seq []string
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			seq = seq[:0]
			for _, m := range results.FindAllStringSubmatch(d.Output()[before:], -1) {
				seq = append(seq, m[1]+":"+m[2])
			}
			if len(seq) >= 3 {
				break
			}
		}
		sort.Strings(seq)
		return strings.Join(seq, " ")
	}
	wrong := exchange("alice", "wrong")
	unknown := exchange("mallory", "wrong")
	const want = "101:0 97:0 97:49" // search ok, bind ok, bind invalidCredentials
	if wrong != want || unknown != want {
		t.Errorf("wrong password: %q; unknown user: %q; want both %q", wrong, unknown, want)
	}
}
