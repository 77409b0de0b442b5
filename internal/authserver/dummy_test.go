package authserver

import (
	"bytes"
	"fmt"
	"math"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// TestUnknownNamesGetTheUsersCostsInProportion: an unknown name is
// compared with a dummy of one of the users' bcrypt costs, always the same
// for that name, and across names the costs come in the proportions the
// users have them, so no cost marks a name as unknown.
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
			ds, err := newDummies(tt.costs)
			if err != nil {
				t.Fatal(err)
			}
			snap := &snapshot{dummies: ds}
			got := map[int]int{}
			for i := range names {
				name := fmt.Sprintf("user%d", i)
				h := snap.dummyFor(name)
				if !bytes.Equal(h, snap.dummyFor(name)) {
					t.Fatalf("%s got two different dummies", name)
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
