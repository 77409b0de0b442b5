// Package reference validates the names, tags and digests that appear in
// OCI Distribution URLs, using the grammar of the distribution specification.
//
// Every string checked here is later used to build storage paths, so the
// grammar is applied strictly: anything it does not accept is rejected,
// including upper-case hex in digests, which registry:2 would store under a
// second path for the same content.
package reference

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/opencontainers/go-digest"
)

// MaxRepositoryLength is the longest repository name accepted, in bytes.
const MaxRepositoryLength = 255

// MaxTagLength is the longest tag accepted, in bytes.
const MaxTagLength = 128

var (
	// ErrDigestInvalid reports a string that is not a well-formed digest
	// (bad syntax, wrong length, upper-case hex).
	ErrDigestInvalid = errors.New("invalid digest")
	// ErrDigestUnsupported reports a well-formed digest whose algorithm is
	// neither sha256 nor sha512.
	ErrDigestUnsupported = errors.New("unsupported digest algorithm")
)

var (
	// From the distribution spec, "Pulling manifests".
	repositoryRE = regexp.MustCompile(`^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$`)
	// The generic digest grammar of the OCI image spec; used only to tell a
	// digest of an unknown algorithm apart from garbage.
	digestRE = regexp.MustCompile(`^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$`)
)

// ValidRepository reports whether name is a repository name in the OCI
// grammar and no longer than MaxRepositoryLength.
func ValidRepository(name string) bool {
	return len(name) <= MaxRepositoryLength && repositoryRE.MatchString(name)
}

// ValidTag reports whether tag matches [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}.
// It is a loop rather than a regular expression because tag listings call
// it for every tag of a repository on every page.
func ValidTag(tag string) bool {
	if len(tag) == 0 || len(tag) > MaxTagLength || tag[0] == '.' || tag[0] == '-' {
		return false
	}
	for i := 0; i < len(tag); i++ {
		c := tag[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// IsDigest reports whether a manifest reference is meant as a digest rather
// than a tag: tags cannot contain ':', digests always do.
func IsDigest(ref string) bool {
	return strings.Contains(ref, ":")
}

// ParseDigest accepts sha256 (64 hex) and sha512 (128 hex) digests written
// in lowercase hex. A well-formed digest of another algorithm wraps
// ErrDigestUnsupported; anything else wraps ErrDigestInvalid.
func ParseDigest(s string) (digest.Digest, error) {
	alg, hex, ok := strings.Cut(s, ":")
	if !ok || !digestRE.MatchString(s) {
		return "", fmt.Errorf("%w: %.80q", ErrDigestInvalid, s)
	}
	var want int
	switch alg {
	case "sha256":
		want = 64
	case "sha512":
		want = 128
	default:
		return "", fmt.Errorf("%w: %.40q", ErrDigestUnsupported, alg)
	}
	if len(hex) != want || !isLowerHex(hex) {
		return "", fmt.Errorf("%w: %s needs %d lowercase hex characters", ErrDigestInvalid, alg, want)
	}
	return digest.Digest(s), nil
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
