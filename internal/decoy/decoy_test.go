package decoy

import (
	"fmt"
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

func cost(t *testing.T, h []byte) int {
	t.Helper()
	c, err := bcrypt.Cost(h)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Whatever the mix of costs, an unknown name costs a check at the
// costliest one, and a failure at any cost is topped up to the same work:
// bcrypt's work is 2^cost, so the top-up's work plus the user's own must
// be 2^max.
func TestEveryFailureCostsTheCostliestCheck(t *testing.T) {
	tests := []struct {
		costs   map[int]int // users per cost
		wantMax int
	}{
		{map[int]int{}, bcrypt.DefaultCost},
		{map[int]int{5: 3}, 5},
		{map[int]int{4: 20, 7: 1}, 7},
		{map[int]int{4: 2, 5: 1, 8: 1}, 8},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.costs), func(t *testing.T) {
			users := hashes(t, tt.costs)
			s, err := New(append(users, []byte("not a bcrypt hash")))
			if err != nil {
				t.Fatal(err)
			}
			if got := cost(t, s.Max()); got != tt.wantMax || s.MaxCost() != tt.wantMax {
				t.Fatalf("unknown names get a cost-%d decoy (MaxCost %d), want %d", got, s.MaxCost(), tt.wantMax)
			}
			for _, h := range append(users, s.Max()) {
				work := 1 << cost(t, h)
				for _, d := range s.TopUp(h) {
					work += 1 << cost(t, d)
				}
				if work != 1<<tt.wantMax {
					t.Errorf("a failure against a cost-%d hash does 2^%d-equivalent work %d, want %d", cost(t, h), tt.wantMax, work, 1<<tt.wantMax)
				}
			}
		})
	}
}

func TestNoPasswordOpensADecoy(t *testing.T) {
	s, err := New(hashes(t, map[int]int{4: 1, 6: 1}))
	if err != nil {
		t.Fatal(err)
	}
	decoys := append([][]byte{s.Max()}, s.TopUp(s.byCost[4])...)
	for _, pw := range []string{"", "pw", "dummy", "password"} {
		for _, d := range decoys {
			if bcrypt.CompareHashAndPassword(d, []byte(pw)) == nil {
				t.Errorf("password %q opens a decoy", pw)
			}
		}
	}
}
