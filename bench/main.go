// Command wharfbench is `make bench`: it starts the built programs
// (bin/auth and bin/registry) on 127.0.0.1 with generated keys and configs
// in a temporary directory, measures each row of issue 5 beside the limit
// it is judged against, taken in the same run, prints the table and writes
// it, with the method and the machine, into BENCHMARKS.md.
//
// Figures on a shared machine drift from run to run; ratios to a limit
// measured minutes apart hold much better, which is why every figure sits
// beside one. Nothing here fails on a number: a row that misses its target
// says so in the table, and the exit status is 0 unless the harness itself
// could not run.
//
// Rows 1 to 3 also measure the registries a user could pick instead (the
// stock registry:3 and registry:2 builds, and any -peer) in the same
// rounds, on the same disk and the same blob, into a side-by-side table.
//
//	go run ./bench [-bin bin] [-out BENCHMARKS.md] [-rows 1,2,3] [-perf DIR] ...
//
// With -perf DIR, perf(1) records each server process during each row into
// DIR/row<N>-<process>.data (use binaries built without -s -w to read them:
// go build -o DIR ./cmd/auth ./cmd/registry, then -bin DIR).
package main

import (
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "limits" {
		os.Exit(limitsMain(os.Args[2:]))
	}
	os.Exit(run())
}

// config is the command line: sizes default to what fits in about five
// minutes on two cores.
type config struct {
	bin, out, perfDir, tmp string
	binShown               string // -bin as given, for the report
	rows                   map[string]bool
	keep                   bool
	keyKind                string

	blobMiB, chunkMiB int
	reps              int
	conns             int
	dur               time.Duration
	freshDur          time.Duration
	repos, tags, page int
	memBlobMiB        int
	parallelBlobMiB   int
	pulls             int
	gcRepos, gcBlobs  int
	dockerImageMiB    int
	docker            string
	peers             []peerSpec // stock registries first, then -peer flags
}

func parseFlags() (config, error) {
	var c config
	var rows string
	var extra peerFlags
	var stock bool
	flag.StringVar(&c.bin, "bin", "bin", "directory holding the built auth and registry")
	flag.StringVar(&c.out, "out", "BENCHMARKS.md", "Markdown file to write the results into (\"\" for none)")
	flag.StringVar(&rows, "rows", "1,2,3,4,5,6,7,8,9,10,11,12,13,14", "rows to run (12: S3 storage, issue 7; 13: pull-through cache, issue 14; 14: ldap_auth, issue 15)")
	flag.StringVar(&c.perfDir, "perf", "", "record perf(1) profiles of the servers per row into this directory")
	flag.StringVar(&c.tmp, "tmp", "", "parent of the scratch directory (default $TMPDIR); the disk measured")
	flag.BoolVar(&c.keep, "keep", false, "keep the scratch directory (logs, stores)")
	flag.StringVar(&c.keyKind, "token-key", "ecdsa", "token signing key: ecdsa (ES256, certgen's default) or rsa (RS256)")
	flag.IntVar(&c.blobMiB, "blob-mib", 256, "rows 1, 2: blob size in MiB")
	flag.IntVar(&c.chunkMiB, "chunk-mib", 8, "row 1: PATCH chunk size in MiB")
	flag.IntVar(&c.reps, "reps", 5, "rows 1, 2, 11: transfers per figure (the median is kept)")
	flag.IntVar(&c.conns, "conns", 50, "rows 3, 4, 6: concurrent connections")
	flag.DurationVar(&c.dur, "duration", 4*time.Second, "rows 3, 4, 6: measuring time per figure")
	flag.DurationVar(&c.freshDur, "fresh-duration", 5*time.Second, "row 5: measuring time")
	flag.IntVar(&c.repos, "repos", 10000, "row 7: repositories in the catalog")
	flag.IntVar(&c.tags, "tags", 10000, "row 7: tags in one repository")
	flag.IntVar(&c.page, "page", 100, "row 7: page size (n) of the walk")
	flag.IntVar(&c.memBlobMiB, "mem-blob-mib", 1024, "row 8: size of each pushed and pulled blob in MiB")
	flag.IntVar(&c.parallelBlobMiB, "parallel-blob-mib", 64, "row 9: blob size in MiB")
	flag.IntVar(&c.pulls, "pulls", 100, "row 9: parallel pulls")
	flag.IntVar(&c.gcRepos, "gc-repos", 1000, "row 10: repositories")
	flag.IntVar(&c.gcBlobs, "gc-blobs", 50000, "row 10: blobs")
	flag.IntVar(&c.dockerImageMiB, "docker-image-mib", 100, "row 11: image size in MiB (5 layers)")
	flag.StringVar(&c.docker, "docker", "auto", "row 11: auto (run when a Docker engine answers) or off")
	flag.BoolVar(&stock, "stock", true, "rows 1-3: measure the stock registry:3 and registry:2 beside ours (scripts/stock-registries.sh install; skipped when absent); row 12 runs registry:3 beside ours whenever it is installed")
	flag.Var(&extra, "peer", "rows 1-3: another registry to measure beside ours, as name=path[,kind=registry|zot] (repeatable; skipped when absent)")
	flag.Parse()
	c.peers = append(stockPeers(stock), extra...)
	c.rows = map[string]bool{}
	for _, r := range strings.Split(rows, ",") {
		if r = strings.TrimSpace(r); r != "" {
			c.rows[r] = true
		}
	}
	if c.blobMiB < 1 || c.chunkMiB < 1 || c.reps < 1 || c.conns < 1 || c.memBlobMiB < 1 || c.parallelBlobMiB < 1 || c.pulls < 1 {
		return c, fmt.Errorf("sizes and counts must be positive")
	}
	if c.gcBlobs < 2*c.gcRepos {
		return c, fmt.Errorf("-gc-blobs must be at least twice -gc-repos")
	}
	for _, b := range []string{"auth", "registry"} {
		if _, err := os.Stat(filepath.Join(c.bin, b)); err != nil {
			return c, fmt.Errorf("%s/%s missing: run make build (or pass -bin): %v", c.bin, b, err)
		}
	}
	c.binShown = c.bin
	if abs, err := filepath.Abs(c.bin); err == nil {
		c.bin = abs
	}
	return c, nil
}

// bench is one run: the scratch directory, the processes and what rows
// hand to later rows.
type bench struct {
	cfg    config
	dir    string
	files  *stackFiles
	auth   *proc
	reg    *proc // token auth
	open   *proc // the same store with auth off
	limits *limitServer
	data   []byte // random content, the largest blob of rows 1, 2, 9
	log    io.Writer

	adminToken string  // push and pull on bench/push and bench/app
	bigBlob    blobRef // row 1's blob, pulled by row 2
	pullRate   float64 // row 2's figure, row 9's limit
	results    []result

	peers       []*peer       // every peer, skipped ones included
	comparisons []*comparison // the side-by-side table
}

// blobRef is a blob pushed to the shared store.
type blobRef struct {
	repo string
	dgst string
	size int64
}

// row is one benchmark of the issue.
type row struct {
	id  string
	run func(b *bench) ([]result, error)
}

var rowList = []row{
	{"1", (*bench).rowPush},
	{"2", (*bench).rowPull},
	{"3", (*bench).rowManifests},
	{"4", (*bench).rowTokenCached},
	{"5", (*bench).rowTokenFresh},
	{"6", (*bench).rowTokenRefreshAnon},
	{"7", (*bench).rowListing},
	{"8", (*bench).rowMemory},
	{"9", (*bench).rowParallelPulls},
	{"10", (*bench).rowGC},
	{"11", (*bench).rowDocker},
	{"12", (*bench).rowS3},
	{"13", (*bench).rowProxy},
	{"14", (*bench).rowLDAP},
}

func run() int {
	cfg, err := parseFlags()
	if err != nil {
		fmt.Fprintln(os.Stderr, "wharfbench:", err)
		return 2
	}
	b, err := newBench(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "wharfbench:", err)
		return 1
	}
	defer b.close()
	started := time.Now()
	for _, r := range rowList {
		if !cfg.rows[r.id] {
			continue
		}
		fmt.Fprintf(b.log, "row %s ...\n", r.id)
		t := time.Now()
		b.startPerf(r.id)
		res, err := r.run(b)
		b.stopPerf()
		if err != nil {
			fmt.Fprintf(b.log, "row %s failed: %v\n", r.id, err)
			res = append(res, result{row: r.id, what: "(harness error)", verdict: failed, note: err.Error()})
		}
		for _, x := range res {
			line := fmt.Sprintf("  %s %s: %s", x.row, x.what, x.figure)
			if x.limit != "" {
				line += fmt.Sprintf(" (limit %s; %s)", x.limit, x.ratio)
			}
			fmt.Fprintln(b.log, line, x.verdict)
		}
		fmt.Fprintf(b.log, "row %s done in %.1f s\n", r.id, time.Since(t).Seconds())
		b.results = append(b.results, res...)
		if r.id == "3" || (r.id == "2" && !cfg.rows["3"]) || (r.id == "1" && !cfg.rows["2"] && !cfg.rows["3"]) {
			// No later row needs the peers: stop them, so that nothing of
			// theirs (registry:3 purges old uploads at a random minute)
			// runs beside the rows that follow.
			b.stopPeers()
		}
	}
	total := time.Since(started)
	m := describeMachine(filepath.Dir(b.dir))
	fmt.Println()
	writeTable(os.Stdout, b.results)
	if len(b.comparisons) > 0 {
		fmt.Println()
		writeCompareTable(os.Stdout, b.comparisons, b.peers)
	}
	if len(inSection(b.results, s3Section)) > 0 {
		fmt.Println()
		writeS3Table(os.Stdout, b.results)
	}
	fmt.Printf("\n%s; %d cores, %s, %s; %.0f s in all\n", summary(b.results), m.cpus, m.cpuModel, m.goVer, total.Seconds())
	if cfg.out != "" {
		if err := writeMarkdown(cfg.out, b, m, total); err != nil {
			fmt.Fprintln(os.Stderr, "wharfbench:", err)
			return 1
		}
		fmt.Println("wrote", cfg.out)
	}
	return 0
}

// newBench makes the scratch directory, keys and configs, and starts the
// token server, the registry with token auth, the same registry with auth
// off over the same store, and the limit server.
func newBench(cfg config) (*bench, error) {
	dir, err := os.MkdirTemp(cfg.tmp, "wharfbench-")
	if err != nil {
		return nil, err
	}
	b := &bench{cfg: cfg, dir: dir, log: os.Stderr}
	ok := false
	defer func() {
		if !ok {
			b.close()
		}
	}()
	if cfg.perfDir != "" {
		if err := os.MkdirAll(cfg.perfDir, 0o755); err != nil {
			return nil, err
		}
	}
	fresh := 0
	if cfg.rows["5"] {
		// Far more than bcrypt can get through in the time: each fresh
		// request must use a user not seen before.
		fresh = max(200, int(cfg.freshDur.Seconds()*200))
	}
	fmt.Fprintf(b.log, "wharfbench: scratch directory %s\n", dir)
	if b.files, err = writeStack(dir, cfg.keyKind, fresh); err != nil {
		return nil, err
	}
	b.auth, err = startProc(dir, "auth", filepath.Join(cfg.bin, "auth"), func(port int) ([]string, error) {
		return []string{"serve", b.files.authConfig}, b.files.writeAuthConfig(port)
	})
	if err != nil {
		return nil, err
	}
	store := b.storeRoot()
	if b.reg, err = b.startRegistry("registry", store, true); err != nil {
		return nil, err
	}
	if b.open, err = b.startRegistry("registry-open", store, false); err != nil {
		return nil, err
	}
	if b.limits, err = startLimits(dir); err != nil {
		return nil, err
	}
	if err := b.startPeers(); err != nil {
		return nil, err
	}
	t, _, err := fetchToken(b.auth.URL(), &b.files.admin, false, "repository:bench/push:pull,push", "repository:bench/app:pull,push")
	if err != nil {
		return nil, err
	}
	b.adminToken = t.Token
	size := max(cfg.blobMiB, cfg.parallelBlobMiB) << 20
	b.data = make([]byte, size)
	fillRandom(b.data, 1)
	ok = true
	return b, nil
}

// startRegistry starts a registry over root, with token auth or none.
func (b *bench) startRegistry(name, root string, tokenAuth bool) (*proc, error) {
	cfgFile := filepath.Join(b.dir, name+".yml")
	return startProc(b.dir, name, filepath.Join(b.cfg.bin, "registry"), func(port int) ([]string, error) {
		auth := ""
		if tokenAuth {
			auth = b.files.tokenAuthYAML(b.auth.URL() + "/auth")
		}
		return []string{"serve", cfgFile}, writeRegistryConfig(cfgFile, root, port, auth)
	})
}

func (b *bench) close() {
	b.stopPeers()
	for _, p := range []*proc{b.open, b.reg, b.auth} {
		p.stop()
	}
	b.limits.stop()
	if b.cfg.keep {
		fmt.Fprintf(b.log, "wharfbench: kept %s\n", b.dir)
		return
	}
	t := time.Now()
	if err := removeTree(b.dir); err != nil {
		fmt.Fprintf(b.log, "wharfbench: removing %s: %v\n", b.dir, err)
	}
	fmt.Fprintf(b.log, "wharfbench: removed the scratch directory in %.1f s\n", time.Since(t).Seconds())
}

// startPerf profiles the long-running servers during a row.
func (b *bench) startPerf(row string) {
	if b.cfg.perfDir == "" {
		return
	}
	for _, p := range []*proc{b.auth, b.reg, b.open} {
		p.startPerf(filepath.Join(b.cfg.perfDir, fmt.Sprintf("row%s-%s.data", row, p.name)))
	}
}

func (b *bench) stopPerf() {
	for _, p := range []*proc{b.auth, b.reg, b.open} {
		p.stopPerf()
	}
}

// perfExtra profiles a process a row started for itself; it stops with
// the process.
func (b *bench) perfExtra(p *proc, row string) {
	if b.cfg.perfDir != "" {
		p.startPerf(filepath.Join(b.cfg.perfDir, fmt.Sprintf("row%s-%s.data", row, p.name)))
	}
}

// fillRandom fills p with fast, incompressible pseudo-random bytes.
func fillRandom(p []byte, seed uint64) {
	var s [32]byte
	s[0] = byte(seed)
	s[1] = byte(seed >> 8)
	r := rand.NewChaCha8(s)
	_, _ = r.Read(p)
}

// median returns the median of xs.
func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}
