// Package decoy gives failed logins the bcrypt work of the costliest hash
// in use, so that response times tell nothing about which names exist.
// docker_auth answered unknown users in 12 ms and wrong passwords in 85 ms;
// with users' hashes of several costs, a per-name decoy of one of those
// costs still told names apart (one cost-10 user among cost-5 users: wrong
// password 64 ms, unknown name 3 ms) and changed on restart.
//
// So every failure costs what a check against the costliest hash does:
//   - an unknown name is compared with a decoy at that cost (Max);
//   - a wrong password for a cheaper hash is followed by decoys that make
//     up the difference (TopUp). bcrypt's work doubles with each cost, so
//     costs c, c+1, ..., max-1 add up to the work of max less that of c.
//
// Both depend only on the costs in use: the same on every restart.
package decoy

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"sync"

	"golang.org/x/crypto/bcrypt"
)

// Set is the decoys for one set of users. It is immutable and safe for
// concurrent use.
type Set struct {
	min, max int
	byCost   map[int][]byte // every cost from min to max
}

// New returns the decoys for users with the given bcrypt hashes (hashes
// that do not parse are not counted). With none, the costliest hash in use
// is taken to be bcrypt.DefaultCost.
func New(hashes [][]byte) (*Set, error) {
	s := &Set{byCost: map[int][]byte{}}
	for _, h := range hashes {
		c, err := bcrypt.Cost(h)
		if err != nil {
			continue
		}
		if len(s.byCost) == 0 || c < s.min {
			s.min = c
		}
		if len(s.byCost) == 0 || c > s.max {
			s.max = c
		}
		s.byCost[c] = nil
	}
	if len(s.byCost) == 0 {
		s.min, s.max = bcrypt.DefaultCost, bcrypt.DefaultCost
	}
	for c := s.min; c <= s.max; c++ {
		h, err := hashAt(c)
		if err != nil {
			return nil, err
		}
		s.byCost[c] = h
	}
	return s, nil
}

// Max returns the hash an unknown name is compared with: a password nobody
// knows, at the costliest cost in use.
func (s *Set) Max() []byte { return s.byCost[s.max] }

// MaxCost returns the costliest bcrypt cost in use.
func (s *Set) MaxCost() int { return s.max }

// TopUp returns the decoys to compare after a failed check against hash so
// that, together, they cost a check against Max: none for a hash at the
// maximum cost (or one that does not parse), else one at each cost from
// hash's up to the maximum, exclusive.
func (s *Set) TopUp(hash []byte) [][]byte {
	c, err := bcrypt.Cost(hash)
	if err != nil || c >= s.max {
		return nil
	}
	var out [][]byte
	for ; c < s.max; c++ {
		if h := s.byCost[c]; h != nil {
			out = append(out, h)
		}
	}
	return out
}

var byCost sync.Map // cost -> []byte, so reloads do not pay for new decoys

// hashAt returns a bcrypt hash, at cost, of a random password nobody knows.
func hashAt(cost int) ([]byte, error) {
	if h, ok := byCost.Load(cost); ok {
		return h.([]byte), nil
	}
	var secret [18]byte
	if _, err := rand.Read(secret[:]); err != nil {
		return nil, err
	}
	h, err := bcrypt.GenerateFromPassword([]byte(base64.StdEncoding.EncodeToString(secret[:])), cost)
	if err != nil {
		return nil, fmt.Errorf("make decoy password hash: %w", err)
	}
	actual, _ := byCost.LoadOrStore(cost, h)
	return actual.([]byte), nil
}
