package logtext

import (
	"slices"
	"sync/atomic"
	"time"
)

// appendTime is slog's text time: RFC 3339 with exactly three digits of
// milliseconds, truncated. Lines come many a second: the text of the last
// second seen (in its location) is kept, and a time in the same second
// and location only has its milliseconds written into a copy of it.
func appendTime(b []byte, t time.Time) []byte {
	sec, loc := t.Unix(), t.Location()
	if last := lastSecond.Load(); last != nil && last.sec == sec && last.loc == loc {
		n := len(b)
		b = append(b, last.text...)
		ms := t.Nanosecond() / int(time.Millisecond)
		b[n+msAt], b[n+msAt+1], b[n+msAt+2] = byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10)
		return b
	}
	n := len(b)
	b = appendTimeSlowly(b, t)
	if text := b[n:]; len(text) > msAt+3 && text[msAt-1] == '.' { // a four-digit year
		lastSecond.Store(&secondText{sec: sec, loc: loc, text: slices.Clone(text)})
	}
	return b
}

// appendTimeSlowly is slog's own code for the text time.
func appendTimeSlowly(b []byte, t time.Time) []byte {
	const prefixLen = len("2006-01-02T15:04:05.000")
	n := len(b)
	t = t.Truncate(time.Millisecond).Add(time.Millisecond / 10)
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b[:n+prefixLen], b[n+prefixLen+1:]...) // drop the 4th digit
}

// msAt is where the milliseconds are in a text time.
const msAt = len("2006-01-02T15:04:05.")

// secondText is the text time of a moment in second sec (Unix time) in
// location loc: all of that second's but for the milliseconds.
type secondText struct {
	sec  int64
	loc  *time.Location
	text []byte
}

// lastSecond is the last second formatted.
var lastSecond atomic.Pointer[secondText]
