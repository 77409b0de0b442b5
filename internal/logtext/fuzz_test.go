package logtext

import (
	"log/slog"
	"testing"
	"time"
)

// FuzzLinesAreByteForByteSlogs compares the two handlers on records made
// of arbitrary strings and numbers, through a WithAttrs of the same.
func FuzzLinesAreByteForByteSlogs(f *testing.F) {
	for _, s := range oddStrings {
		f.Add(s, s, "token request", int64(-1), 0.5, true, int64(1764762120123456789))
	}
	f.Fuzz(func(t *testing.T, key, value, msg string, n int64, x float64, b bool, nanos int64) {
		r := slog.NewRecord(time.Unix(0, nanos), slog.Level(n%20), msg, 0)
		attrs := []slog.Attr{slog.String(key, value), slog.String("v", value), slog.Int64(key, n),
			slog.Uint64("u", uint64(n)), slog.Float64(key, x), slog.Bool("b", b),
			slog.Duration("d", time.Duration(n)), slog.Time("t", time.Unix(0, n)),
			slog.Any(key, textList{key, value}), slog.Any(value, appendedList{key, value})}
		r.AddAttrs(attrs...)
		with := func(h slog.Handler) slog.Handler {
			return h.WithAttrs([]slog.Attr{slog.String(value, key), slog.Float64("x", x)})
		}
		got := render(t, ours, with, r.Clone())
		want := render(t, stdlib, with, r.Clone())
		if got != want {
			t.Fatalf("\n got %q\nwant %q", got, want)
		}
		if got := renderAttrs(t, with, r.Time, r.Level, msg, attrs); got != want {
			t.Fatalf("HandleAttrs:\n got %q\nwant %q", got, want)
		}
	})
}
