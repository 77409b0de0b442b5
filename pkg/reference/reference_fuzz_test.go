package reference

import (
	_ "crypto/sha512" // lets go-digest validate sha512 digests
	"errors"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

// FuzzReferenceGrammar: whatever a URL carries, a name, tag or digest this
// package accepts is safe to build storage paths from (no empty, "." or
// ".." segment, no character outside the grammar, bounded length), and a
// digest it accepts is one go-digest agrees with. Seeds are the path tricks
// of issue 6.
func FuzzReferenceGrammar(f *testing.F) {
	for _, s := range []string{
		"app", "library/ubuntu", "a/../b", "a/./b", "a//b", "/a", "a/", "A", "a%2Fb", "_catalog", "..", ".", "a..b",
		"a__b", "a___b", "a--b", "a.-b", strings.Repeat("a/", 128) + "a", "v1", "-v1", ".v1", "v1:x", strings.Repeat("t", 129),
		"sha256:" + strings.Repeat("a", 64), "sha256:" + strings.Repeat("A", 64), "sha512:" + strings.Repeat("0", 128),
		"sha384:" + strings.Repeat("a", 96), "sha256:" + strings.Repeat("a", 63), "sha256+b64:abc", "sha256:", ":abc", "a\x00b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ValidRepository(s) {
			if len(s) == 0 || len(s) > MaxRepositoryLength || strings.Trim(s, "abcdefghijklmnopqrstuvwxyz0123456789._/-") != "" {
				t.Fatalf("accepted repository %q", s)
			}
			for _, seg := range strings.Split(s, "/") {
				if seg == "" || seg == "." || seg == ".." || strings.HasPrefix(seg, ".") || strings.HasPrefix(seg, "-") || strings.HasPrefix(seg, "_") {
					t.Fatalf("accepted repository %q with segment %q", s, seg)
				}
			}
		}
		if ValidTag(s) {
			if len(s) == 0 || len(s) > MaxTagLength || IsDigest(s) || s[0] == '.' || s[0] == '-' ||
				strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != "" {
				t.Fatalf("accepted tag %q", s)
			}
		}
		d, err := ParseDigest(s)
		if err != nil {
			if errors.Is(err, ErrDigestInvalid) == errors.Is(err, ErrDigestUnsupported) {
				t.Fatalf("ParseDigest(%q) error %v is not exactly one of the sentinels", s, err)
			}
			return
		}
		if string(d) != s || d.Validate() != nil || (d.Algorithm() != digest.SHA256 && d.Algorithm() != digest.SHA512) ||
			strings.ToLower(s) != s || !IsDigest(s) {
			t.Fatalf("accepted digest %q (%v)", s, d.Validate())
		}
	})
}
