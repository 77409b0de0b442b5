package scaleout

import (
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

// pullRounds is how many rounds BenchmarkThroughputOneRegistry's pulls
// take: one transfer of each puller per round. Odd, so that a median is
// one transfer's figure. One 128 MiB transfer lasts a tenth of a second on
// the machines measured, so three at once (the old mean) swung by ±20
// points with whatever else ran; this many cost a few seconds per server.
const pullRounds = 11

// pullBufSize is what every pull of the benchmark reads with, the limit's
// GetObject included, so that both sides of a ratio cost the client the
// same per byte. io.Discard's 8 KiB reads made the limit on versitygw a
// measure of the benchmark's own client: about 1 ms of CPU per MiB, one
// core's worth at 1 GB/s, against 0.35 ms with 1 MiB reads.
const pullBufSize = 1 << 20

// puller is one way of fetching the blob: the S3 server's own GetObject,
// a registry's blob GET. It returns the body, whose length the caller
// checks.
type puller struct {
	name string // the sub-benchmark's name
	open func() (io.ReadCloser, error)
}

// registryPuller GETs blob d of repo from the registry at base.
func registryPuller(name, base, repo string, d digest.Digest) puller {
	u := fmt.Sprintf("%s/v2/%s/blobs/%s", base, repo, d)
	return puller{name, func() (io.ReadCloser, error) {
		resp, err := httpClient.Get(u)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return nil, fmt.Errorf("GET %s: %s", u, resp.Status)
		}
		return resp.Body, nil
	}}
}

// discardWriter drops what it is given; unlike io.Discard it has no
// ReadFrom, so io.CopyBuffer reads with the buffer it is handed.
type discardWriter struct{}

func (discardWriter) Write(p []byte) (int, error) { return len(p), nil }

// transfer fetches one whole blob with p and returns how long it took.
func (p puller) transfer(b *testing.B, buf []byte) time.Duration {
	t := time.Now()
	rc, err := p.open()
	if err != nil {
		b.Fatalf("%s: %v", p.name, err)
	}
	// Hiding the body's own methods makes every puller read alike.
	n, err := io.CopyBuffer(discardWriter{}, struct{ io.Reader }{rc}, buf)
	rc.Close()
	if err != nil || n != throughputSize {
		b.Fatalf("%s: %d bytes of %d, %v", p.name, n, throughputSize, err)
	}
	return time.Since(t)
}

// benchPulls measures the pullers side by side: after one untimed
// transfer each, pullRounds rounds of one transfer each, in an order that
// rotates every round, so that what else the machine does falls on all of
// them alike. Each puller then becomes a sub-benchmark reporting its
// median transfer (ns/op and MB/s) and the rounds it took it from.
func benchPulls(b *testing.B, pullers []puller) {
	buf := make([]byte, pullBufSize)
	times := make([][]time.Duration, len(pullers))
	for _, p := range pullers {
		p.transfer(b, buf)
	}
	for r := range pullRounds {
		for i := range pullers {
			k := (i + r) % len(pullers)
			times[k] = append(times[k], pullers[k].transfer(b, buf))
		}
	}
	for k, p := range pullers {
		slices.Sort(times[k])
		median := times[k][len(times[k])/2]
		b.Run(p.name, func(b *testing.B) {
			b.ReportMetric(float64(median.Nanoseconds()), "ns/op")
			b.ReportMetric(float64(throughputSize)/1e6/median.Seconds(), "MB/s")
			b.ReportMetric(float64(pullRounds), "rounds")
		})
	}
}

// checkPulled GETs blob d from the registry at base once more and checks
// that what it serves is the blob.
func checkPulled(b *testing.B, base, repo string, d digest.Digest) {
	resp, err := httpClient.Get(fmt.Sprintf("%s/v2/%s/blobs/%s", base, repo, d))
	if err != nil {
		b.Fatal(err)
	}
	h := sha256.New()
	io.Copy(h, resp.Body)
	resp.Body.Close()
	if got := digest.NewDigestFromBytes(digest.SHA256, h.Sum(nil)); got != d {
		b.Fatalf("pulled %s from %s, pushed %s", got, base, d)
	}
}
