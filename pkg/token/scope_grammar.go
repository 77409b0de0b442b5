package token

import "strings"

// The scope grammar's names, types and actions, matched by hand: a token
// request checks each of them, and the regular expressions they were
// (distribution's, kept in scope_grammar_test.go as the reference the
// tests and a fuzz target compare these with) cost more than the rest of
// parsing a scope together.

// validType is resourcetypevalue: [a-z0-9]+. Classes use it too.
func validType(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !lowerAlnum(s[i]) {
			return false
		}
	}
	return true
}

// validAction is the grammar's action, [a-z]+, or the wildcard "*".
func validAction(s string) bool {
	if s == "*" {
		return true
	}
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// validName is distribution's reference name: an optional domain (host,
// IPv4 or bracketed IPv6, optional port) and '/', then path components
// separated by '/'. A domain holds no '/', so it can only be what comes
// before the first one.
func validName(s string) bool {
	if validPath(s) {
		return true
	}
	slash := strings.IndexByte(s, '/')
	return slash >= 0 && validDomain(s[:slash]) && validPath(s[slash+1:])
}

// validPath is pathComponent ('/' pathComponent)*, where a component is
// [a-z0-9]+ ((\.|_|__|-+) [a-z0-9]+)*.
func validPath(s string) bool {
	for {
		end := strings.IndexByte(s, '/')
		if end < 0 {
			return validPathComponent(s)
		}
		if !validPathComponent(s[:end]) {
			return false
		}
		s = s[end+1:]
	}
}

func validPathComponent(s string) bool {
	i := 0
	for {
		// a run of [a-z0-9]+
		start := i
		for i < len(s) && lowerAlnum(s[i]) {
			i++
		}
		if i == start {
			return false
		}
		if i == len(s) {
			return true
		}
		// a separator: ".", "_", "__" or "-+"
		switch s[i] {
		case '.':
			i++
		case '_':
			i++
			if i < len(s) && s[i] == '_' {
				i++
			}
		case '-':
			for i < len(s) && s[i] == '-' {
				i++
			}
		default:
			return false
		}
	}
}

// validDomain is (domainComponent ('.' domainComponent)* | '[' [a-fA-F0-9:]+ ']') (':' [0-9]+)?,
// where a component is alphanumeric, '-' allowed inside.
func validDomain(s string) bool {
	host, port := s, ""
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return false
		}
		host, port = s[:end+1], s[end+1:]
		if !validIPv6Chars(host[1:end]) {
			return false
		}
	} else {
		if colon := strings.IndexByte(s, ':'); colon >= 0 {
			host, port = s[:colon], s[colon:]
		}
		for {
			dot := strings.IndexByte(host, '.')
			if dot < 0 {
				break
			}
			if !validDomainComponent(host[:dot]) {
				return false
			}
			host = host[dot+1:]
		}
		if !validDomainComponent(host) {
			return false
		}
	}
	if port == "" {
		return true
	}
	if port[0] != ':' || len(port) == 1 {
		return false
	}
	for i := 1; i < len(port); i++ {
		if port[i] < '0' || port[i] > '9' {
			return false
		}
	}
	return true
}

func validDomainComponent(s string) bool {
	if s == "" || !alnum(s[0]) || !alnum(s[len(s)-1]) {
		return false
	}
	for i := 1; i < len(s)-1; i++ {
		if !alnum(s[i]) && s[i] != '-' {
			return false
		}
	}
	return true
}

func validIPv6Chars(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' || c == ':') {
			return false
		}
	}
	return true
}

func lowerAlnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

func alnum(c byte) bool { return lowerAlnum(c) || c >= 'A' && c <= 'Z' }
