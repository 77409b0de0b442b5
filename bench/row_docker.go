package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
)

// rowDocker is row 11: `docker pull` of a five-layer image from the
// docker-compose deployment, through the token flow, against the same
// pull from the same volume with auth off. The image is removed from the
// engine before every pull, and the two kinds take turns.
func (b *bench) rowDocker() ([]result, error) {
	what := fmt.Sprintf("docker pull, 5 layers, %d MiB, docker-compose, token flow", b.cfg.dockerImageMiB)
	if reason := dockerSkipReason(b.cfg); reason != "" {
		return []result{{row: "11", what: what, figure: reason, target: "within 10 %", verdict: skipped}}, nil
	}
	s, err := newDockerStack(b)
	if err != nil {
		return nil, err
	}
	defer s.close()
	if err := s.pushImage("bench/img", b.cfg.dockerImageMiB<<20); err != nil {
		return nil, err
	}
	if _, err := s.runStdin(s.adminPass, "docker", "login", "-u", "admin", "--password-stdin", fmt.Sprintf("localhost:%d", s.regPort)); err != nil {
		return nil, err
	}
	refs := []string{fmt.Sprintf("localhost:%d/bench/img:latest", s.regPort), fmt.Sprintf("localhost:%d/bench/img:latest", s.openPort)}
	times := [2][]float64{}
	reps := b.cfg.reps
	for i := range reps {
		for k := range 2 {
			k := (k + i) % 2
			s.run(append([]string{"docker", "rmi", "-f"}, refs...)...)
			start := time.Now()
			if _, err := s.run("docker", "pull", refs[k]); err != nil {
				return nil, err
			}
			times[k] = append(times[k], time.Since(start).Seconds())
		}
	}
	s.run(append([]string{"docker", "rmi", "-f"}, refs...)...)
	fig, lim := median(times[0]), median(times[1])
	return []result{{
		row: "11", what: what,
		figure:  fmt.Sprintf("%.2f s", fig),
		limit:   fmt.Sprintf("%.2f s, auth off", lim),
		ratio:   fmt.Sprintf("%.2f× the time", fig/lim),
		target:  "within 10 % (≤ 1.10×)",
		verdict: judge(fig <= 1.1*lim),
		note: fmt.Sprintf("deploy/compose as the README sets it up (make images, certgen, setup.sh at bcrypt cost 10, docker-compose up, TLS on both servers), the image pushed once through the token flow; median of %d pulls each (token flow %s s, auth off %s s), alternating, the image removed from the engine before every pull. Auth off is the same image over the same volume without the auth section.",
			reps, fmtList2(times[0]), fmtList2(times[1])),
	}}, nil
}

func fmtList2(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf("%.2f", x)
	}
	return strings.Join(parts, ", ")
}

// runStdin is run with stdin.
func (s *dockerStack) runStdin(stdin string, argv ...string) (string, error) {
	return s.runWith(strings.NewReader(stdin), argv...)
}

// pushImage pushes a Docker schema2 image of five gzip layers (stored, not
// compressed: random bytes do not compress, and docker still has to
// decompress and unpack them) to repo:latest through the token flow.
func (s *dockerStack) pushImage(repo string, size int) error {
	c := s.httpClient()
	q := url.Values{"service": {"registry.local"}, "scope": {"repository:" + repo + ":pull,push"}}
	req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("https://localhost:%d/auth?%s", s.authPort, q.Encode()), nil)
	req.SetBasicAuth("admin", s.adminPass)
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	var tok tokenResponse
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		return fmt.Errorf("token for the push: %s %v", resp.Status, err)
	}
	rc := &regClient{base: fmt.Sprintf("https://localhost:%d", s.regPort), token: tok.Token, hc: c}
	var seed [8]byte
	rand.Read(seed[:])
	type layer struct {
		blob   []byte
		diffID digest.Digest
	}
	var layers []layer
	for i := range 5 {
		content := make([]byte, size/5)
		fillRandom(content, binary.BigEndian.Uint64(seed[:])+uint64(i))
		var tb bytes.Buffer
		tw := tar.NewWriter(&tb)
		tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("layer%d.bin", i), Mode: 0o644, Size: int64(len(content)), ModTime: time.Unix(0, 0)})
		tw.Write(content)
		tw.Close()
		var gb bytes.Buffer
		gw, _ := gzip.NewWriterLevel(&gb, gzip.NoCompression)
		gw.Write(tb.Bytes())
		gw.Close()
		layers = append(layers, layer{blob: gb.Bytes(), diffID: digest.FromBytes(tb.Bytes())})
	}
	diffIDs := make([]digest.Digest, len(layers))
	for i, l := range layers {
		diffIDs[i] = l.diffID
	}
	config, _ := json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux",
		"config": map[string]any{"Cmd": []string{"/layer0.bin"}},
		"rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs},
	})
	const schema2 = "application/vnd.docker.distribution.manifest.v2+json"
	var descs []map[string]any
	for _, l := range layers {
		if _, err := rc.pushMonolithic(repo, l.blob, digest.FromBytes(l.blob)); err != nil {
			return err
		}
		descs = append(descs, map[string]any{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": digest.FromBytes(l.blob), "size": len(l.blob)})
	}
	if _, err := rc.pushMonolithic(repo, config, digest.FromBytes(config)); err != nil {
		return err
	}
	m, _ := json.Marshal(map[string]any{
		"schemaVersion": 2, "mediaType": schema2,
		"config": map[string]any{"mediaType": "application/vnd.docker.container.image.v1+json", "digest": digest.FromBytes(config), "size": len(config)},
		"layers": descs,
	})
	return rc.putManifest(repo, "latest", schema2, m)
}
