package authserver

import (
	"net/http"
	"strconv"
	"sync/atomic"

	"github.com/wharf-registry/wharf/internal/loginguard"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are one server's Prometheus collectors, in a registry of its own
// so several servers (tests) never collide in the global one.
type metrics struct {
	registry      *prometheus.Registry
	issued        *prometheus.CounterVec // by grant: basic, anonymous, password, refresh_token
	issuedBy      lazyChildren[prometheus.Counter]
	reused        prometheus.Counter
	denials       prometheus.Counter
	authFailures  prometheus.Counter
	throttled     prometheus.Counter
	requests      *prometheus.HistogramVec // by status code
	requestsBy    lazyChildren[prometheus.Observer]
	reloads       *prometheus.CounterVec // by result: success, failure
	refreshIssued prometheus.Counter
}

// newMetrics returns the collectors, those of password checks read from
// slots.
func newMetrics(slots *loginguard.Slots) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		issued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wharf_auth_tokens_issued_total",
			Help: "Access tokens handed out, by how the client authenticated.",
		}, []string{"grant"}),
		reused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wharf_auth_tokens_reused_total",
			Help: "Access tokens handed out again instead of signing a new one.",
		}),
		denials: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wharf_auth_denials_total",
			Help: "Scopes asked for but not fully granted.",
		}),
		authFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wharf_auth_authentication_failures_total",
			Help: "Requests refused for wrong, unknown or missing credentials or a bad refresh token.",
		}),
		throttled: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wharf_auth_throttled_total",
			Help: "Login attempts refused with 429 after too many failures.",
		}),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "wharf_auth_request_duration_seconds",
			Help:    "Token request latency, by HTTP status.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"code"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wharf_auth_config_reloads_total",
			Help: "Configuration reloads, by result.",
		}, []string{"result"}),
		refreshIssued: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wharf_auth_refresh_tokens_issued_total",
			Help: "Refresh tokens handed out.",
		}),
	}
	m.issuedBy = newLazyChildren[prometheus.Counter](len(grantTypes))
	m.requestsBy = newLazyChildren[prometheus.Observer](600) // by status code
	checks := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "wharf_auth_password_checks_total",
		Help: "bcrypt password checks run; concurrent logins with the same credentials share one.",
	}, func() float64 { return float64(slots.Checks()) })
	queued := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "wharf_auth_password_checks_queued",
		Help: "Password checks waiting for one of the NumCPU bcrypt slots.",
	}, func() float64 { return float64(slots.Waiting()) })
	m.registry.MustRegister(m.issued, m.reused, m.denials, m.authFailures, m.throttled,
		m.requests, m.reloads, m.refreshIssued, checks, queued,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// lazyChildren keeps the children of a metric vector for label values
// requests use again and again, by an index the caller derives from the
// value: WithLabelValues hashes its value and looks it up under a lock,
// every request. A child is made on first use, as WithLabelValues makes
// it, not up front: then it would show on /metrics, at zero, before any
// request had that outcome.
type lazyChildren[T any] struct {
	by []atomic.Pointer[T]
}

func newLazyChildren[T any](n int) lazyChildren[T] {
	return lazyChildren[T]{by: make([]atomic.Pointer[T], n)}
}

// get returns child i, made by make (WithLabelValues of its value) the
// first time; an i out of range is made every time.
func (c *lazyChildren[T]) get(i int, make func() T) T {
	if i < 0 || i >= len(c.by) {
		return make()
	}
	if p := c.by[i].Load(); p != nil {
		return *p
	}
	child := make() // the vector's own child: racing makers get the same one
	c.by[i].Store(&child)
	return child
}

// grantTypes are the grants issued tokens are counted by.
var grantTypes = [...]string{"basic", "anonymous", "password", "refresh_token"}

// issuedFor is the issued counter of grant.
func (m *metrics) issuedFor(grant string) prometheus.Counter {
	i := 0
	for i < len(grantTypes) && grantTypes[i] != grant {
		i++
	}
	return m.issuedBy.get(i, func() prometheus.Counter { return m.issued.WithLabelValues(grant) })
}

// requestsFor is the latency histogram of status code.
func (m *metrics) requestsFor(code int) prometheus.Observer {
	return m.requestsBy.get(code, func() prometheus.Observer { return m.requests.WithLabelValues(strconv.Itoa(code)) })
}
