// Package logtext is a slog.Handler whose output is byte for byte that of
// slog.NewTextHandler, written with less work per record.
//
// Both programs write one line per request, and on the token server's
// hottest path (a CI fleet asking again and again for the same token) the
// standard handler's generic machinery cost about a tenth of the request.
// This handler formats the kinds those lines use (strings, numbers, bools,
// durations, times, values with MarshalText) directly into a pooled
// buffer. Everything else (groups, LogValuers, other values, empty keys, a
// value that panics) is handed, record by record, to a real TextHandler on
// the same writer, so the output never differs: the tests compare the two
// over many records and a fuzz target.
//
// Each record is one Write under the handler's lock before Handle returns,
// so a request's line is on its way before its response is; on a
// GroupWriter (which keeps lines whole itself) without the lock, so a
// line may instead be queued for the write in progress.
package logtext

import (
	"context"
	"encoding"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// NewHandler returns a handler writing to w what slog.NewTextHandler(w,
// opts) would. Options other than Level (AddSource, ReplaceAttr) are not
// worth a second implementation: with them it returns the standard
// handler itself.
func NewHandler(w io.Writer, opts *slog.HandlerOptions) slog.Handler {
	if opts == nil {
		opts = &slog.HandlerOptions{}
	}
	if opts.AddSource || opts.ReplaceAttr != nil {
		return slog.NewTextHandler(w, opts)
	}
	out := &output{w: w}
	_, out.group = w.(*GroupWriter)
	level := opts.Level
	if level == nil {
		level = slog.LevelInfo
	}
	return &handler{
		out:   out,
		level: level,
		std:   slog.NewTextHandler(lockedWriter{out}, &slog.HandlerOptions{Level: level}),
	}
}

// output is the writer all handlers derived from one NewHandler share,
// with the lock that keeps their lines whole.
type output struct {
	mu sync.Mutex
	w  io.Writer
	// group is set when w is a *GroupWriter: it keeps lines whole and in
	// order itself, and holding mu while it writes others' lines too
	// would make them queue again.
	group bool
}

// write writes one whole line.
func (o *output) write(p []byte) (int, error) {
	if o.group {
		return o.w.Write(p)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.w.Write(p)
}

// lockedWriter lets the standard handler write through output, so its
// lines and ours never interleave whatever w is.
type lockedWriter struct{ out *output }

func (l lockedWriter) Write(p []byte) (int, error) { return l.out.write(p) }

type handler struct {
	out   *output
	level slog.Leveler
	// pre is the attributes of WithAttrs, formatted, each with its
	// leading space.
	pre []byte
	// std is a standard TextHandler with the same attributes and groups:
	// it renders every record this handler does not.
	std slog.Handler
	// grouped is set once WithGroup (or an attribute only std can format)
	// was added: from then on std renders everything.
	grouped bool
}

// Enabled reports whether level is at least the handler's level, as
// slog's TextHandler does.
func (h *handler) Enabled(_ context.Context, level slog.Level) bool {
	return level >= h.level.Level()
}

// WithAttrs returns a handler that adds as to every record.
func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	h2 := *h
	h2.std = h.std.WithAttrs(as)
	if h.grouped {
		return &h2
	}
	pre := append([]byte(nil), h.pre...)
	for _, a := range as {
		var ok bool
		if pre, ok = appendAttr(pre, a); !ok {
			h2.grouped, h2.pre = true, nil
			return &h2
		}
	}
	h2.pre = pre
	return &h2
}

// WithGroup returns a handler that puts later attributes in group name
// (even "", which slog's handler renders as a "." prefix); the standard
// handler formats those.
func (h *handler) WithGroup(name string) slog.Handler {
	h2 := *h
	h2.std = h.std.WithGroup(name)
	h2.grouped, h2.pre = true, nil
	return &h2
}

// bufs hold lines while they are formatted; a request line is a few
// hundred bytes.
var bufs = sync.Pool{New: func() any {
	b := make([]byte, 0, 1<<10)
	return &b
}}

// maxPooled keeps a rare huge line (a stack trace) from staying pooled.
const maxPooled = 64 << 10

// Handle writes r as one line.
func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	if h.grouped {
		return h.std.Handle(ctx, r)
	}
	bp := bufs.Get().(*[]byte)
	b, ok := h.format((*bp)[:0], r)
	if err := h.writeLine(bp, b, ok); ok {
		return err
	}
	return h.std.Handle(ctx, r)
}

// writeLine writes the line b formatted in *bp's buffer when ok (else the
// standard handler will), and gives the buffer back to the pool.
func (h *handler) writeLine(bp *[]byte, b []byte, ok bool) (err error) {
	if ok {
		_, err = h.out.write(b)
	}
	if cap(b) <= maxPooled {
		*bp = b[:0]
		bufs.Put(bp)
	}
	return err
}

// HandleAttrs writes, when h is one of this package's handlers, what
// h.Handle writes for the record slog.NewRecord(t, level, msg, pc) with
// attrs added, without building that record: a Record keeps five
// attributes in place and copies the others into a slice of its own, for
// every line. For any other handler it writes nothing and reports false.
// It is a function, not a method of an interface, because a slice handed
// to an interface's method is moved to the heap: the caller's attributes
// can stay on its stack.
func HandleAttrs(ctx context.Context, h slog.Handler, t time.Time, level slog.Level, msg string, pc uintptr, attrs []slog.Attr) (bool, error) {
	lh, ok := h.(*handler)
	if !ok {
		return false, nil
	}
	return true, lh.handleAttrs(ctx, t, level, msg, pc, attrs)
}

func (h *handler) handleAttrs(ctx context.Context, t time.Time, level slog.Level, msg string, pc uintptr, attrs []slog.Attr) error {
	if !h.grouped {
		bp := bufs.Get().(*[]byte)
		b := h.head((*bp)[:0], t, level, msg)
		ok := true
		for _, a := range attrs {
			if b, ok = appendAttr(b, a); !ok {
				break
			}
		}
		if err := h.writeLine(bp, append(b, '\n'), ok); ok {
			return err
		}
	}
	r := slog.NewRecord(t, level, msg, pc)
	r.AddAttrs(attrs...)
	return h.Handle(ctx, r)
}

// format appends the line for r, or reports false when one of its
// attributes needs the standard handler.
func (h *handler) format(b []byte, r slog.Record) ([]byte, bool) {
	b = h.head(b, r.Time, r.Level, r.Message)
	ok := true
	r.Attrs(func(a slog.Attr) bool {
		b, ok = appendAttr(b, a)
		return ok
	})
	return append(b, '\n'), ok
}

// head appends the line's time, level and message, then the attributes
// of WithAttrs.
func (h *handler) head(b []byte, t time.Time, level slog.Level, msg string) []byte {
	if !t.IsZero() {
		b = append(b, "time="...)
		b = appendTime(b, t.Round(0))
		b = append(b, ' ')
	}
	b = append(b, "level="...)
	b = appendString(b, level.String())
	b = append(b, " msg="...)
	b = appendString(b, msg)
	return append(b, h.pre...)
}

// appendAttr appends " key=value", or reports false for what only the
// standard handler formats.
func appendAttr(b []byte, a slog.Attr) ([]byte, bool) {
	if a.Key == "" { // elided or inlined by slog's own rules
		return b, false
	}
	b = append(b, ' ')
	b = appendString(b, a.Key)
	b = append(b, '=')
	v := a.Value
	switch v.Kind() {
	case slog.KindString:
		b = appendString(b, v.String())
	case slog.KindInt64:
		b = strconv.AppendInt(b, v.Int64(), 10)
	case slog.KindUint64:
		b = strconv.AppendUint(b, v.Uint64(), 10)
	case slog.KindFloat64:
		b = strconv.AppendFloat(b, v.Float64(), 'g', -1, 64)
	case slog.KindBool:
		b = strconv.AppendBool(b, v.Bool())
	case slog.KindDuration:
		b = append(b, v.Duration().String()...)
	case slog.KindTime:
		b = appendTime(b, v.Time())
	case slog.KindAny:
		if ta, isTA := v.Any().(TextAppender); isTA {
			return appendText(b, ta)
		}
		tm, isTM := v.Any().(encoding.TextMarshaler)
		if !isTM {
			return b, false
		}
		data, err, ok := marshalText(tm)
		if !ok {
			return b, false
		}
		if err != nil {
			return appendString(b, fmt.Sprintf("!ERROR:%v", err)), true
		}
		b = appendString(b, string(data))
	default: // groups and LogValuers
		return b, false
	}
	return b, true
}

// marshalText calls MarshalText; ok is false when it panicked, which the
// standard handler renders its own way.
func marshalText(tm encoding.TextMarshaler) (data []byte, err error, ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	data, err = tm.MarshalText()
	return data, err, true
}

// TextAppender is a value with MarshalText that can append the same text
// in place: AppendLogText(b) appends exactly the bytes MarshalText returns,
// which must never fail. This handler calls it, saving MarshalText's
// allocation for every line; slog's handler, and the fallback to it, call
// MarshalText.
type TextAppender interface {
	encoding.TextMarshaler
	AppendLogText(b []byte) []byte
}

// appendText appends ta's text as appendString would append the string of
// its MarshalText; false when AppendLogText panicked (slog's handler then
// renders MarshalText's panic its own way).
func appendText(b []byte, ta TextAppender) (out []byte, ok bool) {
	n := len(b)
	defer func() {
		if recover() != nil {
			out, ok = b[:n], false
		}
	}()
	b = ta.AppendLogText(b)
	if text := b[n:]; needsQuotingBytes(text) {
		return strconv.AppendQuote(b[:n], string(text)), true
	}
	return b, true
}

// appendString appends s as slog's text handler does: as it is, or
// quoted by strconv when it is empty or holds a space, '=', a quote, a
// control character or anything not printable.
func appendString(b []byte, s string) []byte {
	if needsQuoting(s) {
		return strconv.AppendQuote(b, s)
	}
	return append(b, s...)
}

func needsQuoting(s string) bool {
	if len(s) == 0 {
		return true
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if !plain[c] {
				return true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return true
		}
		i += size
	}
	return false
}

// needsQuotingBytes is needsQuoting(string(b)), without the copy when b
// is ASCII.
func needsQuotingBytes(b []byte) bool {
	if len(b) == 0 {
		return true
	}
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return needsQuoting(string(b))
		}
		if !plain[c] {
			return true
		}
	}
	return false
}

// plain marks the ASCII bytes slog leaves unquoted: those JSON needs no
// escape for (from the space up, DEL included, but the quote and the
// backslash), less the space and '=', plus the backslash.
var plain = func() (t [utf8.RuneSelf]bool) {
	for c := 0x21; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '='
	}
	return t
}()
