package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// verdict says how a figure compares with its target.
type verdict int

const (
	info     verdict = iota // no target of its own (a part of a row judged elsewhere)
	met                     // target met
	notMet                  // target not met
	skipped                 // not measured on this machine or in this run
	failed                  // the measurement itself failed
	reported                // measured with no target to judge it by (row 12)
)

func (v verdict) String() string {
	return [...]string{"", "met", "NOT MET", "skipped", "FAILED", "reported"}[v]
}

// result is one line of the table.
type result struct {
	row     string
	what    string
	figure  string
	limit   string // the limit measured in the same run, or a reference
	ratio   string
	target  string
	verdict verdict
	note    string // method details and caveats, printed below the table
	section string // "" for the main table, s3Section for the S3 one
	compare string // S3 table: the filesystem figure of the same run
}

// judge returns met when ok, else notMet.
func judge(ok bool) verdict {
	if ok {
		return met
	}
	return notMet
}

// pct renders a ratio as a percentage.
func pct(r float64) string { return fmt.Sprintf("%.0f %%", r*100) }

// machine describes where the figures were taken.
type machine struct {
	cpus     int
	cpuModel string
	memory   string
	kernel   string
	goVer    string
	fs       string
	date     string
}

func describeMachine(dir string) machine {
	m := machine{
		cpus:   runtime.NumCPU(),
		goVer:  runtime.Version(),
		date:   time.Now().UTC().Format("2006-01-02 15:04 UTC"),
		memory: "unknown",
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.cpuModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && k == "MemTotal" {
				var kb int64
				fmt.Sscanf(strings.TrimSpace(v), "%d", &kb)
				m.memory = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.kernel = "Linux " + strings.TrimSpace(string(b))
	}
	// Every TCP hop of the S3 rows sends with it; BBR paces each send with
	// a timer even on loopback, which costs a pull through the registry
	// (two hops) more than the server's own GetObject (one).
	if b, err := os.ReadFile("/proc/sys/net/ipv4/tcp_congestion_control"); err == nil {
		m.kernel += ", TCP congestion control " + strings.TrimSpace(string(b))
	}
	var st syscall.Statfs_t
	if syscall.Statfs(dir, &st) == nil {
		m.fs = fmt.Sprintf("%s (filesystem magic 0x%x)", dir, st.Type)
		if name, ok := fsNames[st.Type]; ok {
			m.fs = fmt.Sprintf("%s (%s)", dir, name)
		}
	}
	return m
}

var fsNames = map[int64]string{0xef53: "ext4", 0x58465342: "xfs", 0x9123683e: "btrfs", 0x01021994: "tmpfs", 0x794c7630: "overlayfs"}

// writeTable renders the main table's results as a Markdown table.
func writeTable(w io.Writer, results []result) {
	fmt.Fprintln(w, "| # | what | figure | limit (same run) | ratio | target | met? |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|")
	for _, r := range inSection(results, "") {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n",
			r.row, cell(r.what), cell(r.figure), cell(r.limit), cell(r.ratio), cell(r.target), r.verdict)
	}
}

// writeS3Table renders row 12 as its own table, the filesystem figure of
// the same run beside each; it writes nothing when row 12 did not run.
func writeS3Table(w io.Writer, results []result) {
	rs := inSection(results, s3Section)
	if len(rs) == 0 {
		return
	}
	fmt.Fprintln(w, "| # | what | figure | limit: the S3 server's own single stream (same run) | ratio | target | filesystem (same run) | status |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|")
	for _, r := range rs {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s |\n",
			r.row, cell(r.what), cell(r.figure), cell(r.limit), cell(r.ratio), cell(r.target), cell(r.compare), r.verdict)
	}
}

func inSection(results []result, section string) []result {
	var rs []result
	for _, r := range results {
		if r.section == section {
			rs = append(rs, r)
		}
	}
	return rs
}

func cell(s string) string {
	if s == "" {
		return "—"
	}
	return strings.ReplaceAll(s, "|", `\|`)
}

// writeNotes lists each row's method notes.
func writeNotes(w io.Writer, results []result) {
	for _, r := range results {
		if r.note != "" {
			fmt.Fprintf(w, "- **%s** %s\n", r.row, r.note)
		}
	}
}

// summary counts verdicts.
func summary(results []result) string {
	counts := map[verdict]int{}
	for _, r := range results {
		counts[r.verdict]++
	}
	s := fmt.Sprintf("%d met, %d not met, %d skipped, %d failed", counts[met], counts[notMet], counts[skipped], counts[failed])
	if counts[reported] > 0 {
		s += fmt.Sprintf(", %d reported", counts[reported])
	}
	return s
}

// writeMarkdown writes BENCHMARKS.md: the table, the notes, the method and
// the machine. The file is regenerated whole by every run.
func writeMarkdown(file string, b *bench, m machine, total time.Duration) error {
	var w bytes.Buffer
	c := b.cfg
	fmt.Fprintf(&w, "# Benchmarks\n\n")
	fmt.Fprintf(&w, "Generated by `make bench` (`go run ./bench`) on %s; do not edit by hand. Rerun `make bench` after a change to regenerate it.\n\n", m.date)
	fmt.Fprintf(&w, "**%s** (%.0f s in all).\n\n", summary(b.results), total.Seconds())
	writeTable(&w, b.results)
	fmt.Fprintf(&w, "\nMB/s is 10^6 bytes per second; MiB is 2^20 bytes. Each figure sits beside a limit measured in the same run, minutes apart at most: absolute figures drift on a shared machine, the ratios much less.\n\n")
	if len(b.comparisons) > 0 {
		fmt.Fprintf(&w, "## Side by side with other registries\n\nOurs beside each peer, measured in the same run on the same disk with the same blob, the order rotated in every round; the ratio is ours divided by the peer's. Targets are ratios to registry:3 and, for pushes and pulls, to zot when it is measured (`-peer zot=PATH,kind=zot`: zot is on no package registry, so it runs only where someone built it).\n\n")
		writeCompareTable(&w, b.comparisons, b.peers)
		fmt.Fprintln(&w)
		writeCompareNotes(&w, b.comparisons, b.peers)
		fmt.Fprintln(&w)
	}
	if len(inSection(b.results, s3Section)) > 0 {
		fmt.Fprintf(&w, "## S3 storage\n\nRow 12 (issue 7): blob push and pull with S3 storage on each real S3 server, beside the server's own single-stream PutObject / GetObject and the filesystem figures of this run. Issue 12 sets targets for one registry over HTTP (push ≥ 85 %% of PutObject, pull ≥ 90 %% of GetObject); the other figures are reported, and the notes on row 12 say what each measures.\n\n")
		writeS3Table(&w, b.results)
		fmt.Fprintln(&w)
	}
	fmt.Fprintf(&w, "## Notes per row\n\n")
	writeNotes(&w, b.results)
	fmt.Fprintf(&w, "\n## Method\n\n")
	fmt.Fprintf(&w, `- The programs are the built binaries (%s/auth, %s/registry), started as their own processes on 127.0.0.1 with keys (ECDSA P-256 CA, %s token key) and configs generated into a scratch directory; the registry uses filesystem storage in that directory, with registry:2's config format and layout. Their logs (access log included) go to files in its logs/ directory, not beside the configs: auth watches its config's directory, and a line written there would wake it, which a deployment logging to a pipe or journald never pays.
- Two registry processes serve the same store: one with token auth (trusting the token server through rootcertbundle), one with auth off. Every limit is measured against the same store and disk.
- Limits are bare Go handlers served by a separate process (this program run as `+"`wharfbench limits`"+`) so that, like the programs, they share the cores with the load generator but not its heap: hashing with sha256 while writing to a file with fsync (1 MiB reads, row 1), `+"`http.ServeContent`"+` (sendfile) and `+"`io.CopyBuffer`"+` with a 256 KiB buffer (user space) of the registry's own blob file, the better of the two being row 2's limit, the token server's exact response bytes and headers (rows 4 and 6). bcrypt's rate (row 5) is measured in the harness with one goroutine per core.
- Peers (the side-by-side table): the stock registry:3 and registry:2 builds of `+"`scripts/stock-registries.sh install`"+` (found through WHARF_STOCK_REGISTRY_V3 / _V2 or $(go env GOPATH)/wharf-stock, as the tests find them) and any `+"`-peer name=path,kind=registry|zot`"+`, each its own process on 127.0.0.1 with OTEL_TRACES_EXPORTER=none and no debug listener. Kind registry serves our very store from the same config format (auth off for rows 1–2; for row 3 a second process with token auth trusting the same rootcertbundle); zot gets a store of its own on the same disk, and what it serves is pushed to it first. A peer that is not installed is skipped, with a line in the output and its column saying so.
- Load is generated in Go: net/http clients with keep-alive and one connection per worker, closed loop (a worker sends its next request when the last one is answered), fixed durations after a warm-up; p99 is taken from every recorded latency. Transfers use one connection and are repeated (the median is kept), alternating with their limit.
- Memory is read from /proc/<pid>/status: VmHWM (peak resident set) of a registry process started for the row, and VmRSS sampled every 20–50 ms. CPU time per request comes from /proc/<pid>/stat.
- What each push wrote is evicted from the page cache afterwards (posix_fadvise DONTNEED), and the bare handler's file is deleted after the clock stops: on this VM, writing into page cache the guest has never touched runs at a third of the speed of writing into recycled pages, which otherwise decides the figures.
- Sizes of this run: rows 1–2 %d MiB blobs (chunks of %d MiB; %d runs for row 1, %d for row 2), rows 3/4/6 %d connections for %.1f s each side, row 5 %.1f s, row 7 %d repositories and %d tags walked with n=%d, row 8 %d MiB blobs, row 9 %d pulls of %d MiB, row 10 %d repositories and %d blobs, row 11 %d pulls each way of a %d MiB image. Change them with `+"`make bench BENCH_FLAGS='...'`"+` (see `+"`go run ./bench -h`"+`).
- Nothing here fails on a number; CI never runs it (it is a main package with no tests).
`, c.binShown, c.binShown, tokenKeyName(c.keyKind), c.blobMiB, c.chunkMiB, c.reps, 2*c.reps+1, c.conns, c.dur.Seconds(), c.freshDur.Seconds(),
		c.repos, c.tags, c.page, c.memBlobMiB, c.pulls, c.parallelBlobMiB, c.gcRepos, c.gcBlobs, c.reps, c.dockerImageMiB)
	fmt.Fprintf(&w, "\n## Machine\n\n")
	fmt.Fprintf(&w, "- CPU: %s, %d cores (nproc), shared with other work while measuring\n", m.cpuModel, m.cpus)
	fmt.Fprintf(&w, "- Memory: %s\n", m.memory)
	fmt.Fprintf(&w, "- OS: %s\n", m.kernel)
	fmt.Fprintf(&w, "- Go: %s\n", m.goVer)
	fmt.Fprintf(&w, "- Scratch directories under: %s\n", m.fs)
	fmt.Fprintf(&w, "- Date: %s\n", m.date)
	return os.WriteFile(file, w.Bytes(), 0o644)
}

func tokenKeyName(kind string) string {
	if kind == "rsa" {
		return "RSA-2048 (RS256)"
	}
	return "ECDSA P-256 (ES256)"
}
