package regserver

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/wharf-registry/wharf/pkg/storage"
)

// metrics are the server's Prometheus metrics, in a registry of its own so
// that several servers (tests) never collide. Labels hold route names, never
// repository names: those are unbounded and may be private.
type metrics struct {
	reg            *prometheus.Registry
	requests       *prometheus.CounterVec
	duration       *prometheus.HistogramVec
	bytesIn        *prometheus.CounterVec
	bytesOut       *prometheus.CounterVec
	uploadDuration prometheus.Histogram
	gcRuns         *prometheus.CounterVec
	gcBytesFreed   prometheus.Counter
	gcBlobs        prometheus.Counter
	gcManifests    prometheus.Counter
	uploadsPurged  prometheus.Counter
}

func newMetrics() *metrics {
	const ns = "registry"
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "http_requests_total",
			Help: "HTTP requests by route, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Name: "http_request_duration_seconds",
			Help:    "Time to answer HTTP requests, by route and method.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}, []string{"route", "method"}),
		bytesIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "http_request_bytes_total",
			Help: "Request body bytes read, by route.",
		}, []string{"route"}),
		bytesOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "http_response_bytes_total",
			Help: "Response body bytes written, by route.",
		}, []string{"route"}),
		uploadDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: ns, Name: "blob_upload_duration_seconds",
			Help:    "Time from starting a blob upload to committing it.",
			Buckets: prometheus.ExponentialBuckets(0.01, 4, 10),
		}),
		gcRuns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "gc_runs_total",
			Help: "Scheduled garbage collections, by result (ok, error, skipped: another collector held the lease).",
		}, []string{"result"}),
		gcBytesFreed: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Name: "gc_bytes_freed_total",
			Help: "Bytes of blobs removed by garbage collection.",
		}),
		gcBlobs: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Name: "gc_blobs_deleted_total",
			Help: "Blobs removed by garbage collection.",
		}),
		gcManifests: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Name: "gc_manifests_deleted_total",
			Help: "Untagged manifests removed by garbage collection.",
		}),
		uploadsPurged: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Name: "uploads_purged_total",
			Help: "Abandoned upload sessions removed.",
		}),
	}
	m.reg.MustRegister(m.requests, m.duration, m.bytesIn, m.bytesOut, m.uploadDuration,
		m.gcRuns, m.gcBytesFreed, m.gcBlobs, m.gcManifests, m.uploadsPurged,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// observeLogins adds the htpasswd mode's password check metrics.
func (m *metrics) observeLogins(checks func() (ran uint64, queued int)) {
	const ns = "registry"
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Namespace: ns, Name: "password_checks_total",
		Help: "bcrypt password checks run (htpasswd); concurrent logins with the same credentials share one.",
	}, func() float64 { n, _ := checks(); return float64(n) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: ns, Name: "password_checks_queued",
			Help: "Password checks waiting for one of the NumCPU bcrypt slots (htpasswd).",
		}, func() float64 { _, q := checks(); return float64(q) }))
}

func (m *metrics) observeRequest(route, method string, status int, elapsed time.Duration, in, out int64) {
	switch method { // clients choose the method: keep the label set bounded
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS":
	default:
		method = "other"
	}
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(route, method).Observe(elapsed.Seconds())
	m.bytesIn.WithLabelValues(route).Add(float64(in))
	m.bytesOut.WithLabelValues(route).Add(float64(out))
}

func (m *metrics) observeGC(res storage.GCResult, err error) {
	if err != nil {
		m.gcRuns.WithLabelValues("error").Inc()
	} else {
		m.gcRuns.WithLabelValues("ok").Inc()
	}
	m.gcBytesFreed.Add(float64(res.BytesFreed))
	m.gcBlobs.Add(float64(res.BlobsDeleted))
	m.gcManifests.Add(float64(res.ManifestsDeleted))
}
