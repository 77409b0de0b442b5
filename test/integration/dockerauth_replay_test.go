package integration

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/wharf-registry/wharf/internal/testkit"
)

// intendedDifferences are the fields a client can see in which our auth
// answers docker_auth's own config and requests differently from the real
// docker_auth, each on purpose. Any other difference fails
// TestDockerAuthReplay, and so does a listed one that no longer occurs
// (the list would be lying). The README's table is made from it.
var intendedDifferences = map[string]string{
	"body.expires_in":       "we send the token lifetime; without it clients assume 60 s and fetch a new token every minute",
	"body.issued_at":        "we send when the token was issued (RFC 3339), which clients use with expires_in",
	"body.refresh_token":    "we issue refresh tokens for offline_token=true (docker login) and access_type=offline (OAuth2 POST); docker_auth has none",
	"body.scope":            "the OAuth2 POST answer lists what was granted (RFC 6749 section 5.1)",
	"jwt.header.x5c":        "the token carries its certificate chain, so registries with rootcertbundle verify it whatever kid form they index keys by",
	"jwt.claims.nbf":        "nbf is iat; docker_auth puts it 10 s before iat (every verifier allows 60 s of skew anyway)",
	"jwt.claims.wharf_pull": "catalog tokens carry the account's narrowed pull rules, so our registry lists only what the account may pull; stock registries ignore the claim",
	"401.content-type":      "a failed login answers a JSON error body (application/json), not text/plain",
	"401.body":              `the JSON error body is {"error","error_description","details"}, which containerd and the Docker CLI show; docker_auth sends "Auth failed."`,
}

// TestDockerAuthReplay runs the built auth with docker_auth's own fixture
// configs (config-rsa.yml, config-ec.yml: copied into a temp dir with the
// key files they name, only server.addr changed to a free port) and replays
// every request the real docker_auth answered, byte for byte as curl sent
// it. Our answer must match the recorded one in status, the fields clients
// read (token, access_token, WWW-Authenticate, Content-Type), the JWT's
// header (typ, alg, kid) and claims (iss, sub, aud with its JSON type,
// access with empty grants as they are, lifetime), except for the
// intendedDifferences.
func TestDockerAuthReplay(t *testing.T) {
	t.Parallel()
	fixtures := filepath.Join(testkit.SharedDir(t), "interop", "docker_auth")
	occurred := map[string][]string{} // intended difference -> key/case where seen
	for _, key := range []string{"rsa", "ec"} {
		t.Run(key, func(t *testing.T) {
			auth := startDockerAuthConfig(t, fixtures, key)
			reqs, err := filepath.Glob(filepath.Join(fixtures, "requests-"+key, "*.http"))
			if err != nil || len(reqs) == 0 {
				t.Fatalf("no recorded requests in %s (%v)", fixtures, err)
			}
			for _, reqFile := range reqs {
				name := strings.TrimSuffix(filepath.Base(reqFile), ".http")
				t.Run(name, func(t *testing.T) {
					theirs := recordedFields(t, reqFile, filepath.Join(fixtures, "responses-"+key, name+".http"))
					ours := replayFields(t, auth, reqFile)
					for _, f := range sortedUnion(theirs, ours) {
						if theirs[f] == ours[f] {
							continue
						}
						if _, ok := intendedDifferences[f]; ok {
							occurred[f] = append(occurred[f], key+"/"+name)
							continue
						}
						t.Errorf("%s: docker_auth %q, ours %q", f, theirs[f], ours[f])
					}
				})
			}
		})
	}
	if t.Failed() {
		return
	}
	for _, f := range sortedUnion(intendedDifferences, nil) {
		if len(occurred[f]) == 0 {
			t.Errorf("intended difference %s never occurred: remove it from the list (and the README)", f)
			continue
		}
		t.Logf("%-18s differs on purpose in %2d answers (e.g. %s): %s", f, len(occurred[f]), occurred[f][0], intendedDifferences[f])
	}
}

// startDockerAuthConfig copies config-KEY.yml and the key files it names
// into a temp dir (docker_auth resolves them against its working
// directory, and so do we) and starts auth there. server.addr is the only
// change: the recorded fixed port may be taken.
func startDockerAuthConfig(t *testing.T, fixtures, key string) *process {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{key + ".crt", key + ".key"} {
		data, err := os.ReadFile(filepath.Join(fixtures, f))
		if err != nil {
			t.Fatal(err)
		}
		testkit.WriteFile(t, dir, f, data)
	}
	cfg, err := os.ReadFile(filepath.Join(fixtures, "config-"+key+".yml"))
	if err != nil {
		t.Fatal(err)
	}
	addr := map[string]string{"rsa": `addr: "127.0.0.1:15101"`, "ec": `addr: "127.0.0.1:15102"`}[key]
	if bytes.Count(cfg, []byte(addr)) != 1 {
		t.Fatalf("config-%s.yml: want exactly one %s to replace", key, addr)
	}
	return testkit.Start(t, testkit.Spec{
		Name: "auth (docker_auth config-" + key + ".yml)",
		Bin:  authBin,
		Dir:  dir,
		Args: func(port int) []string {
			c := bytes.Replace(cfg, []byte(addr), fmt.Appendf(nil, `addr: "127.0.0.1:%d"`, port), 1)
			testkit.WriteFile(t, dir, "config.yml", c)
			return []string{"config.yml"}
		},
	})
}

// readRecordedRequest parses a raw request file (CRLF headers, form body
// counted by Content-Length).
func readRecordedRequest(t *testing.T, file string) *http.Request {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(data)))
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return req
}

// recordedFields reads docker_auth's recorded answer to reqFile.
func recordedFields(t *testing.T, reqFile, respFile string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(respFile)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(data)), readRecordedRequest(t, reqFile))
	if err != nil {
		t.Fatalf("%s: %v", respFile, err)
	}
	defer resp.Body.Close()
	return responseFields(t, resp)
}

// replayFields sends the recorded request, unchanged but for its target
// host, to auth and reads our answer.
func replayFields(t *testing.T, auth *process, reqFile string) map[string]string {
	t.Helper()
	req := readRecordedRequest(t, reqFile)
	target := auth.URL("http") + req.RequestURI
	out, err := http.NewRequest(req.Method, target, req.Body)
	if err != nil {
		t.Fatal(err)
	}
	out.Header = req.Header.Clone()
	out.ContentLength = req.ContentLength
	resp, err := http.DefaultClient.Do(out)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	return responseFields(t, resp)
}

// responseFields flattens what a client reads in a token server's answer
// into comparable strings. Values that differ on every issue (the JWT
// itself, jti, iat, exp) become what they must satisfy: present, the same
// JWT in token and access_token, the lifetime exp-iat, nbf-iat.
func responseFields(t *testing.T, resp *http.Response) map[string]string {
	t.Helper()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	f := map[string]string{"status": fmt.Sprint(resp.StatusCode)}
	if resp.StatusCode != http.StatusOK {
		f["www-authenticate"] = resp.Header.Get("WWW-Authenticate")
		f["401.content-type"] = resp.Header.Get("Content-Type")
		f["401.body"] = string(body)
		return f
	}
	f["content-type"] = resp.Header.Get("Content-Type")
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		t.Fatalf("200 body is not a JSON object: %v: %s", err, body)
	}
	for k := range fields {
		f["body."+k] = "present"
	}
	var tok, access string
	_ = json.Unmarshal(fields["token"], &tok)
	_ = json.Unmarshal(fields["access_token"], &access)
	f["body.access_token"] = fmt.Sprintf("same as token: %v", tok == access)
	jwtFields(t, tok, f)
	return f
}

// jwtFields adds the header members and claims of raw to f.
func jwtFields(t *testing.T, raw string, f map[string]string) {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is not a compact JWS", raw)
	}
	var header, claims map[string]json.RawMessage
	for i, v := range []*map[string]json.RawMessage{&header, &claims} {
		seg, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(seg, v); err != nil {
			t.Fatal(err)
		}
	}
	for k, v := range header {
		f["jwt.header."+k] = string(v)
		if k == "x5c" {
			f["jwt.header."+k] = "present"
		}
	}
	var iat, exp, nbf int64
	_ = json.Unmarshal(claims["iat"], &iat)
	_ = json.Unmarshal(claims["exp"], &exp)
	_ = json.Unmarshal(claims["nbf"], &nbf)
	for k, v := range claims {
		switch k {
		case "iat":
			f["jwt.claims.iat"] = "present"
		case "exp":
			f["jwt.claims.exp"] = fmt.Sprintf("iat%+d", exp-iat)
		case "nbf":
			f["jwt.claims.nbf"] = fmt.Sprintf("iat%+d", nbf-iat)
		case "jti":
			var s string
			f["jwt.claims.jti"] = fmt.Sprintf("string: %v", json.Unmarshal(v, &s) == nil && s != "")
		default:
			var compact bytes.Buffer
			if err := json.Compact(&compact, v); err != nil {
				t.Fatal(err)
			}
			f["jwt.claims."+k] = compact.String()
		}
	}
}

func sortedUnion(a, b map[string]string) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range []map[string]string{a, b} {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	sort.Strings(out)
	return out
}
