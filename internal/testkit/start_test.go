package testkit

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
)

// serveEnv makes the test binary, run as a child by Start, a tiny server
// answering /healthz on the port it names, so Start is tested on a real
// process.
const serveEnv = "TESTKIT_SERVE_PORT"

func TestMain(m *testing.M) {
	if port := os.Getenv(serveEnv); port != "" {
		fmt.Println("serving on", port)
		http.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {})
		fmt.Fprintln(os.Stderr, http.ListenAndServe("127.0.0.1:"+port, nil))
		os.Exit(1)
	}
	os.Exit(m.Run())
}

func TestStartWaitsUntilHealthyAndKillEndsTheProcess(t *testing.T) {
	p := Start(t, Spec{
		Name: "child",
		Bin:  os.Args[0],
		Env:  func(port int) []string { return []string{fmt.Sprintf("%s=%d", serveEnv, port)} },
	})
	resp, err := http.Get(p.URL("http") + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz: %s", resp.Status)
	}
	if want := fmt.Sprintf("serving on %d", p.Port()); !strings.Contains(p.Output(), want) {
		t.Errorf("output %q does not hold %q", p.Output(), want)
	}
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Exited():
	default:
		t.Error("Kill returned before the process exited")
	}
}
