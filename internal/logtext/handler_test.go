package logtext

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// oddStrings are strings on every side of slog's quoting rules.
var oddStrings = []string{
	"", "a", "token request", "a=b", "=", `"`, `a"b`, `\`, `a\b`, "tab\there", "nl\n", "cr\r",
	"\x00", "\x1f", "\x7f", "~!#$%&'()*+,-./:;<>?@[]^_`{|}", "repository:bench/app:pull",
	"[repository:a:pull repository:b:push]", "ünïcödé", "日本語", "\u00a0", "\u2028", "\u200b",
	"\ufffd", "\xff", "a\xc3", "\xed\xa0\x80", "emoji 🐳", "\U0010ffff", strings.Repeat("x", 3000),
	"10.0.0.1", "[::1]:5000", "-1", "true", "null",
}

// textList renders like the token server's lists: MarshalText.
type textList []string

func (l textList) MarshalText() ([]byte, error) {
	return []byte("[" + strings.Join(l, " ") + "]"), nil
}

// appendedList is textList appending its text in place too, as the token
// server's lists do (TextAppender).
type appendedList []string

func (l appendedList) MarshalText() ([]byte, error) { return l.AppendLogText(nil), nil }

func (l appendedList) AppendLogText(b []byte) []byte {
	return append(append(append(b, '['), strings.Join(l, " ")...), ']')
}

type panicAppender struct{}

func (panicAppender) MarshalText() ([]byte, error) { panic("boom") }
func (panicAppender) AppendLogText([]byte) []byte  { panic("boom") }

type failingText struct{}

func (failingText) MarshalText() ([]byte, error) { return nil, errors.New("no text = here") }

type ptrText struct{ s string }

func (p *ptrText) MarshalText() ([]byte, error) { return []byte(p.s), nil }

type panicText struct{}

func (panicText) MarshalText() ([]byte, error) { panic("boom") }

type valuer struct{}

func (valuer) LogValue() slog.Value { return slog.StringValue("resolved value") }

// attrSets are records' attributes: the request lines of both programs and
// every kind slog knows.
func attrSets() [][]slog.Attr {
	at := time.Date(2026, 12, 3, 11, 42, 0, 123456789, time.FixedZone("X", 5*3600+1800))
	sets := [][]slog.Attr{
		nil,
		{ // the token server's line (internal/authserver/logline.go)
			slog.String("method", "GET"), slog.Int("status", 200), slog.String("grant", "basic"),
			slog.String("account", "ci"), slog.String("service", "registry.example"),
			slog.String("client_id", ""), slog.String("client_ip", "127.0.0.1"),
			slog.Any("scopes_asked", textList{"repository:bench/app:pull"}),
			slog.Any("scopes_granted", textList{"repository:bench/app:pull"}),
			slog.Any("rules", textList{"0"}), slog.Bool("reused", true),
			slog.Float64("latency_ms", 0.042), slog.String("reason", "wrong password"),
		},
		{ // the registry's access line (internal/regserver/log.go)
			slog.String("id", "f3a9"), slog.String("method", "HEAD"), slog.String("path", "/v2/a/manifests/latest"),
			slog.Int64("bytes_in", 0), slog.Int64("bytes_out", 1234), slog.Duration("duration", 1234567*time.Nanosecond),
			slog.String("user_agent", "docker/27.0 go/go1.22 (linux)"),
		},
		{
			slog.Int64("min", math.MinInt64), slog.Uint64("max", math.MaxUint64), slog.Float64("nan", math.NaN()),
			slog.Float64("inf", math.Inf(-1)), slog.Float64("tiny", 5e-324), slog.Float64("big", 1e21),
			slog.Float64("negzero", math.Copysign(0, -1)), slog.Bool("f", false), slog.Duration("d", -time.Hour),
			slog.Time("t", at), slog.Time("zero", time.Time{}), slog.Time("utc", at.UTC()),
		},
		{slog.Any("err", failingText{}), slog.Any("ip", netip.MustParseAddr("::ffff:10.0.0.1"))},
		// What only the standard handler formats, so it renders it.
		{slog.String("a", "b"), slog.Any("nilptr", (*ptrText)(nil))},
		{slog.Any("panics", panicText{}), slog.String("after", "x")},
		{slog.String("before", "x"), slog.Any("panics", panicAppender{}), slog.String("after", "x")},
		{slog.Any("err", errors.New("plain error")), slog.Any("list", []string{"a b", "c"})},
		{slog.Any("bytes", []byte("by\ttes")), slog.Any("nil", nil)},
		{slog.Any("v", valuer{}), slog.Group("g", slog.String("k", "v"), slog.Int("n", 1))},
		{slog.Group("", slog.String("inlined", "yes")), slog.Group("empty")},
		{{}, slog.String("", "empty key"), slog.Any("", nil)},
		{slog.Any("ptr", &ptrText{"pointer text"}), slog.Any("map", map[string]int{"a": 1})},
	}
	for _, s := range oddStrings {
		sets = append(sets, []slog.Attr{
			slog.String(s, s), slog.String("v", s), slog.Any("text", textList{s, s}), slog.Any("m", &ptrText{s}),
			slog.Any("appended", appendedList{s}), slog.Any("appended2", appendedList{s, s}),
		})
	}
	return sets
}

// chains are handler derivations: attributes and groups added first.
var chains = []struct {
	name string
	make func(slog.Handler) slog.Handler
}{
	{"plain", func(h slog.Handler) slog.Handler { return h }},
	{"with attrs", func(h slog.Handler) slog.Handler {
		return h.WithAttrs([]slog.Attr{slog.String("instance", "a b"), slog.Int("n", 3)}).WithAttrs(nil).
			WithAttrs([]slog.Attr{slog.String("environment", "prod")})
	}},
	{"with odd attrs", func(h slog.Handler) slog.Handler {
		return h.WithAttrs([]slog.Attr{slog.Any("err", errors.New("x")), slog.Group("", slog.String("k", "v"))})
	}},
	{"with empty group name", func(h slog.Handler) slog.Handler { return h.WithGroup("") }},
	{"with group", func(h slog.Handler) slog.Handler {
		return h.WithAttrs([]slog.Attr{slog.String("before", "1")}).WithGroup("req").
			WithAttrs([]slog.Attr{slog.String("after", "2")})
	}},
}

// render formats r with h into a fresh writer through make.
func render(t *testing.T, newHandler func(*bytes.Buffer) slog.Handler, make func(slog.Handler) slog.Handler, r slog.Record) string {
	t.Helper()
	var buf bytes.Buffer
	if err := make(newHandler(&buf)).Handle(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// renderAttrs formats a record's parts with our handler's HandleAttrs.
func renderAttrs(t *testing.T, make func(slog.Handler) slog.Handler, tm time.Time, level slog.Level, msg string, attrs []slog.Attr) string {
	t.Helper()
	var buf bytes.Buffer
	ok, err := HandleAttrs(context.Background(), make(NewHandler(&buf, nil)), tm, level, msg, 0, attrs)
	if !ok || err != nil {
		t.Fatalf("a derived handler: HandleAttrs = %v, %v", ok, err)
	}
	return buf.String()
}

func ours(w *bytes.Buffer) slog.Handler   { return NewHandler(w, nil) }
func stdlib(w *bytes.Buffer) slog.Handler { return slog.NewTextHandler(w, nil) }

func TestLinesAreByteForByteSlogTextHandlers(t *testing.T) {
	times := []time.Time{
		time.Date(2026, 12, 3, 11, 42, 0, 999999999, time.UTC),
		time.Date(1999, 1, 2, 3, 4, 5, 0, time.FixedZone("W", -7*3600)),
		time.Now(), // local zone, monotonic clock reading
		{},
	}
	levels := []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError, slog.LevelInfo + 2, slog.LevelError + 100}
	n := 0
	for _, c := range chains {
		for i, attrs := range attrSets() {
			for j, msg := range append([]string{"token request", "request"}, oddStrings...) {
				tm := times[(i+j)%len(times)]
				r := slog.NewRecord(tm, levels[(i+j)%len(levels)], msg, 0)
				r.AddAttrs(attrs...)
				got := render(t, ours, c.make, r.Clone())
				want := render(t, stdlib, c.make, r.Clone())
				if got != want {
					t.Fatalf("%s, attrs %d, message %q:\n got %q\nwant %q", c.name, i, msg, got, want)
				}
				if got := renderAttrs(t, c.make, tm, r.Level, msg, attrs); got != want {
					t.Fatalf("HandleAttrs, %s, attrs %d, message %q:\n got %q\nwant %q", c.name, i, msg, got, want)
				}
				n++
			}
		}
	}
	t.Logf("%d records compared", n)
}

// The request lines take the fast path: the test above would pass with a
// handler that always defers to slog's.
func TestRequestLinesAreFormattedWithoutSlogsHandler(t *testing.T) {
	sets := attrSets()
	fast := slices.Clone(sets[:5])
	for i, s := range oddStrings {
		if s != "" { // an empty key is slog's to render
			fast = append(fast, sets[len(sets)-len(oddStrings)+i])
		}
	}
	for i, attrs := range fast {
		r := slog.NewRecord(time.Now(), slog.LevelInfo, "token request", 0)
		r.AddAttrs(attrs...)
		h := NewHandler(&bytes.Buffer{}, nil).WithAttrs([]slog.Attr{slog.String("instance", "x")}).(*handler)
		if _, ok := h.format(nil, r); !ok || h.grouped {
			t.Errorf("attribute set %d went to slog's handler", i)
		}
	}
}

// The token server's line through HandleAttrs, its lists appending
// themselves, allocates nothing: no Record's slice of attributes, no
// MarshalText.
func TestRequestLineThroughHandleAttrsAllocatesNothing(t *testing.T) {
	attrs := []slog.Attr{
		slog.String("method", "GET"), slog.Int("status", 200), slog.String("grant", "basic"),
		slog.String("account", "ci"), slog.String("service", "registry.example"),
		slog.String("client_id", ""), slog.String("client_ip", "127.0.0.1"),
		slog.Any("scopes_asked", appendedList{"repository:bench/app:pull"}),
		slog.Any("scopes_granted", appendedList{"repository:bench/app:pull"}),
		slog.Any("rules", appendedList{"0"}), slog.Bool("reused", true), slog.Float64("latency_ms", 0.042),
	}
	h := NewHandler(io.Discard, nil)
	at := time.Date(2026, 12, 3, 11, 42, 0, 123456789, time.UTC)
	if ok, _ := HandleAttrs(context.Background(), slog.NewTextHandler(io.Discard, nil), at, slog.LevelInfo, "m", 0, attrs); ok {
		t.Error("HandleAttrs took slog's own handler for one of ours")
	}
	if n := testing.AllocsPerRun(100, func() {
		_, _ = HandleAttrs(context.Background(), h, at, slog.LevelInfo, "token request", 0, attrs)
	}); n != 0 {
		t.Errorf("%v allocations per line, want 0", n)
	}
}

// Many lines a second share the text of that second: the milliseconds,
// the zone and the year still come out as slog's, whatever came before.
func TestTimesOfOneSecondAsSlogs(t *testing.T) {
	base := time.Date(2026, 12, 3, 11, 42, 7, 0, time.UTC)
	zones := []*time.Location{time.UTC, time.FixedZone("A", 5*3600+1800), time.FixedZone("B", -7*3600), time.Local}
	var times []time.Time
	for _, ns := range []int{0, 999_999, 1_000_000, 42_123_456, 500_000_000, 999_000_000, 999_999_999} {
		for _, z := range zones {
			times = append(times, base.Add(time.Duration(ns)).In(z))
		}
	}
	times = append(times, base.Add(time.Second), base.Add(-time.Second), base.Add(-1), time.Date(12026, 1, 1, 0, 0, 0, 5e6, time.UTC),
		time.Date(-5, 1, 1, 0, 0, 0, 7e6, time.UTC), time.Date(999, 1, 1, 0, 0, 0, 8e6, time.UTC), time.Unix(-1, 123e6), time.Unix(0, 0))
	backward := slices.Clone(times)
	slices.Reverse(backward)
	for _, order := range [][]time.Time{times, backward} {
		for _, tm := range order {
			r := slog.NewRecord(tm, slog.LevelInfo, "m", 0)
			r.AddAttrs(slog.Time("at", tm))
			if got, want := render(t, ours, chains[0].make, r.Clone()), render(t, stdlib, chains[0].make, r.Clone()); got != want {
				t.Errorf("%v:\n got %q\nwant %q", tm, got, want)
			}
		}
	}
}

func TestLevelAndOptionsAsSlogs(t *testing.T) {
	var lv slog.LevelVar
	lv.Set(slog.LevelWarn)
	h := NewHandler(&bytes.Buffer{}, &slog.HandlerOptions{Level: &lv})
	std := slog.NewTextHandler(&bytes.Buffer{}, &slog.HandlerOptions{Level: &lv})
	for _, l := range []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError} {
		if h.Enabled(context.Background(), l) != std.Enabled(context.Background(), l) {
			t.Errorf("level %v: enabled %v, slog says otherwise", l, h.Enabled(context.Background(), l))
		}
	}
	if !NewHandler(&bytes.Buffer{}, nil).Enabled(context.Background(), slog.LevelInfo) ||
		NewHandler(&bytes.Buffer{}, nil).Enabled(context.Background(), slog.LevelDebug) {
		t.Error("without options the level is not INFO")
	}
	if _, ok := NewHandler(&bytes.Buffer{}, &slog.HandlerOptions{AddSource: true}).(*slog.TextHandler); !ok {
		t.Error("AddSource is not handed to slog's own handler")
	}
}

// lineWriter fails the test when a Write is not one whole line, or when
// two run at once.
type lineWriter struct {
	t     *testing.T
	mu    sync.Mutex
	busy  bool
	lines int
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	if w.busy {
		w.t.Error("two writes at once")
	}
	w.busy = true
	w.mu.Unlock()
	if bytes.IndexByte(p, '\n') != len(p)-1 {
		w.t.Errorf("write of %q is not one line", p)
	}
	w.mu.Lock()
	w.busy = false
	w.lines++
	w.mu.Unlock()
	return len(p), nil
}

func TestConcurrentRecordsAreWholeLines(t *testing.T) {
	w := &lineWriter{t: t}
	log := slog.New(NewHandler(w, nil))
	grouped := log.WithGroup("g")
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				log.Info("fast", "g", g, "i", i)
				grouped.Info("slow", "g", g) // through slog's handler
				log.Info("fallback", "err", fmt.Errorf("e%d", i))
			}
		}()
	}
	wg.Wait()
	if w.lines != 8*200*3 {
		t.Errorf("%d lines written, want %d", w.lines, 8*200*3)
	}
}
