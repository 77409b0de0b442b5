package scaleout

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// faultyS3 is a reverse proxy to an S3 server that answers 503 SlowDown to
// every third object GET (GetObject: links, manifests), as an overloaded
// S3 does now and then. Listings and every other request pass.
type faultyS3 struct {
	*httptest.Server
	gets, faults atomic.Int64
}

func newFaultyS3(t *testing.T, target string) *faultyS3 {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	f := &faultyS3{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The SDK marks each request with its operation (?x-id=GetObject).
		isObjectGet := r.Method == http.MethodGet && r.URL.Query().Get("x-id") == "GetObject"
		if isObjectGet && f.gets.Add(1)%3 == 0 {
			f.faults.Add(1)
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>`))
			return
		}
		rp.ServeHTTP(w, r) // the Host header stays the proxy's, which the client signed
	}))
	t.Cleanup(f.Close)
	return f
}

// bucketKeys lists every key under the cluster's root directory but the
// garbage collection lease, which a collection writes even when it fails.
func bucketKeys(t *testing.T, c *cluster) []string {
	t.Helper()
	var keys []string
	prefix := strings.TrimPrefix(c.root, "/") + "/"
	p := s3sdk.NewListObjectsV2Paginator(c.s3.Client(), &s3sdk.ListObjectsV2Input{Bucket: aws.String(s3Bucket), Prefix: &prefix})
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range out.Contents {
			if k := aws.ToString(o.Key); k != prefix+".gc-lease" {
				keys = append(keys, k)
			}
		}
	}
	slices.Sort(keys)
	return keys
}

// TestGarbageCollectionStopsOnS3Errors runs `registry garbage-collect`
// against S3 through a proxy that fails every third object GET. It must
// exit non-zero, say why, and leave every object in place; the same
// collection without the faults then removes the deleted image, so there
// was garbage to take.
func TestGarbageCollectionStopsOnS3Errors(t *testing.T) {
	everyS3(t, func(t *testing.T, s *s3Server) {
		c := startCluster(t, s, clusterOptions{replicas: 1})
		opts := ggcrOptions(t, authn.Anonymous)
		for _, tag := range []string{"kept", "doomed", "untagged"} {
			img, err := random.Image(64<<10, 2)
			if err != nil {
				t.Fatal(err)
			}
			if err := remote.Write(ref(t, c.regs[0].Host()+"/gc/app:"+tag), img, opts...); err != nil {
				t.Fatalf("push %s: %v", tag, err)
			}
			d, _ := img.Digest()
			switch tag {
			case "doomed":
				if resp, body := do(t, http.MethodDelete, c.regs[0].URL()+"/v2/gc/app/manifests/"+d.String(), "", nil, nil); resp.StatusCode != http.StatusAccepted {
					t.Fatalf("DELETE doomed: %s %s", resp.Status, body)
				}
			case "untagged":
				if resp, body := do(t, http.MethodDelete, c.regs[0].URL()+"/v2/gc/app/manifests/untagged", "", nil, nil); resp.StatusCode != http.StatusAccepted {
					t.Fatalf("DELETE the tag: %s %s", resp.Status, body)
				}
			}
		}
		before := bucketKeys(t, c)

		proxy := newFaultyS3(t, s.Endpoint)
		cfg, err := os.ReadFile(c.configs[0])
		if err != nil {
			t.Fatal(err)
		}
		faulty := filepath.Join(t.TempDir(), "gc.yml")
		if err := os.WriteFile(faulty, []byte(strings.Replace(string(cfg), c.endpoint, proxy.URL, 1)), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(registryBin, "garbage-collect", "--delete-untagged", "--grace-period=1ns", faulty)
		// One attempt per request: the SDK's retries would hide most
		// faults, and what matters is what the collector does with those
		// that get through (retries exhausted).
		cmd.Env = []string{"HOME=" + t.TempDir(), "AWS_MAX_ATTEMPTS=1"}
		out, err := cmd.CombinedOutput()
		t.Logf("garbage-collect through the faulty proxy: %d object GETs, %d answered 503; exit %v", proxy.gets.Load(), proxy.faults.Load(), err)
		if proxy.faults.Load() == 0 {
			t.Fatalf("the proxy injected no fault; output:\n%s", out)
		}
		if err == nil {
			t.Errorf("garbage-collect exited 0 despite S3 errors:\n%s", out)
		}
		if !strings.Contains(string(out), "garbage collection failed") || !strings.Contains(string(out), "SlowDown") {
			t.Errorf("the output does not say why it failed:\n%s", out)
		}
		if after := bucketKeys(t, c); !slices.Equal(after, before) {
			t.Fatalf("objects changed under a failed collection: %d before, %d after\n%s", len(before), len(after), out)
		}

		m, b := collect(t, c, "--delete-untagged", "--grace-period=1ns")
		if m != 1 || b < 4 {
			t.Fatalf("the fault-free collection deleted %d manifests and %d blobs; want the untagged manifest and the blobs of both images", m, b)
		}
		img, err := remote.Image(ref(t, c.regs[0].Host()+"/gc/app:kept"), opts...)
		if err != nil {
			t.Fatal(err)
		}
		layers, err := img.Layers()
		if err != nil || len(layers) != 2 {
			t.Fatalf("kept image: %d layers, %v", len(layers), err)
		}
		for _, l := range layers {
			layerBytes(t, l)
		}
	})
}
