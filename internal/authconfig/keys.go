package authconfig

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"os"

	"github.com/wharf-registry/wharf/pkg/token"
)

// loadTokenKeys fills c.Keys: the signing key first, then the extra keys.
// Like docker_auth, a token section without key or certificate signs with
// the server's TLS key pair.
func (v *validator) loadTokenKeys() {
	c := v.c
	t := c.Token
	keyField, certField := "token.key", "token.certificate"
	keyPath, certPath := t.Key, t.Certificate
	if keyPath == "" && certPath == "" && c.Server.Key != "" {
		keyField, certField = "server.key", "server.certificate"
		keyPath, certPath = c.Server.Key, c.Server.Certificate
	}
	switch {
	case keyPath == "" && certPath == "":
		v.problem("token.key", "required: a PEM private key to sign tokens with (or server.certificate and server.key, as in docker_auth)")
	case keyPath == "":
		v.problem(certField, "needs %s too: the private key of this certificate", keyField)
	default:
		if k := v.loadKey(keyField, certField, keyPath, certPath); k != nil {
			c.Keys = append(c.Keys, k)
		}
	}
	for i, kf := range t.ExtraKeys {
		kField := fmt.Sprintf("token.extra_keys[%d].key", i)
		cField := fmt.Sprintf("token.extra_keys[%d].certificate", i)
		if kf.Key == "" {
			v.problem(kField, "required")
			continue
		}
		if k := v.loadKey(kField, cField, kf.Key, kf.Certificate); k != nil {
			c.Keys = append(c.Keys, k)
		}
	}
	seen := map[string]bool{}
	for _, k := range c.Keys {
		if seen[k.ID] {
			v.problem("token.extra_keys", "key %s is configured more than once", k.ID)
		}
		seen[k.ID] = true
	}
}

// loadKey reads one key and its optional certificate chain, attributing
// each problem to the field that names the bad file.
func (v *validator) loadKey(keyField, certField, keyPath, certPath string) *token.Key {
	keyPEM, ok := v.readFile(keyField, keyPath)
	if !ok {
		return nil
	}
	signer, err := token.ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		v.problem(keyField, "%s: %v", keyPath, err)
		return nil
	}
	var chain []*x509.Certificate
	if certPath != "" {
		certPEM, ok := v.readFile(certField, certPath)
		if !ok {
			return nil
		}
		if chain, err = token.ParseCertificatesPEM(certPEM); err != nil {
			v.problem(certField, "%s: %v", certPath, err)
			return nil
		}
	}
	k, err := token.NewKey(signer, chain, v.c.KeyIDFormat)
	if err != nil {
		field := keyField
		if certPath != "" {
			field = certField // the usual cause: a certificate for another key
		}
		v.problem(field, "%v", err)
		return nil
	}
	return k
}

// loadServerTLS loads server.certificate and server.key, which must come
// together, as in docker_auth.
func (v *validator) loadServerTLS() {
	s := v.c.Server
	switch {
	case s.Certificate == "" && s.Key == "":
		return
	case s.Certificate == "":
		v.problem("server.key", "needs server.certificate too (TLS takes both)")
		return
	case s.Key == "":
		v.problem("server.certificate", "needs server.key too (TLS takes both)")
		return
	}
	certPEM, ok1 := v.readFile("server.certificate", s.Certificate)
	keyPEM, ok2 := v.readFile("server.key", s.Key)
	if !ok1 || !ok2 {
		return
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		v.problem("server.certificate", "%s with %s: %v", s.Certificate, s.Key, err)
		return
	}
	v.c.TLS = &cert
}

// maxKeyFile bounds what is read from a key or certificate path, so a
// mistaken path such as /dev/zero cannot exhaust memory.
const maxKeyFile = 1 << 20

func (v *validator) readFile(field, path string) ([]byte, bool) {
	f, err := os.Open(path)
	if err != nil {
		v.problem(field, "%v", err)
		return nil, false
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		v.problem(field, "%s: %v", path, err)
		return nil, false
	}
	if len(data) > maxKeyFile {
		v.problem(field, "%s: larger than %d bytes, not a PEM key or certificate", path, maxKeyFile)
		return nil, false
	}
	return data, true
}
