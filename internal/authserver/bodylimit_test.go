package authserver

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// A client that sends a huge form before reading the answer (as curl -d
// @file does) reads the 413, every time, instead of a broken pipe.
func TestOversizedFormIs413ForAClientThatSendsFirst(t *testing.T) {
	f := newFixture(t, strictConfig)
	addr := strings.TrimPrefix(f.ts.URL, "http://")
	form := "grant_type=password&pad=" + strings.Repeat("a", 5<<20)
	head := fmt.Sprintf("POST /auth/token HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n", addr, len(form))
	for i := range 20 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(c, head+form); err != nil {
			c.Close()
			t.Fatalf("round %d: sending: %v", i, err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			c.Close()
			t.Fatalf("round %d: reading the answer: %v", i, err)
		}
		var e errorBody
		err = json.NewDecoder(resp.Body).Decode(&e)
		c.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge || err != nil || e.Error != "invalid_request" {
			t.Fatalf("round %d: %s, %+v (%v)", i, resp.Status, e, err)
		}
	}
}
