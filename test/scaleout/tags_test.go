package scaleout

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"
)

const ociManifestType = "application/vnd.oci.image.manifest.v1+json"

// manifestFor pushes a config and a layer made from seed through base and
// returns an OCI image manifest over them.
func manifestFor(t *testing.T, base, repo string, seed uint64) []byte {
	t.Helper()
	cfg := []byte(fmt.Sprintf(`{"architecture":"amd64","os":"linux","seed":%d}`, seed))
	layer := randomBytes(seed, 4096+int(seed))
	type desc struct {
		MediaType string        `json:"mediaType"`
		Digest    digest.Digest `json:"digest"`
		Size      int           `json:"size"`
	}
	m := struct {
		SchemaVersion int    `json:"schemaVersion"`
		MediaType     string `json:"mediaType"`
		Config        desc   `json:"config"`
		Layers        []desc `json:"layers"`
	}{
		2, ociManifestType,
		desc{"application/vnd.oci.image.config.v1+json", pushBlob(t, base, repo, cfg), len(cfg)},
		[]desc{{"application/vnd.oci.image.layer.v1.tar", pushBlob(t, base, repo, layer), len(layer)}},
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestConcurrentPushesOfOneTagLeaveOneAnswer has every registry push a
// different manifest under the same tag at the same moment, round after
// round. Every push must succeed, and afterwards all registries agree that
// the tag names one of the pushed manifests, whole, and list it once.
func TestConcurrentPushesOfOneTagLeaveOneAnswer(t *testing.T) {
	eachS3(t, func(t *testing.T, s *s3Server) {
		c := startCluster(t, s, clusterOptions{})
		const repo, writersPerRegistry, rounds = "race/app", 2, 6
		var bodies [][]byte
		digests := map[digest.Digest]bool{}
		for i := range len(c.regs) * writersPerRegistry {
			b := manifestFor(t, c.proxy.URL(), repo, uint64(100+i))
			bodies = append(bodies, b)
			digests[digest.FromBytes(b)] = true
		}
		for round := range rounds {
			tag := fmt.Sprintf("r%d", round)
			var wg sync.WaitGroup
			errs := make(chan error, len(bodies))
			for i, body := range bodies {
				reg := c.regs[i%len(c.regs)]
				wg.Go(func() {
					req, _ := http.NewRequest(http.MethodPut, reg.URL()+"/v2/"+repo+"/manifests/"+tag, bytes.NewReader(body))
					req.Header.Set("Content-Type", ociManifestType)
					resp, err := httpClient.Do(req)
					if err != nil {
						errs <- err
						return
					}
					resp.Body.Close()
					if resp.StatusCode != http.StatusCreated {
						errs <- fmt.Errorf("PUT %s on %s: %s", tag, reg.name, resp.Status)
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}

			var answer digest.Digest
			for _, r := range c.regs {
				resp, body := do(t, http.MethodGet, r.URL()+"/v2/"+repo+"/manifests/"+tag, "", nil, http.Header{"Accept": {ociManifestType}})
				got := digest.FromBytes(body)
				if resp.StatusCode != http.StatusOK || !digests[got] || resp.Header.Get("Docker-Content-Digest") != got.String() {
					t.Fatalf("round %d: GET %s from %s: %s, body %s, header digest %q: not one of the pushed manifests",
						round, tag, r.name, resp.Status, got, resp.Header.Get("Docker-Content-Digest"))
				}
				if answer == "" {
					answer = got
				} else if got != answer {
					t.Errorf("round %d: %s says %s is %s, another registry says %s", round, r.name, tag, got, answer)
				}
			}
		}
		var list struct {
			Tags []string `json:"tags"`
		}
		resp, body := do(t, http.MethodGet, c.proxy.URL()+"/v2/"+repo+"/tags/list", "", nil, nil)
		if err := json.Unmarshal(body, &list); resp.StatusCode != http.StatusOK || err != nil {
			t.Fatalf("tags/list: %s %s", resp.Status, body)
		}
		want := []string{}
		for round := range rounds {
			want = append(want, fmt.Sprintf("r%d", round))
		}
		if !slices.Equal(list.Tags, want) {
			t.Errorf("tags/list = %v, want %v", list.Tags, want)
		}
	})
}
