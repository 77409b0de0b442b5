package acl

import (
	"regexp/syntax"
	"slices"
	"unicode/utf8"
)

// MayPullBelow reports whether a could grant pull on some repository whose
// name starts with prefix, whoever asks. The catalog uses it to skip whole
// directories of repositories none of which may be listed: with 10,000
// repositories and a user allowed 100, the walk then reads the
// directories it may list instead of all of them.
//
// The answer errs only towards true: conditions other than the name are
// taken as possibly holding, a pattern with placeholders as possibly
// matching, and a regexp's anchors other than ^ and $ (\b, (?m)^) as
// possibly satisfied. A deny that matches every request ends the search.
func (a *ACL) MayPullBelow(prefix string) bool {
	if a == nil {
		return false
	}
	for _, r := range a.rules {
		p := r.conds[fieldName]
		if (r.all || slices.Contains(r.actions, "pull")) && (p == nil || p.mayMatchBelow(prefix)) {
			return true
		}
		if r.matchesEverything() {
			return false // a deny for everything: nothing below is ever granted
		}
	}
	return false
}

// matchesEverything reports whether r has no condition at all.
func (r *rule) matchesEverything() bool {
	return !r.hasIP && len(r.labels) == 0 && r.conds == [numFields]*pattern{}
}

// mayMatchBelow reports whether p may match some string starting with
// prefix. Patterns with placeholders, and regexps not anchored at the
// start (they match anywhere in the rest of the name), may.
func (p *pattern) mayMatchBelow(prefix string) bool {
	if p.re == nil {
		return true
	}
	p.progOnce.Do(func() {
		re, err := syntax.Parse(p.re.String(), syntax.Perl)
		if err != nil {
			return
		}
		prog, err := syntax.Compile(re.Simplify())
		if err != nil || prog.StartCond()&syntax.EmptyBeginText == 0 {
			return
		}
		p.prog = prog
	})
	if p.prog == nil {
		return true
	}
	return viable(p.prog, prefix)
}

// viable runs prog, a start-anchored regexp program, over prefix as an NFA
// and reports whether some string starting with prefix could still match:
// a thread is alive after the whole prefix, or the program matched a part
// of it already (with no $ in the way, so any continuation matches too).
// $ holds only at the end of the prefix, where the string might end.
func viable(prog *syntax.Prog, prefix string) bool {
	cur, next := newThreads(len(prog.Inst)), newThreads(len(prog.Inst))
	if cur.add(prog, uint32(prog.Start), 0, len(prefix) == 0) {
		return true
	}
	for pos, r := range prefix {
		atEnd := pos+utf8.RuneLen(r) >= len(prefix)
		next.clear()
		for _, pc := range cur.list {
			inst := &prog.Inst[pc]
			switch inst.Op {
			case syntax.InstRune, syntax.InstRune1, syntax.InstRuneAny, syntax.InstRuneAnyNotNL:
				if inst.MatchRune(r) && next.add(prog, inst.Out, pos+1, atEnd) {
					return true
				}
			}
		}
		cur, next = next, cur
		if len(cur.list) == 0 {
			return false
		}
	}
	return true
}

// threads is the set of rune-consuming instructions the NFA is at.
type threads struct {
	list    []uint32 // the rune-consuming instructions reached
	seen    []bool
	visited []uint32 // every instruction marked in seen, to clear them
}

func newThreads(n int) *threads { return &threads{seen: make([]bool, n)} }

func (t *threads) clear() {
	for _, pc := range t.visited {
		t.seen[pc] = false
	}
	t.list, t.visited = t.list[:0], t.visited[:0]
}

// add follows pc through the instructions that consume nothing and keeps
// the ones that consume a rune. It reports whether a match was reached.
func (t *threads) add(prog *syntax.Prog, pc uint32, pos int, atEnd bool) bool {
	if t.seen[pc] {
		return false
	}
	t.seen[pc] = true
	t.visited = append(t.visited, pc)
	inst := &prog.Inst[pc]
	switch inst.Op {
	case syntax.InstMatch:
		return true
	case syntax.InstFail:
		return false
	case syntax.InstAlt, syntax.InstAltMatch:
		return t.add(prog, inst.Out, pos, atEnd) || t.add(prog, inst.Arg, pos, atEnd)
	case syntax.InstCapture, syntax.InstNop:
		return t.add(prog, inst.Out, pos, atEnd)
	case syntax.InstEmptyWidth:
		op := syntax.EmptyOp(inst.Arg)
		if op&syntax.EmptyBeginText != 0 && pos != 0 || op&syntax.EmptyEndText != 0 && !atEnd {
			return false
		}
		return t.add(prog, inst.Out, pos, atEnd)
	}
	t.list = append(t.list, pc)
	return false
}
