package decoy

import (
	"bytes"
	"fmt"
	"math"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// hashes returns users' hashes: n of each cost.
func hashes(t *testing.T, perCost map[int]int) [][]byte {
	t.Helper()
	var out [][]byte
	for c, n := range perCost {
		h, err := bcrypt.GenerateFromPassword([]byte("pw"), c)
		if err != nil {
			t.Fatal(err)
		}
		for range n {
			out = append(out, h)
		}
	}
	return out
}

// An unknown name is compared with a decoy of one of the users' bcrypt
// costs, always the same for that name, and across names the costs come in
// the proportions the users have them, so no cost marks a name as unknown.
func TestUnknownNamesGetTheUsersCostsInProportion(t *testing.T) {
	tests := []struct {
		costs map[int]int // users per cost
		want  map[int]float64
	}{
		{map[int]int{}, map[int]float64{bcrypt.DefaultCost: 1}},
		{map[int]int{5: 3}, map[int]float64{5: 1}},
		{map[int]int{4: 2, 6: 1}, map[int]float64{4: 2.0 / 3, 6: 1.0 / 3}},
	}
	const names = 3000
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.costs), func(t *testing.T) {
			s, err := New(append(hashes(t, tt.costs), []byte("not a bcrypt hash")))
			if err != nil {
				t.Fatal(err)
			}
			got := map[int]int{}
			for i := range names {
				name := fmt.Sprintf("user%d", i)
				h := s.For(name)
				if !bytes.Equal(h, s.For(name)) {
					t.Fatalf("%s got two different decoys", name)
				}
				c, err := bcrypt.Cost(h)
				if err != nil {
					t.Fatal(err)
				}
				got[c]++
			}
			if len(got) != len(tt.want) {
				t.Fatalf("costs %v, want %v", got, tt.want)
			}
			// 3000 names: 5 points is over five standard deviations.
			for c, share := range tt.want {
				if s := float64(got[c]) / names; math.Abs(s-share) > 0.05 {
					t.Errorf("cost %d for %.2f of unknown names, want %.2f", c, s, share)
				}
			}
		})
	}
}

func TestNoPasswordOpensADecoy(t *testing.T) {
	s, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, pw := range []string{"", "pw", "dummy", "password"} {
		if bcrypt.CompareHashAndPassword(s.For("nobody"), []byte(pw)) == nil {
			t.Errorf("password %q opens the decoy", pw)
		}
	}
}
