// Package decoy gives unknown user names a bcrypt hash to be checked
// against, so that a login for a name nobody has takes as long as a wrong
// password for a real user, and timing tells nothing about which names
// exist. docker_auth answered unknown users in 12 ms and wrong passwords in
// 85 ms.
//
// One decoy at a single cost is not enough when users' hashes have several
// costs (a cost-12 user stands out among cost-10 decoys), so each unknown
// name gets a decoy of one of the users' costs, always the same for that
// name, chosen by a keyed hash of the name in the proportions the users
// have them.
package decoy

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"sort"
	"sync"

	"golang.org/x/crypto/bcrypt"
)

// Set is the decoys for one set of users. It is immutable and safe for
// concurrent use.
type Set struct {
	decoys []decoy // by cost, ascending
	total  int     // users counted
}

type decoy struct {
	cost, users int
	hash        []byte
}

// New returns the decoys for users with the given bcrypt hashes (hashes
// that do not parse are not counted). With none, decoys have
// bcrypt.DefaultCost.
func New(hashes [][]byte) (*Set, error) {
	costs := map[int]int{}
	for _, h := range hashes {
		if c, err := bcrypt.Cost(h); err == nil {
			costs[c]++
		}
	}
	if len(costs) == 0 {
		costs[bcrypt.DefaultCost] = 1
	}
	s := &Set{}
	for c, n := range costs {
		h, err := hashAt(c)
		if err != nil {
			return nil, err
		}
		s.decoys = append(s.decoys, decoy{cost: c, users: n, hash: h})
		s.total += n
	}
	sort.Slice(s.decoys, func(i, j int) bool { return s.decoys[i].cost < s.decoys[j].cost })
	return s, nil
}

// For returns the hash an unknown name is compared with: always the same
// one for the same name while the process lives.
func (s *Set) For(name string) []byte {
	if len(s.decoys) == 1 {
		return s.decoys[0].hash
	}
	mac := hmac.New(sha256.New, key[:])
	mac.Write([]byte(name))
	n := int(binary.BigEndian.Uint64(mac.Sum(nil)) % uint64(s.total))
	for _, d := range s.decoys {
		if n < d.users {
			return d.hash
		}
		n -= d.users
	}
	return s.decoys[len(s.decoys)-1].hash
}

// key keys the choice of decoy for each name; it lives as long as the
// process, so a name's timing does not change when users are reloaded.
var key = func() (k [32]byte) {
	_, _ = rand.Read(k[:]) // crypto/rand.Read never fails on supported platforms
	return k
}()

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
