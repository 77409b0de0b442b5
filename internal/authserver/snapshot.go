package authserver

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/wharf-registry/wharf/internal/authconfig"
	"github.com/wharf-registry/wharf/internal/credcache"
	"github.com/wharf-registry/wharf/pkg/token"
)

// How long and how many successful password checks are remembered.
const (
	credCacheTTL  = time.Minute
	credCacheSize = 10000
)

// snapshot is everything one configuration implies, built once and never
// changed: a reload builds a new one and swaps a pointer, so a request
// runs start to finish against the snapshot it began with. Caches live
// here so a reload (changed passwords, rules, keys) drops them all.
type snapshot struct {
	cfg       *authconfig.Config
	users     map[string]*user // password users; never ""
	anonymous *user            // the "" entry, nil when anonymous access is off
	dummies   []dummy          // bcrypt hashes unknown users are compared with
	realm     string
	jwks      []byte
	refresh   *refresher
	creds     *credcache.Cache
	tokens    *tokenCache
	throttle  *throttle
	handler   http.Handler
}

type user struct {
	name   string
	hash   []byte
	labels map[string][]string
}

// build makes a snapshot of cfg. prev, when not nil, lends its throttle
// state if the limits did not change: a reload must not forgive an
// attacker's failures.
func build(cfg *authconfig.Config, prev *snapshot) (*snapshot, error) {
	snap := &snapshot{
		cfg:    cfg,
		users:  map[string]*user{},
		realm:  cfg.Token.Issuer,
		creds:  credcache.New(credCacheSize, credCacheTTL),
		tokens: newTokenCache(),
	}
	costs := map[int]int{}
	for name, u := range cfg.Users {
		entry := &user{name: name, hash: []byte(u.Password), labels: u.Labels}
		if name == "" {
			snap.anonymous = entry
			continue
		}
		snap.users[name] = entry
		if c, err := bcrypt.Cost(entry.hash); err == nil {
			costs[c]++
		}
	}
	var err error
	if snap.dummies, err = newDummies(costs); err != nil {
		return nil, err
	}
	if snap.jwks, err = token.MarshalJWKS(cfg.Keys); err != nil {
		return nil, fmt.Errorf("render JWKS: %w", err)
	}
	if snap.refresh, err = newRefresher(cfg.Keys); err != nil {
		return nil, err
	}
	maxFailures, window, maxTracked := cfg.Throttle.Limits()
	snap.throttle = newThrottle(maxFailures, window, maxTracked)
	if prev != nil && prev.throttle != nil && snap.throttle != nil && prev.throttle.settings == snap.throttle.settings {
		snap.throttle = prev.throttle
	}
	return snap, nil
}

// dummy is a hash of a password nobody knows, at one of the users' bcrypt
// costs, and how many users have that cost.
type dummy struct {
	cost, users int
	hash        []byte
}

// newDummies returns one dummy per bcrypt cost the users have (10 when there
// are no users). An unknown user is checked against one of them, so it
// takes as long as a wrong password for a real user: docker_auth answered
// unknown users in 12 ms and wrong passwords in 85 ms.
func newDummies(costs map[int]int) ([]dummy, error) {
	if len(costs) == 0 {
		costs = map[int]int{bcrypt.DefaultCost: 1}
	}
	out := make([]dummy, 0, len(costs))
	for c, n := range costs {
		h, err := dummyHash(c)
		if err != nil {
			return nil, err
		}
		out = append(out, dummy{cost: c, users: n, hash: h})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].cost < out[j].cost })
	return out, nil
}

// dummyKey keys the choice of dummy for each unknown name; it lives as
// long as the process, so a name's timing does not change on reload.
var dummyKey = func() (k [32]byte) {
	_, _ = rand.Read(k[:]) // crypto/rand.Read never fails on supported platforms
	return k
}()

// dummyFor returns the hash an unknown name is compared with. When users
// have several bcrypt costs no single one hides them all (a cost-12 user
// stands out among cost-10 dummies), so each unknown name gets one of the
// users' costs, always the same, picked by a keyed hash of the name in the
// proportions the users have them: timing then tells nothing about whether
// a name exists.
func (s *snapshot) dummyFor(name string) []byte {
	if len(s.dummies) == 1 {
		return s.dummies[0].hash
	}
	total := 0
	for _, d := range s.dummies {
		total += d.users
	}
	mac := hmac.New(sha256.New, dummyKey[:])
	mac.Write([]byte(name))
	n := int(binary.BigEndian.Uint64(mac.Sum(nil)) % uint64(total))
	for _, d := range s.dummies {
		if n < d.users {
			return d.hash
		}
		n -= d.users
	}
	return s.dummies[len(s.dummies)-1].hash
}

var dummies sync.Map // cost -> []byte, so reloads do not pay for a new one

// dummyHash returns a bcrypt hash of a random password that nobody knows.
func dummyHash(cost int) ([]byte, error) {
	if h, ok := dummies.Load(cost); ok {
		return h.([]byte), nil
	}
	var secret [18]byte
	if _, err := rand.Read(secret[:]); err != nil {
		return nil, err
	}
	h, err := bcrypt.GenerateFromPassword([]byte(base64.StdEncoding.EncodeToString(secret[:])), cost)
	if err != nil {
		return nil, fmt.Errorf("make dummy password hash: %w", err)
	}
	actual, _ := dummies.LoadOrStore(cost, h)
	return actual.([]byte), nil
}

// serviceAllowed reports whether tokens may be issued for service.
func (s *snapshot) serviceAllowed(service string) bool {
	return s.cfg.Services == nil || s.cfg.Services[service]
}
