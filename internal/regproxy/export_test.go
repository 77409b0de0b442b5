package regproxy

import (
	"net/http"
	"time"
)

// SetClock makes the cache and its upstream clients read now instead of
// time.Now: TTLs and token lifetimes are tested without waiting.
func (p *Proxy) SetClock(now func() time.Time) {
	p.now = now
	for _, u := range p.ups {
		u.now = now
	}
}

// SetResponseHeaderTimeout shortens how long upstreams may take to answer.
func (p *Proxy) SetResponseHeaderTimeout(d time.Duration) {
	for _, u := range p.ups {
		u.client.Transport.(*http.Transport).ResponseHeaderTimeout = d
	}
}

// SetBlobIdleTimeout shortens how long a blob body may stall.
func (p *Proxy) SetBlobIdleTimeout(d time.Duration) {
	for _, u := range p.ups {
		u.idle = d
	}
}
