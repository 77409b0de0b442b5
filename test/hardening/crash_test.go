package hardening

import (
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/wharf-registry/wharf/pkg/manifest"
)

// killDelays are how long after a request is sent the registry is killed:
// each lands the kill at another point of the write path. Which point
// does not matter to the assertions, which hold wherever it lands.
func killDelays() []time.Duration {
	if slow() {
		return []time.Duration{0, 250 * time.Microsecond, 500 * time.Microsecond, time.Millisecond, 2 * time.Millisecond,
			3 * time.Millisecond, 5 * time.Millisecond, 8 * time.Millisecond, 13 * time.Millisecond, 21 * time.Millisecond}
	}
	return []time.Duration{0, time.Millisecond, 5 * time.Millisecond}
}

// randomData returns n bytes that differ for every seed.
func randomData(n int, seed uint64) []byte {
	r := rand.New(rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), 42}))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// sendAndKill writes a raw request to the registry, waits delay and kills
// the registry with the request in flight.
func sendAndKill(t *testing.T, p *process, head string, body []byte, delay time.Duration) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(p.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, head); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(body); err != nil {
		t.Fatal(err)
	}
	time.Sleep(delay)
	p.kill()
}

func requestHead(method, path, host string, length int, extra ...string) string {
	h := method + " " + path + " HTTP/1.1\r\nHost: " + host + "\r\nContent-Length: " + strconv.Itoa(length) + "\r\n"
	for i := 0; i < len(extra); i += 2 {
		h += extra[i] + ": " + extra[i+1] + "\r\n"
	}
	return h + "\r\n"
}

// finishPush completes the push of data to repo as a careful client does
// after a crash: ask the session how much it holds and resume from there,
// or start over when the session is gone (BLOB_UPLOAD_UNKNOWN). It fails
// the test on any other answer and returns how the session answered.
func finishPush(t *testing.T, base, repo, loc string, data []byte, d digest.Digest, acked int64) string {
	t.Helper()
	resp, body := do(t, base, request{method: "GET", path: loc})
	switch {
	case resp.StatusCode == http.StatusNoContent:
		offset := int64(0)
		if rng := resp.Header.Get("Range"); rng != "0-0" {
			end, err := strconv.ParseInt(strings.TrimPrefix(rng, "0-"), 10, 64)
			if err != nil || !strings.HasPrefix(rng, "0-") {
				t.Fatalf("session Range %q", rng)
			}
			offset = end + 1
		}
		if offset < acked || offset > int64(len(data)) {
			t.Fatalf("session holds %d bytes after the crash; %d were acknowledged, %d exist", offset, acked, len(data))
		}
		put := request{method: "PUT", path: loc + "?digest=" + d.String(), body: data[offset:],
			header: map[string]string{"Content-Range": fmt.Sprintf("%d-%d", offset, len(data)-1)}}
		if resp, body := do(t, base, put); resp.StatusCode != http.StatusCreated {
			t.Fatalf("resume at %d: %d %s", offset, resp.StatusCode, body)
		}
		return "resumed at byte " + strconv.FormatInt(offset, 10)
	case resp.StatusCode == http.StatusNotFound && errorCode(body) == "BLOB_UPLOAD_UNKNOWN":
		if acked > 0 {
			t.Errorf("session with %d acknowledged bytes is gone after the crash", acked)
		}
		post := request{method: "POST", path: "/v2/" + repo + "/blobs/uploads/?digest=" + d.String(), body: data}
		if resp, body := do(t, base, post); resp.StatusCode != http.StatusCreated {
			t.Fatalf("push again: %d %s", resp.StatusCode, body)
		}
		return "BLOB_UPLOAD_UNKNOWN, pushed again"
	}
	t.Fatalf("session after the crash: %d %s", resp.StatusCode, body)
	return ""
}

// openSession starts an upload in repo and returns its path.
func openSession(t *testing.T, base, repo string) string {
	t.Helper()
	resp, body := do(t, base, request{method: "POST", path: "/v2/" + repo + "/blobs/uploads/"})
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("open a session: %d %s", resp.StatusCode, body)
	}
	return resp.Header.Get("Location")
}

// checkBlob asserts that d is either absent from repo or served whole.
func checkBlob(t *testing.T, base, repo string, d digest.Digest, data []byte) bool {
	t.Helper()
	resp, got := do(t, base, request{method: "GET", path: "/v2/" + repo + "/blobs/" + d.String()})
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return false
	case resp.StatusCode == http.StatusOK && string(got) == string(data):
		return true
	}
	t.Fatalf("blob %s after the crash: %d, %d of %d bytes", d, resp.StatusCode, len(got), len(data))
	return false
}

// checkTags asserts that every listed tag of repo resolves to a manifest
// whose blobs are all there, and that want, when the tag resolves, is
// exactly its body.
func checkTags(t *testing.T, base, repo, tag string, want []byte) bool {
	t.Helper()
	resp, body := do(t, base, request{method: "GET", path: "/v2/" + repo + "/tags/list"})
	var list struct{ Tags []string }
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, &list); err != nil {
			t.Fatal(err)
		}
	} else if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("tags of %s: %d %s", repo, resp.StatusCode, body)
	}
	found := false
	for _, tg := range list.Tags {
		resp, got := do(t, base, request{method: "GET", path: "/v2/" + repo + "/manifests/" + tg})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("listed tag %s:%s does not resolve: %d %s", repo, tg, resp.StatusCode, got)
		}
		refs, err := manifest.References(got)
		if err != nil {
			t.Fatalf("tag %s:%s serves an unreadable manifest: %v", repo, tg, err)
		}
		for _, b := range refs.Blobs {
			if resp, _ := do(t, base, request{method: "HEAD", path: "/v2/" + repo + "/blobs/" + b.String()}); resp.StatusCode != http.StatusOK {
				t.Errorf("tag %s:%s names blob %s, which answers %d", repo, tg, b, resp.StatusCode)
			}
		}
		if tg == tag {
			found = true
			if string(got) != string(want) {
				t.Fatalf("tag %s:%s serves another body after the crash", repo, tg)
			}
		}
	}
	if !found {
		if resp, _ := do(t, base, request{method: "HEAD", path: "/v2/" + repo + "/manifests/" + tag}); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("tag %s:%s is not listed but answers %d", repo, tag, resp.StatusCode)
		}
	}
	return found
}

// TestKill9AtEachStepOfAPushLeavesAConsistentStore kills the registry
// binary with SIGKILL while it receives a chunk, commits a blob, writes a
// manifest and writes a tag, restarts it over the same directory and
// checks that nothing partial, empty or dangling is visible, that the
// interrupted upload resumes or is BLOB_UPLOAD_UNKNOWN, that every blob
// file matches its digest and that `registry fsck` finds the store
// consistent.
func TestKill9AtEachStepOfAPushLeavesAConsistentStore(t *testing.T) {
	registryBinary(t)
	root := t.TempDir()
	outcomes := map[string]int{}
	round := uint64(0)

	t.Run("while a chunk streams in", func(t *testing.T) {
		const repo, first, total = "crash/chunk", 1 << 20, 6 << 20
		for _, delay := range killDelays() {
			round++
			data := randomData(total, round)
			d := digest.FromBytes(data)
			p := startBinary(t, root, "")
			loc := openSession(t, p.URL, repo)
			head := map[string]string{"Content-Range": fmt.Sprintf("0-%d", first-1)}
			if resp, body := do(t, p.URL, request{method: "PATCH", path: loc, body: data[:first], header: head}); resp.StatusCode != http.StatusAccepted {
				t.Fatalf("first chunk: %d %s", resp.StatusCode, body)
			}
			// Stream most of the second chunk and kill once the registry
			// has written part of it: the request is still open.
			id := loc[strings.LastIndexByte(loc, '/')+1:]
			dataFile := filepath.Join(root, "docker/registry/v2/repositories", repo, "_uploads", id, "data")
			c, err := net.Dial("tcp", strings.TrimPrefix(p.URL, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			hostPort := strings.TrimPrefix(p.URL, "http://")
			if _, err := io.WriteString(c, requestHead("PATCH", loc, hostPort, total-first, "Content-Range", fmt.Sprintf("%d-%d", first, total-1))); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Write(data[first : total-first]); err != nil {
				t.Fatal(err)
			}
			for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Millisecond) {
				if fi, err := os.Stat(dataFile); err == nil && fi.Size() > first {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the second chunk never reached the disk")
				}
			}
			time.Sleep(delay)
			p.kill()
			c.Close()

			p = startBinary(t, root, "")
			checkBlobFiles(t, root)
			outcomes["chunk: "+strings.Split(finishPush(t, p.URL, repo, loc, data, d, first), " at ")[0]]++
			if !checkBlob(t, p.URL, repo, d, data) {
				t.Fatal("the resumed blob is not visible")
			}
			p.kill()
		}
	})

	t.Run("while a blob is committed", func(t *testing.T) {
		const repo, size = "crash/commit", 8 << 20
		for i, delay := range killDelays() {
			round++
			data := randomData(size, round)
			d := digest.FromBytes(data)
			if i%2 == 1 { // sha512 is hashed again at commit: a wider window
				sum := sha512.Sum512(data)
				d = digest.Digest("sha512:" + hex.EncodeToString(sum[:]))
			}
			p := startBinary(t, root, "")
			loc := openSession(t, p.URL, repo)
			if resp, body := do(t, p.URL, request{method: "PATCH", path: loc, body: data}); resp.StatusCode != http.StatusAccepted {
				t.Fatalf("upload: %d %s", resp.StatusCode, body)
			}
			sendAndKill(t, p, requestHead("PUT", loc+"?digest="+d.String(), strings.TrimPrefix(p.URL, "http://"), 0), nil, delay)

			p = startBinary(t, root, "")
			checkBlobFiles(t, root)
			if checkBlob(t, p.URL, repo, d, data) {
				outcomes["commit: blob visible after restart"]++
			}
			outcomes["commit: "+strings.Split(finishPush(t, p.URL, repo, loc, data, d, 0), " at ")[0]]++
			if !checkBlob(t, p.URL, repo, d, data) {
				t.Fatal("the blob is not visible once the push finished")
			}
			p.kill()
		}
	})

	const repo = "crash/image"
	p := startBinary(t, root, "")
	config := []byte(`{"architecture":"amd64","os":"linux"}`)
	layer := randomData(4096, 1000)
	pushBlobTo(t, p.URL, repo, config)
	pushBlobTo(t, p.URL, repo, layer)
	p.kill()
	image := func(n uint64) []byte {
		body := imageManifest(digest.FromBytes(config), len(config), digest.FromBytes(layer), len(layer))
		return append(body[:len(body)-1], []byte(`,"annotations":{"round":"`+strconv.FormatUint(n, 10)+`"}}`)...)
	}

	t.Run("while a manifest is written", func(t *testing.T) {
		for _, delay := range killDelays() {
			round++
			body, tag := image(round), "m"+strconv.FormatUint(round, 10)
			p := startBinary(t, root, "")
			sendAndKill(t, p, requestHead("PUT", "/v2/"+repo+"/manifests/"+tag, strings.TrimPrefix(p.URL, "http://"), len(body),
				"Content-Type", manifest.MediaTypeOCIManifest), body, delay)

			p = startBinary(t, root, "")
			checkBlobFiles(t, root)
			if checkTags(t, p.URL, repo, tag, body) {
				outcomes["manifest: tag visible after restart"]++
			} else {
				outcomes["manifest: tag absent after restart"]++
			}
			resp, got := do(t, p.URL, request{method: "GET", path: "/v2/" + repo + "/manifests/" + digest.FromBytes(body).String()})
			if resp.StatusCode != http.StatusNotFound && (resp.StatusCode != http.StatusOK || string(got) != string(body)) {
				t.Fatalf("manifest by digest after the crash: %d %.200s", resp.StatusCode, got)
			}
			pushManifestTo(t, p.URL, repo, tag, body)
			p.kill()
		}
	})

	t.Run("while a tag is written", func(t *testing.T) {
		for _, delay := range killDelays() {
			round++
			body, tag := image(round), "t"+strconv.FormatUint(round, 10)
			p := startBinary(t, root, "")
			pushManifestTo(t, p.URL, repo, digest.FromBytes(body).String(), body)
			sendAndKill(t, p, requestHead("PUT", "/v2/"+repo+"/manifests/"+tag, strings.TrimPrefix(p.URL, "http://"), len(body),
				"Content-Type", manifest.MediaTypeOCIManifest), body, delay)

			p = startBinary(t, root, "")
			checkBlobFiles(t, root)
			if checkTags(t, p.URL, repo, tag, body) {
				outcomes["tag: visible after restart"]++
			} else {
				outcomes["tag: absent after restart"]++
			}
			pushManifestTo(t, p.URL, repo, tag, body)
			p.kill()
		}
	})

	p = startBinary(t, root, "")
	fsck(t, p)
	checkBlobFiles(t, root)
	t.Logf("where the kills landed: %v", outcomes)
}

func pushBlobTo(t *testing.T, base, repo string, data []byte) {
	t.Helper()
	d := digest.FromBytes(data)
	if resp, body := do(t, base, request{method: "POST", path: "/v2/" + repo + "/blobs/uploads/?digest=" + d.String(), body: data}); resp.StatusCode != http.StatusCreated {
		t.Fatalf("push blob: %d %s", resp.StatusCode, body)
	}
}

func pushManifestTo(t *testing.T, base, repo, ref string, body []byte) {
	t.Helper()
	resp, got := do(t, base, request{method: "PUT", path: "/v2/" + repo + "/manifests/" + ref, body: body,
		header: map[string]string{"Content-Type": manifest.MediaTypeOCIManifest}})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("push manifest %s:%s: %d %s", repo, ref, resp.StatusCode, got)
	}
}
