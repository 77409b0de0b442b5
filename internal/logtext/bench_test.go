package logtext

import (
	"io"
	"log/slog"
	"testing"
)

// BenchmarkRequestLine logs the token server's line with each handler.
func BenchmarkRequestLine(b *testing.B) {
	attrs := attrSets()[1]
	for _, c := range []struct {
		name string
		h    slog.Handler
	}{{"logtext", NewHandler(io.Discard, nil)}, {"slog", slog.NewTextHandler(io.Discard, nil)}} {
		b.Run(c.name, func(b *testing.B) {
			log := slog.New(c.h)
			b.ReportAllocs()
			for b.Loop() {
				log.LogAttrs(b.Context(), slog.LevelInfo, "token request", attrs...)
			}
		})
	}
}
