package reference

import (
	"math/rand/v2"
	"regexp"
	"testing"
)

// specTagRE is the tag grammar as the distribution spec writes it; ValidTag
// is a hand-written loop and must accept exactly what it accepts.
var specTagRE = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)

func TestValidTagAcceptsExactlyTheSpecGrammar(t *testing.T) {
	valid, invalid := []byte("aZ09_.-"), []byte(":/ \x00\n\xff+@")
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 200000 {
		n := r.IntN(MaxTagLength + 3) // long tags, around the length limit too
		if i%4 == 0 {
			n = r.IntN(4) // short ones, where the first character decides
		}
		b := make([]byte, n)
		for j := range b {
			if r.IntN(200) == 0 {
				b[j] = invalid[r.IntN(len(invalid))]
			} else {
				b[j] = valid[r.IntN(len(valid))]
			}
		}
		tag := string(b)
		if got, want := ValidTag(tag), specTagRE.MatchString(tag); got != want {
			t.Fatalf("ValidTag(%q) = %v, the spec's grammar says %v", tag, got, want)
		}
	}
}
