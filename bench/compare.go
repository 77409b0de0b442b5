package main

import (
	"fmt"
	"io"
	"strings"
)

// comparison is a row of the side-by-side table: our figure and each
// peer's, taken in the same run with the order rotated, and our ratio to
// each. Every figure is a rate, so higher is better.
type comparison struct {
	row, what string
	ours      float64
	unit      string // "MB/s", "req/s"
	peers     map[string]float64
	// want is the ratio to registry:3 the issue asks for (0: reported).
	want float64
	// wantZot is the ratio to every zot peer in the run (0: none asked);
	// without a zot peer the row is judged on registry:3 alone.
	wantZot float64
	note    string
}

// zotToo adds the ratio every zot peer in the run must be beaten by.
func (c *comparison) zotToo(want float64) *comparison {
	c.wantZot = want
	return c
}

// peerCompare starts a comparison of our figure with each peer's.
func (b *bench) peerCompare(row, what, unit string, ours float64, want float64) *comparison {
	return &comparison{row: row, what: what, ours: ours, unit: unit, want: want, peers: map[string]float64{}}
}

// verdict judges the ratio to registry:3, when the row has a target, and
// to every zot peer measured, when the row asks for that too.
func (c *comparison) verdict(peers []*peer) verdict {
	if c.want == 0 {
		return reported
	}
	res := skipped
	for _, p := range peers {
		if p.isStockV3() {
			v, ok := c.peers[p.name]
			if !ok || v <= 0 {
				return skipped
			}
			res = judge(c.ours >= c.want*v)
		}
	}
	if res == skipped || c.wantZot == 0 {
		return res
	}
	for _, p := range peers {
		if p.kind != kindZot || p.missing != "" {
			continue
		}
		if v, ok := c.peers[p.name]; ok && v > 0 && c.ours < c.wantZot*v {
			return notMet
		}
	}
	return res
}

// target renders the row's goal.
func (c *comparison) target() string {
	if c.want == 0 {
		return "reported"
	}
	t := fmt.Sprintf("≥ %.1f× registry:3", c.want)
	if c.wantZot > 0 {
		t += fmt.Sprintf(", ≥ %.1f× zot when measured", c.wantZot)
	}
	return t
}

// fmtRate renders a rate in its unit.
func fmtRate(x float64, unit string) string {
	if unit == "MB/s" {
		return fmt.Sprintf("%.0f MB/s", x)
	}
	return thousands(x) + " " + unit
}

// writeCompareTable renders the comparisons with a column and a ratio for
// every peer, skipped ones included.
func writeCompareTable(w io.Writer, cs []*comparison, peers []*peer) {
	head := []string{"#", "what", "ours"}
	for _, p := range peers {
		head = append(head, cell(p.name), "ours / "+cell(strings.SplitN(p.name, " ", 2)[0]))
	}
	head = append(head, "target", "met?")
	fmt.Fprintf(w, "| %s |\n", strings.Join(head, " | "))
	fmt.Fprintf(w, "|%s\n", strings.Repeat("---|", len(head)))
	for _, c := range cs {
		cols := []string{c.row, cell(c.what), fmtRate(c.ours, c.unit)}
		for _, p := range peers {
			v, ok := c.peers[p.name]
			switch {
			case p.missing != "":
				cols = append(cols, "skipped (not installed)", "—")
			case !ok || v <= 0:
				cols = append(cols, "—", "—")
			default:
				cols = append(cols, fmtRate(v, c.unit), fmt.Sprintf("%.2f×", c.ours/v))
			}
		}
		cols = append(cols, c.target(), c.verdict(peers).String())
		fmt.Fprintf(w, "| %s |\n", strings.Join(cols, " | "))
	}
}

// writeCompareNotes lists the comparisons' notes and why peers were
// skipped.
func writeCompareNotes(w io.Writer, cs []*comparison, peers []*peer) {
	for _, p := range peers {
		if p.missing != "" {
			fmt.Fprintf(w, "- **%s** skipped: %s\n", p.name, p.missing)
		} else {
			fmt.Fprintf(w, "- **%s** is `%s` (kind %s)%s.\n", p.name, p.bin, p.kind, map[bool]string{true: ", serving our store as it is", false: ", with a store of its own on the same disk"}[p.sharesStore()])
		}
	}
	for _, c := range cs {
		if c.note != "" {
			fmt.Fprintf(w, "- **%s** %s\n", c.row, c.note)
		}
	}
}
