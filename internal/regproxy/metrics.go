package regproxy

import (
	"errors"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the cache's Prometheus metrics, labelled by upstream (its
// prefix, or its host for registry:2's single proxy): a bounded set, from
// the config. kind is manifest or blob.
type metrics struct {
	hits   *prometheus.CounterVec
	misses *prometheus.CounterVec
	bytes  *prometheus.CounterVec
	errors *prometheus.CounterVec
	stale  *prometheus.CounterVec
	// storeErrors counts blobs served to their first client but not
	// cached: writing, verifying or committing the stored copy failed.
	storeErrors *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	const ns, sub = "registry", "proxy"
	m := &metrics{
		hits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "hits_total",
			Help: "Manifests and blobs served from the cache, by upstream and kind.",
		}, []string{"upstream", "kind"}),
		misses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "misses_total",
			Help: "Manifests and blobs not in the cache (or a tag moved upstream), by upstream and kind.",
		}, []string{"upstream", "kind"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "upstream_bytes_total",
			Help: "Bytes of manifests and blobs received from the upstream.",
		}, []string{"upstream"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "upstream_errors_total",
			Help: "Upstream requests that failed, by upstream and the status the client got (401, 404, 429, 503).",
		}, []string{"upstream", "code"}),
		stale: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "stale_total",
			Help: "Cached tags served past their TTL because the upstream could not confirm them.",
		}, []string{"upstream"}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "store_errors_total",
			Help: "Blobs streamed to a client whose stored copy could not be committed (not cached).",
		}, []string{"upstream"}),
	}
	if reg != nil {
		reg.MustRegister(m.hits, m.misses, m.bytes, m.errors, m.stale, m.storeErrors)
	}
	return m
}

func (m *metrics) count(u *upstream, kind string, hit bool) {
	if hit {
		m.hits.WithLabelValues(u.label, kind).Inc()
	} else {
		m.misses.WithLabelValues(u.label, kind).Inc()
	}
}

func (m *metrics) upstreamError(u *upstream, err error) {
	code := "503"
	var e *Error
	if errors.As(err, &e) {
		code = strconv.Itoa(e.Status)
	}
	m.errors.WithLabelValues(u.label, code).Inc()
}
