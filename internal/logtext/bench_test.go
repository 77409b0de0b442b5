package logtext

import (
	"io"
	"log/slog"
	"testing"
)

// BenchmarkRequestLine logs the token server's and the registry's lines
// with each handler.
func BenchmarkRequestLine(b *testing.B) {
	b.Run("token", func(b *testing.B) { benchLine(b, attrSets()[1]) })
	b.Run("registry", func(b *testing.B) { benchLine(b, attrSets()[2]) })
}

func benchLine(b *testing.B, attrs []slog.Attr) {
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
