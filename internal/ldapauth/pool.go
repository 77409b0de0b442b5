package ldapauth

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/wharf-registry/wharf/internal/authconfig"
	"github.com/wharf-registry/wharf/internal/authn"
)

// pool holds at most cfg.MaxConns connections to the directory, busy or
// idle. A login takes one, runs its exchange under one deadline on the
// socket (so a directory that stalls anywhere, even inside a StartTLS
// handshake, fails within the timeout) and gives it back; a connection
// that failed for any reason but a verdict about the user is closed.
type pool struct {
	cfg   *authconfig.LDAPConfig
	tls   *tls.Config
	slots chan struct{}

	mu     sync.Mutex
	idle   []*conn
	closed bool
}

// conn is a directory connection with its socket, whose deadline bounds
// each use.
type conn struct {
	*ldap.Conn
	raw net.Conn
}

func newPool(cfg *authconfig.LDAPConfig) *pool {
	return &pool{
		cfg: cfg,
		tls: &tls.Config{
			ServerName:         cfg.ServerName,
			RootCAs:            cfg.RootCAs,
			InsecureSkipVerify: cfg.InsecureTLSSkipVerify, // the operator's explicit choice
			MinVersion:         tls.VersionTLS12,
		},
		slots: make(chan struct{}, cfg.MaxConns),
	}
}

// errPoolClosed is returned once a reload replaced this backend.
var errPoolClosed = errors.New("connection pool closed")

// do runs f on a connection within the timeout. A stale pooled connection
// (the directory restarted since) is replaced once, transparently.
func (p *pool) do(ctx context.Context, f func(*conn) error) error {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.TimeoutValue)
	defer cancel()
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("all %d connections busy for %s: %w", p.cfg.MaxConns, p.cfg.TimeoutValue, ctx.Err())
	}
	defer func() { <-p.slots }()
	for attempt := 0; ; attempt++ {
		c, reused, err := p.get(ctx)
		if err != nil {
			return err
		}
		err = p.guarded(ctx, c, f)
		if err == nil || authn.Decided(err) {
			p.put(c)
			return err
		}
		c.Close()
		if !reused || attempt > 0 || ctx.Err() != nil || !ldap.IsErrorWithCode(err, ldap.ErrorNetwork) {
			return err
		}
	}
}

// guarded runs f with the socket's deadline at ctx's; a cancelled ctx
// (the client left) pulls the deadline in at once. A failure at or after
// the deadline is reported as the timeout, whichever layer noticed first.
func (p *pool) guarded(ctx context.Context, c *conn, f func(*conn) error) error {
	deadline, _ := ctx.Deadline()
	_ = c.raw.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = c.raw.SetDeadline(time.Unix(1, 0)) })
	err := f(c)
	stopped := stop()
	_ = c.raw.SetDeadline(time.Time{})
	if err == nil || authn.Decided(err) {
		return err // reached in time: a verdict stands
	}
	if !stopped || ctx.Err() != nil || !time.Now().Before(deadline) {
		if errors.Is(context.Cause(ctx), context.Canceled) {
			return context.Canceled
		}
		return fmt.Errorf("no answer within %s: %w", p.cfg.TimeoutValue, err)
	}
	return err
}

// get returns an idle connection, or dials a new one.
func (p *pool) get(ctx context.Context) (*conn, bool, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, false, errPoolClosed
	}
	for len(p.idle) > 0 {
		c := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		if !c.IsClosing() { // the server hung up meanwhile
			p.mu.Unlock()
			return c, true, nil
		}
		c.Close()
	}
	p.mu.Unlock()
	c, err := p.dial(ctx)
	return c, false, err
}

// put returns c to the idle list.
func (p *pool) put(c *conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || c.IsClosing() {
		c.Close()
		return
	}
	p.idle = append(p.idle, c)
}

// dial connects as `tls` says: "always" is LDAPS, "starttls" upgrades a
// plain connection before anything else is sent, "none" stays plain.
func (p *pool) dial(ctx context.Context) (*conn, error) {
	d := net.Dialer{}
	raw, err := d.DialContext(ctx, "tcp", p.cfg.Addr)
	if err != nil {
		return nil, ldap.NewError(ldap.ErrorNetwork, err)
	}
	deadline, _ := ctx.Deadline()
	_ = raw.SetDeadline(deadline)
	var netConn net.Conn = raw
	if p.cfg.TLS == "always" {
		tc := tls.Client(raw, p.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, ldap.NewError(ldap.ErrorNetwork, fmt.Errorf("TLS handshake: %w", err))
		}
		netConn = tc
	}
	lc := ldap.NewConn(netConn, p.cfg.TLS == "always")
	lc.Start()
	// A backstop only: the socket deadline (guarded) fires first.
	lc.SetTimeout(2 * p.cfg.TimeoutValue)
	c := &conn{Conn: lc, raw: raw}
	if p.cfg.TLS == "starttls" {
		if err := lc.StartTLS(p.tls); err != nil {
			c.Close()
			return nil, fmt.Errorf("StartTLS: %w", err)
		}
	}
	return c, nil
}

// close closes idle connections now and busy ones when they come back.
func (p *pool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for _, c := range p.idle {
		c.Close()
	}
	p.idle = nil
}

// Close closes the connection; errors do not matter to a discarded one.
func (c *conn) Close() { _ = c.Conn.Close() }
