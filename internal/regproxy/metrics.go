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
	var all []prometheus.Collector
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "registry", Subsystem: "proxy", Name: name, Help: help,
		}, append([]string{"upstream"}, labels...))
		all = append(all, c)
		return c
	}
	m := &metrics{
		hits:        counter("hits_total", "Manifests and blobs served from the cache, by upstream and kind.", "kind"),
		misses:      counter("misses_total", "Manifests and blobs not in the cache (or a tag moved upstream), by upstream and kind.", "kind"),
		bytes:       counter("upstream_bytes_total", "Bytes of manifests and blobs received from the upstream."),
		errors:      counter("upstream_errors_total", "Upstream requests that failed, by upstream and the status the client got (401, 404, 429, 503).", "code"),
		stale:       counter("stale_total", "Cached tags served past their TTL because the upstream could not confirm them."),
		storeErrors: counter("store_errors_total", "Blobs streamed to a client whose stored copy could not be committed (not cached)."),
	}
	if reg != nil {
		reg.MustRegister(all...)
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
