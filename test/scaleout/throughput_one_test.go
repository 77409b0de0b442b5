package scaleout

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/opencontainers/go-digest"

	"github.com/wharf-registry/wharf/internal/testkit"
)

// BenchmarkThroughputOneRegistry measures blob push and pull over HTTP
// through one `registry serve` process on each S3 server, beside the
// server's own single stream with the same blob size in the same run: one
// PutObject and one GetObject of the whole blob with the AWS SDK from the
// benchmark process (the registry's client). The push is one POST with
// ?digest=; the pull a GET streamed through the registry (redirect
// disabled), its bytes counted and, outside the timing, its digest checked
// once. The pulls run in alternating rounds beside the GetObject, all read
// alike (benchPulls); their figures are medians. Two more pushes are the ways real clients push: docker's and
// go-containerregistry's (an empty POST, one streamed PATCH of the whole
// blob with chunked transfer encoding, a PUT ?digest= without a body) and
// containerd's (an empty POST, then a PUT ?digest= with the whole blob).
// The stock registry:3, when installed, does the same on the same server
// (sub-benchmarks registry-3/...). Run it once, for BENCHMARKS.md (rows
// 12, targets of issue 12):
//
//	go test -run '^$' -bench OneRegistry -benchtime 1x ./test/scaleout/
func BenchmarkThroughputOneRegistry(b *testing.B) {
	for _, spec := range testkit.S3Kinds {
		b.Run(spec.Name, func(b *testing.B) {
			s := needS3(b, spec.Name)
			c := startCluster(b, s, clusterOptions{replicas: 1})
			base, repo := c.regs[0].URL(), "bench/one"
			raw := s.Client()
			ctx := context.Background()
			seed := uint64(1000)
			fresh := func() ([]byte, digest.Digest) {
				seed++
				content := randomBytes(seed, throughputSize)
				return content, digest.FromBytes(content)
			}
			sdkKey := c.root[1:] + "/bench-sdk"
			b.Run("sdk-put-object", func(b *testing.B) {
				b.SetBytes(throughputSize)
				for range b.N {
					b.StopTimer()
					content, _ := fresh()
					b.StartTimer()
					_, err := raw.PutObject(ctx, &s3sdk.PutObjectInput{Bucket: aws.String(s3Bucket), Key: &sdkKey,
						Body: bytes.NewReader(content), ContentLength: aws.Int64(throughputSize)})
					if err != nil {
						b.Fatal(err)
					}
				}
			})
			last := benchPushes(b, base, repo, true, fresh)
			// registry:3 on the same server, each push and the pull beside
			// ours (BENCHMARKS.md's S3 table); skipped when not installed.
			stock, stockErr := testkit.StockRegistryPath(testkit.StockRegistryV3)
			var stockBase string
			var stockLast digest.Digest
			if stockErr == nil {
				stockBase = startStockOnS3(b, s, stock)
				b.Run("registry-3", func(b *testing.B) { stockLast = benchPushes(b, stockBase, repo, false, fresh) })
			} else {
				b.Logf("registry:3 not measured: %v", stockErr)
			}
			// The pulls, side by side in alternating rounds: the server's
			// own GetObject of the whole blob, ours, registry:3's.
			pullers := []puller{{"sdk-get-object", func() (io.ReadCloser, error) {
				out, err := raw.GetObject(ctx, &s3sdk.GetObjectInput{Bucket: aws.String(s3Bucket), Key: &sdkKey})
				if err != nil {
					return nil, err
				}
				return out.Body, nil
			}}, registryPuller("pull", base, repo, last)}
			if stockErr == nil {
				pullers = append(pullers, registryPuller("registry-3/pull", stockBase, repo, stockLast))
			}
			benchPulls(b, pullers)
			checkPulled(b, base, repo, last)
			if stockErr == nil {
				checkPulled(b, stockBase, repo, stockLast)
			}
		})
	}
}

// benchPushes runs the pushes of a blob through the registry at base (one
// POST when monolithic, docker's way, containerd's way) and returns the
// digest pushed last. registry:2 and registry:3 take no body with the POST:
// they answer 202 and start an upload, as the distribution spec allows.
func benchPushes(b *testing.B, base, repo string, monolithic bool, fresh func() ([]byte, digest.Digest)) digest.Digest {
	if monolithic {
		benchPushMonolithic(b, base, repo, fresh)
	}
	benchPushDockerStyle(b, base, repo, fresh)
	return benchPushContainerdStyle(b, base, repo, fresh)
}

// startStockOnS3 starts the stock registry bin on s, under a root
// directory of its own, with the configuration ours gets (registry:2's
// keys), and returns its base URL.
func startStockOnS3(b *testing.B, s *s3Server, bin string) string {
	b.Helper()
	dir := b.TempDir()
	creds := fmt.Sprintf("    accesskey: %q\n    secretkey: %q\n", s3AccessKey, s3SecretKey)
	p := testkit.Start(b, testkit.Spec{
		Name: "registry " + testkit.StockRegistryV3.Version,
		Bin:  bin,
		Args: func(port int) []string {
			cfg := fmt.Sprintf(registryYAML, creds, s.Endpoint, s3Bucket, "/"+uniqueRoot(b), true, port, "")
			return []string{"serve", testkit.WriteFile(b, dir, "config.yml", []byte(cfg))}
		},
		Env: func(int) []string { return []string{"HOME=" + dir, "OTEL_TRACES_EXPORTER=none"} },
		// registry:3 has no /healthz: its 404 means it is up.
		AnyStatus: true,
	})
	return "http://" + p.Host()
}

// benchPushDockerStyle pushes as docker does: POST, the whole blob in one
// PATCH of unknown length (chunked transfer encoding, no Content-Range),
// then PUT ?digest= with no body.
func benchPushDockerStyle(b *testing.B, base, repo string, fresh func() ([]byte, digest.Digest)) {
	benchPush(b, "push-chunked-stream", fresh, func(b *testing.B, content []byte, d digest.Digest) {
		loc := resolve(b, base, startUpload(b, base, repo))
		// Hiding the bytes.Reader leaves the length unknown: chunked.
		resp, body := do(b, http.MethodPatch, loc, "", struct{ io.Reader }{bytes.NewReader(content)},
			http.Header{"Content-Type": {"application/octet-stream"}})
		if resp.StatusCode != http.StatusAccepted {
			b.Fatalf("PATCH: %s %s", resp.Status, body)
		}
		finishUpload(b, base, resp.Header.Get("Location"), d)
	})
}

// benchPushContainerdStyle pushes as containerd does: an empty POST, then
// the whole blob in the PUT ?digest= (with its Content-Length).
func benchPushContainerdStyle(b *testing.B, base, repo string, fresh func() ([]byte, digest.Digest)) digest.Digest {
	return benchPush(b, "push-post-put", fresh, func(b *testing.B, content []byte, d digest.Digest) {
		loc := resolve(b, base, startUpload(b, base, repo))
		resp, body := do(b, http.MethodPut, withDigest(loc, d), "", bytes.NewReader(content),
			http.Header{"Content-Type": {"application/octet-stream"}})
		if resp.StatusCode != http.StatusCreated {
			b.Fatalf("PUT: %s %s", resp.Status, body)
		}
	})
}
