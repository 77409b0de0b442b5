package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// s3Section marks the results of row 12: they go into their own table,
// with the server's own single stream as the limit. Issue 7 set them no
// target; issue 12 sets one for one registry over HTTP.
const s3Section = "s3"

// s3Servers are the servers the S3 benchmarks run on, in the order of the
// tests' testkit.S3Kinds, with the variable that points the tests at each
// binary.
var s3Servers = []struct{ name, env string }{
	{"versitygw", "WHARF_VERSITYGW"},
	{"minio", "WHARF_MINIO"},
}

// s3Bench is one `go test -bench` command of row 12.
type s3Bench struct {
	pkg, pattern, benchtime string
}

var (
	s3StoreBench = s3Bench{"./pkg/storage/s3/", "^BenchmarkThroughput$", "1x"}
	s3ProxyBench = s3Bench{"./test/scaleout/", "^BenchmarkThroughputThroughTheProxy$", "1x"}
	// The rows with targets: the pushes a mean of 3 runs each, as one run
	// of 128 MiB lasts a fraction of a second; the pulls a median of 11
	// alternating rounds (test/scaleout's pullRounds).
	s3OneBench = s3Bench{"./test/scaleout/", "^BenchmarkThroughputOneRegistry$", "3x"}
)

// stockV3 is the version of the stock registry the one-registry benchmark
// runs beside ours when it is installed (testkit.StockRegistryV3).
const stockV3 = "v3.1.1"

// Issue 12's targets for one registry over HTTP, as fractions of the S3
// server's own single stream in the same run.
const (
	s3PushTarget = 0.85 // of PutObject
	s3PullTarget = 0.90 // of GetObject
)

// s3Figure is one line of benchmark output.
type s3Figure struct {
	mbps float64
	mib  int64 // the bytes moved per operation (b.SetBytes), in MiB
}

// rowS3 is row 12 (issue 7): blob push and pull on S3 storage, beside the
// server's own single-stream PutObject and GetObject and the filesystem
// rows 1 and 2 of the same run. The figures come from the repository's Go
// benchmarks, run here with `go test` from the module root: the S3 servers
// are started by their TestMain, and the driver is only reachable from Go.
// A machine without the servers skips the row; it never fails for that.
func (b *bench) rowS3() ([]result, error) {
	root, err := moduleRoot()
	if err != nil {
		return nil, err
	}
	env, found := s3Environ(root)
	if len(found) == 0 {
		return []result{{row: "12", section: s3Section, what: "blob push and pull on S3 storage",
			verdict: skipped, figure: "skipped: no S3 servers (scripts/s3-servers.sh install)"}}, nil
	}
	figs := map[string]s3Figure{}
	var notes []string
	var failures []result
	for _, sb := range []s3Bench{s3StoreBench, s3ProxyBench, s3OneBench} {
		t := time.Now()
		out, err := b.goBench(root, env, sb)
		for k, v := range parseBench(out) {
			figs[k] = v
		}
		notes = append(notes, fmt.Sprintf("%s %.0f s", sb.pkg, time.Since(t).Seconds()))
		if err != nil {
			// Reported in the S3 table; what the other command measured
			// still counts.
			failures = append(failures, result{row: "12", section: s3Section, what: "go test -bench " + sb.pattern + " " + sb.pkg,
				figure: "benchmark failed", verdict: failed,
				note: fmt.Sprintf("%v; the output ends: %s (whole output in the scratch directory with -keep)", err, lastLines(out, 5))})
		}
	}
	var res []result
	id := 'a'
	for _, s := range s3Servers {
		rows := b.s3Rows(s.name, figs, &id)
		if len(rows) == 0 {
			why := "not installed"
			if found[s.name] {
				why = "no figures in the benchmark output"
			}
			res = append(res, result{row: "12", section: s3Section, what: s.name, figure: "skipped: " + why, verdict: skipped})
			continue
		}
		rows[0].note = b.s3Note(s.name, figs)
		res = append(res, rows...)
	}
	if len(res) > 0 {
		res[0].note = s3MethodNote(notes) + " " + res[0].note
	}
	return append(res, failures...), nil
}

// s3Rows makes the table lines of one server: each push and pull through
// our code beside the server's own single stream in the same direction.
// The one-registry rows carry issue 12's targets and their limit is the
// single stream of their own benchmark, taken with the same blob size.
func (b *bench) s3Rows(server string, figs map[string]s3Figure, id *rune) []result {
	put, okPut := figs["BenchmarkThroughput/"+server+"/sdk-put-object"]
	get, okGet := figs["BenchmarkThroughput/"+server+"/sdk-get-object"]
	onePut, okOnePut := figs["BenchmarkThroughputOneRegistry/"+server+"/sdk-put-object"]
	oneGet, okOneGet := figs["BenchmarkThroughputOneRegistry/"+server+"/sdk-get-object"]
	lines := []struct {
		key, what, fsRow string
		limit            s3Figure
		limitOK          bool
		limitName        string
		target           float64 // 0: reported only
	}{
		{"BenchmarkThroughput/" + server + "/store-push", "push, %d MiB, Store.PutBlob on the S3 driver (one process)", "1a", put, okPut, "PutObject", 0},
		{"BenchmarkThroughputOneRegistry/" + server + "/push-monolithic", "push, %d MiB in one POST, one registry over HTTP", "1a", onePut, okOnePut, "PutObject", s3PushTarget},
		{"BenchmarkThroughputOneRegistry/" + server + "/push-chunked-stream", "push, %d MiB docker's way (empty POST, one streamed PATCH, PUT ?digest=), one registry over HTTP", "1b", onePut, okOnePut, "PutObject", s3PushTarget},
		{"BenchmarkThroughputOneRegistry/" + server + "/push-post-put", "push, %d MiB containerd's way (empty POST, PUT ?digest= with the body), one registry over HTTP", "1a", onePut, okOnePut, "PutObject", s3PushTarget},
		{"BenchmarkThroughputOneRegistry/" + server + "/registry-3/push-chunked-stream", "registry:3 " + stockV3 + " beside it: push, %d MiB docker's way, one registry over HTTP", "1b", onePut, okOnePut, "PutObject", 0},
		{"BenchmarkThroughputOneRegistry/" + server + "/registry-3/push-post-put", "registry:3 " + stockV3 + " beside it: push, %d MiB containerd's way, one registry over HTTP", "1a", onePut, okOnePut, "PutObject", 0},
		{"BenchmarkThroughputThroughTheProxy/" + server + "/push-monolithic", "push, %d MiB in one POST, 3 registries behind a round-robin proxy", "1a", put, okPut, "PutObject", 0},
		{"BenchmarkThroughputThroughTheProxy/" + server + "/push-chunked-32MiB", "push, %d MiB in 32 MiB PATCHes across 3 registries behind the proxy", "1b", put, okPut, "PutObject", 0},
		{"BenchmarkThroughput/" + server + "/store-pull", "pull, %d MiB, Store.OpenBlob on the S3 driver (one process)", "2a", get, okGet, "GetObject", 0},
		{"BenchmarkThroughputOneRegistry/" + server + "/pull", "pull, %d MiB GET, one registry over HTTP", "2a", oneGet, okOneGet, "GetObject", s3PullTarget},
		{"BenchmarkThroughputOneRegistry/" + server + "/registry-3/pull", "registry:3 " + stockV3 + " beside it: pull, %d MiB GET, one registry over HTTP", "2a", oneGet, okOneGet, "GetObject", 0},
		{"BenchmarkThroughputThroughTheProxy/" + server + "/pull", "pull, %d MiB GET through the proxy, 3 registries", "2a", get, okGet, "GetObject", 0},
	}
	var res []result
	for _, l := range lines {
		f, ok := figs[l.key]
		if !ok {
			continue
		}
		r := result{
			row: fmt.Sprintf("12%c", *id), section: s3Section,
			what:    server + ": " + fmt.Sprintf(l.what, f.mib),
			figure:  fmt.Sprintf("%.0f MB/s", f.mbps),
			compare: b.fsFigure(l.fsRow),
			verdict: reported,
		}
		if l.limitOK {
			r.limit = fmt.Sprintf("%.0f MB/s, %s of %d MiB (SDK, one stream)", l.limit.mbps, l.limitName, l.limit.mib)
			r.ratio = pct(f.mbps / l.limit.mbps)
		}
		if l.target > 0 {
			r.target = "≥ " + pct(l.target) + " (issue 12)"
			r.verdict = judge(l.limitOK && f.mbps >= l.target*l.limit.mbps)
		}
		res = append(res, r)
		*id++
	}
	return res
}

// s3Note is the per-server note: the driver's own figures, which explain
// where the time of a push or pull goes.
func (b *bench) s3Note(server string, figs map[string]s3Figure) string {
	get := func(op string) string {
		if f, ok := figs["BenchmarkThroughput/"+server+"/"+op]; ok {
			return fmt.Sprintf("%.0f", f.mbps)
		}
		return "—"
	}
	return fmt.Sprintf("%s: the S3 driver alone moved a blob at %s MB/s writing (multipart upload, 10 MiB parts, up to 4 in flight), %s MB/s moving it into place (server-side copy, what a chunked push still does) and %s MB/s reading.",
		server, get("driver-writer"), get("driver-move"), get("driver-reader"))
}

// s3MethodNote says what each figure of row 12 measures.
func s3MethodNote(timings []string) string {
	return "S3 storage (issue 7; the one-registry rows carry issue 12's targets, the others are reported only). Figures from `go test -run '^$' -bench BenchmarkThroughput -benchtime 1x ./pkg/storage/s3/`, `... -bench BenchmarkThroughputThroughTheProxy ./test/scaleout/` and `... -bench BenchmarkThroughputOneRegistry -benchtime 3x ./test/scaleout/` (its pushes the mean of 3 runs, its pulls the median of 11 rounds that alternate the server's GetObject, ours and registry:3's, each read with 1 MiB buffers; the others one run) (" +
		strings.Join(timings, ", ") + "), each S3 server started by the tests on 127.0.0.1 with its data under the scratch directory's parent. " +
		"Limit: the server's own single stream, one PutObject / GetObject of the whole blob with the AWS SDK from the benchmark process. " +
		"Store.PutBlob / Store.OpenBlob: our storage layer over the S3 driver inside the benchmark process, no HTTP in front (push = upload straight to the blob's key, digest check and commit; pull = stream the blob). " +
		"One registry over HTTP: one `registry serve` process (built by the test), auth off, 5 MiB S3 parts, redirect disabled (the registry splices each pulled body from its own connection to S3 into the client's: plain HTTP on both sides), the client in the benchmark process; its limit is the SDK's PutObject of the same 128 MiB from that process, just before, and its GetObject in the same rounds as the pulls; every pull reads the body alike (1 MiB reads, bytes counted; with 8 KiB reads the limit was the client's own CPU), and the digest is checked once, untimed. " +
		"Through the proxy: three `registry serve` processes (built by the test) on one bucket, auth off, 5 MiB S3 parts, redirect disabled (pulls stream through the registry), behind a round-robin Go reverse proxy, so a chunked push lands each PATCH on the next process; the client sends new random content each time and the pull checks the digest. " +
		"The stock registry:3 (when installed) runs beside ours with the same configuration on the same server, under a root directory of its own: its pushes after ours, its pull in the same rounds as ours; it takes no body with the POST (it starts an upload, as the distribution spec allows), so it has no one-POST row. The one-registry pushes: one POST ?digest= with the body; docker's way (an empty POST, the whole blob in one PATCH with chunked transfer encoding, a PUT ?digest= without a body: on S3 a multipart upload of the session, then a parallel server-side copy into the blob's key); containerd's way (an empty POST, then a PUT ?digest= with the body: stored like the POST ?digest=). " +
		"The proxy rows' limit is that of the first command, taken just before with its own blob size. Filesystem: rows 1a/1b/2a of this run (token auth, one registry process, page cache evicted after pushes, pull from page cache)."
}

// fsFigure is the filesystem figure of row id in this run, for comparison.
func (b *bench) fsFigure(id string) string {
	for _, r := range b.results {
		if r.row == id {
			fig, _, _ := strings.Cut(r.figure, ",")
			return fmt.Sprintf("%s (row %s)", fig, id)
		}
	}
	return "row " + id + " not run"
}

// goBench runs one benchmark command from the module root and returns its
// output; the output also goes to a log in the scratch directory.
func (b *bench) goBench(root string, env []string, sb s3Bench) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-bench", sb.pattern, "-benchtime", sb.benchtime, "-timeout", "8m", sb.pkg)
	cmd.Dir = root
	// The servers' data goes next to the scratch directory: the disk the
	// filesystem rows measured.
	cmd.Env = append(append(os.Environ(), env...), "TMPDIR="+filepath.Dir(b.dir))
	cmd.WaitDelay = 10 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	fmt.Fprintf(b.log, "  go test -bench %s %s\n", sb.pattern, sb.pkg)
	err := cmd.Run()
	name := "s3-bench-" + strings.ReplaceAll(strings.Trim(sb.pkg, "./"), "/", "-") + ".log"
	_ = os.WriteFile(filepath.Join(b.dir, name), out.Bytes(), 0o644)
	return out.Bytes(), err
}

// A result line of `go test -bench` with b.SetBytes is the name (with a
// -GOMAXPROCS suffix), the iterations, ns/op and MB/s. The name is printed
// before the benchmark runs and the figures after, so anything the
// benchmark prints in between splits the line: the figures then belong to
// the last name seen.
var (
	benchName    = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?(?:\s|$)`)
	benchFigures = regexp.MustCompile(`\s(\d+)\s+(\d+(?:\.\d+)?) ns/op\s+(\d+(?:\.\d+)?) MB/s`)
)

// parseBench returns the MB/s figures of a benchmark output by name
// ("BenchmarkThroughput/minio/store-push").
func parseBench(out []byte) map[string]s3Figure {
	figs := map[string]s3Figure{}
	name := ""
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if m := benchName.FindStringSubmatch(line); m != nil {
			name = m[1]
		}
		m := benchFigures.FindStringSubmatch(line)
		if m == nil || name == "" {
			continue
		}
		ns, _ := strconv.ParseFloat(m[2], 64)
		rate, _ := strconv.ParseFloat(m[3], 64)
		// The size is not printed; MB/s × seconds per op gives it back.
		bytesPerOp := rate * 1e6 * ns / 1e9
		figs[name] = s3Figure{mbps: rate, mib: int64(bytesPerOp/(1<<20) + 0.5)}
		name = ""
	}
	return figs
}

// s3Environ returns the WHARF_VERSITYGW / WHARF_MINIO settings that
// `scripts/s3-servers.sh paths` prints, keeping those whose binary exists,
// and which servers the tests will find (those, a variable already set, or
// PATH; the script already covers $(go env GOPATH)/bin).
func s3Environ(root string) (env []string, found map[string]bool) {
	found = map[string]bool{}
	script := filepath.Join(root, "scripts", "s3-servers.sh")
	if out, err := exec.Command(script, "paths").Output(); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
			if !ok || !isFile(v) {
				continue
			}
			for _, s := range s3Servers {
				if s.env == k && os.Getenv(k) == "" {
					env = append(env, line)
					found[s.name] = true
				}
			}
		}
	}
	for _, s := range s3Servers {
		if p := os.Getenv(s.env); p != "" && isFile(p) {
			found[s.name] = true
		} else if _, err := exec.LookPath(s.name); err == nil && p == "" {
			found[s.name] = true
		}
	}
	return env, found
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}

// moduleRoot is the directory of the main module's go.mod.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %v", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("not inside the wharf module")
	}
	return filepath.Dir(mod), nil
}

// lastLines returns the last n lines of out, for an error note.
func lastLines(out []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], " / ")
}
