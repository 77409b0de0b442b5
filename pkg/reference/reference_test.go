package reference

import (
	"errors"
	"strings"
	"testing"
)

func TestRepositoryNamesFollowTheOCIGrammar(t *testing.T) {
	long := strings.Repeat("a", MaxRepositoryLength)
	tests := []struct {
		name string
		want bool
	}{
		{"app", true},
		{"library/ubuntu", true},
		{"a/b/c/d", true},
		{"my-app", true},
		{"my--app", true},
		{"my_app", true},
		{"my__app", true},
		{"my.app", true},
		{"a0/b1.c2-d3_e4", true},
		{long, true},
		{long + "a", false},
		{"", false},
		{"App", false},
		{"my___app", false},
		{"my..app", false},
		{"-app", false},
		{"app-", false},
		{"/app", false},
		{"app/", false},
		{"a//b", false},
		{"a/../b", false},
		{"..", false},
		{"a/_layers", false},
		{"a b", false},
		{"a%2fb", false},
		{"localhost:5000/app", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ValidRepository(tt.name); got != tt.want {
				t.Errorf("ValidRepository(%q) = %v, want %v", tt.name, got, tt.want)
			}
		})
	}
}

func TestTagsFollowTheOCIGrammar(t *testing.T) {
	tests := []struct {
		tag  string
		want bool
	}{
		{"latest", true},
		{"v1.2.3", true},
		{"_private", true},
		{"UPPER-case_1.0", true},
		{strings.Repeat("a", MaxTagLength), true},
		{strings.Repeat("a", MaxTagLength+1), false},
		{"", false},
		{".hidden", false},
		{"-dash", false},
		{"a:b", false},
		{"a/b", false},
		{"sha256:abc", false},
		{"a b", false},
	}
	for _, tt := range tests {
		t.Run(tt.tag, func(t *testing.T) {
			if got := ValidTag(tt.tag); got != tt.want {
				t.Errorf("ValidTag(%q) = %v, want %v", tt.tag, got, tt.want)
			}
		})
	}
}

func TestParseDigestAcceptsOnlyLowercaseSHA256AndSHA512(t *testing.T) {
	hex64 := strings.Repeat("0123456789abcdef", 4)
	hex128 := hex64 + hex64
	tests := []struct {
		name string
		in   string
		want error // nil: accepted
	}{
		{"sha256", "sha256:" + hex64, nil},
		{"sha512", "sha512:" + hex128, nil},
		{"uppercase hex", "sha256:" + strings.ToUpper(hex64), ErrDigestInvalid},
		{"short hex", "sha256:" + hex64[:63], ErrDigestInvalid},
		{"long hex", "sha256:" + hex64 + "0", ErrDigestInvalid},
		{"sha512 with sha256 length", "sha512:" + hex64, ErrDigestInvalid},
		{"non hex", "sha256:" + strings.Repeat("g", 64), ErrDigestInvalid},
		{"sha384", "sha384:" + hex64 + hex64[:32], ErrDigestUnsupported},
		{"unknown algorithm", "blake3:" + hex64, ErrDigestUnsupported},
		{"no algorithm", ":" + hex64, ErrDigestInvalid},
		{"no colon", hex64, ErrDigestInvalid},
		{"empty", "", ErrDigestInvalid},
		{"totally wrong", "sha256:totallywrong", ErrDigestInvalid},
		{"path traversal", "sha256:../../etc", ErrDigestInvalid},
		{"uppercase algorithm", "SHA256:" + hex64, ErrDigestInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := ParseDigest(tt.in)
			if tt.want == nil {
				if err != nil || d.String() != tt.in {
					t.Fatalf("ParseDigest(%q) = %q, %v; want it accepted", tt.in, d, err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("ParseDigest(%q) error = %v, want %v", tt.in, err, tt.want)
			}
		})
	}
}

func TestReferencesWithAColonAreDigests(t *testing.T) {
	for ref, want := range map[string]bool{"latest": false, "sha256:abc": true, "v1.0": false} {
		if got := IsDigest(ref); got != want {
			t.Errorf("IsDigest(%q) = %v, want %v", ref, got, want)
		}
	}
}
