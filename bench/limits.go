package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"hash"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The limits are bare Go handlers doing the least each operation needs,
// served by a process of their own (this program, run as `wharfbench
// limits DIR`) so that, like the programs under test, they share the two
// cores with the load generator and not its heap or scheduler.
//
//	PUT  /push            hash the body with sha256 while writing it to a new
//	                      file under DIR, fsync, answer the digest and the
//	                      file (Location), which the harness removes (row 1)
//	PUT  /push-direct     the same around the page cache (O_DIRECT), hashing
//	                      each piece while it is written; the better of the
//	                      two is the push limit
//	GET  /file?path=P     http.ServeContent of DIR/P: sendfile (rows 2 and 9)
//	GET  /copy?path=P     DIR/P copied through user space with io.CopyBuffer
//	                      and a 256 KiB buffer (row 2); the better of the
//	                      two is the pull limit
//	PUT  /token           set the body GET and POST /token answer
//	GET  /token, POST     the fixed token JSON, as the token server sends it
//	                      (rows 4 and 6); POST parses its form first

// limitsMain runs the limit server until killed. It prints its address on
// the first line of stdout.
func limitsMain(args []string) int {
	fs := flag.NewFlagSet("limits", flag.ExitOnError)
	fs.Parse(args)
	if fs.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: wharfbench limits DIR")
		return 2
	}
	dir := fs.Arg(0)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var tokenBody atomic.Pointer[[]byte]
	empty := []byte("{}\n")
	tokenBody.Store(&empty)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {})
	push := func(store func(string, io.Reader) (string, string, error)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			name, d, err := store(dir, r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			// The harness removes the file after the clock stops, as it evicts
			// what the registry wrote: deleting 256 MiB is not part of a push.
			w.Header().Set("Location", name)
			w.Header().Set("Docker-Content-Digest", d)
			w.WriteHeader(http.StatusCreated)
		}
	}
	mux.HandleFunc("PUT /push", push(hashToFile))
	mux.HandleFunc("PUT /push-direct", push(hashToFileDirect))
	open := func(w http.ResponseWriter, r *http.Request) *os.File {
		p := filepath.Join(dir, filepath.FromSlash(r.URL.Query().Get("path")))
		if !strings.HasPrefix(p, filepath.Clean(dir)+string(filepath.Separator)) {
			http.Error(w, "outside the bench directory", http.StatusBadRequest)
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return nil
		}
		return f
	}
	mux.HandleFunc("GET /file", func(w http.ResponseWriter, r *http.Request) {
		f := open(w, r)
		if f == nil {
			return
		}
		defer f.Close()
		w.Header().Set("Content-Type", "application/octet-stream")
		http.ServeContent(w, r, "", time.Time{}, f)
	})
	copyBufs := sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}
	mux.HandleFunc("GET /copy", func(w http.ResponseWriter, r *http.Request) {
		f := open(w, r)
		if f == nil {
			return
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		// One Range of the form bytes=FIRST-LAST, as row 2 sends it.
		first, n := int64(0), fi.Size()
		status := http.StatusOK
		if rng := r.Header.Get("Range"); rng != "" {
			var last int64
			if _, err := fmt.Sscanf(rng, "bytes=%d-%d", &first, &last); err != nil || first > last || last >= fi.Size() {
				http.Error(w, "only bytes=FIRST-LAST within the file", http.StatusRequestedRangeNotSatisfiable)
				return
			}
			n = last - first + 1
			status = http.StatusPartialContent
			w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", first, last, fi.Size()))
			if _, err := f.Seek(first, io.SeekStart); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", fmt.Sprint(n))
		w.WriteHeader(status)
		buf := copyBufs.Get().(*[]byte)
		defer copyBufs.Put(buf)
		// Neither side may offer ReadFrom/WriteTo, or io.CopyBuffer hands
		// the copy to sendfile or a 32 KiB loop and never uses buf.
		io.CopyBuffer(struct{ io.Writer }{w}, io.LimitReader(struct{ io.Reader }{f}, n), *buf)
	})
	mux.HandleFunc("PUT /token", func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		tokenBody.Store(&b)
	})
	token := func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
			if err := r.ParseForm(); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
		}
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "no-store")
		h.Set("Pragma", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		body := *tokenBody.Load()
		h.Set("Content-Length", fmt.Sprint(len(body)))
		w.WriteHeader(http.StatusOK)
		w.Write(body)
	}
	mux.HandleFunc("GET /token", token)
	mux.HandleFunc("POST /token", token)
	fmt.Println(ln.Addr().String())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	if err := srv.Serve(ln); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// hashToFile is the push limit through the page cache: one goroutine
// reads the body in 1 MiB pieces, writes each to a new file and hashes it,
// then syncs the file. This is the straightforward good version, not the
// naive 32 KiB copy.
func hashToFile(dir string, body io.Reader) (name, dgst string, err error) {
	return storeHashing(dir, body, nil)
}

// storeHashing writes body to a new file under dir in 1 MiB pieces from
// buf (a new buffer when nil), hashing each with write, then syncs the
// file. write is f.Write when nil.
func storeHashing(dir string, body io.Reader, prepare func(f *os.File) (buf []byte, write func(h hash.Hash, b []byte) error, err error)) (name, dgst string, err error) {
	f, err := os.CreateTemp(dir, "limit-push-*")
	if err != nil {
		return "", "", err
	}
	defer func() {
		f.Close()
		if err != nil {
			os.Remove(f.Name())
		}
	}()
	h := sha256.New()
	buf := make([]byte, 1<<20)
	write := func(h hash.Hash, b []byte) error {
		if _, err := f.Write(b); err != nil {
			return err
		}
		h.Write(b)
		return nil
	}
	if prepare != nil {
		if buf, write, err = prepare(f); err != nil {
			return "", "", err
		}
	}
	for {
		n, rerr := io.ReadFull(body, buf)
		if n > 0 {
			if err := write(h, buf[:n]); err != nil {
				return "", "", err
			}
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			return "", "", rerr
		}
	}
	if err := f.Sync(); err != nil {
		return "", "", err
	}
	return f.Name(), "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// limitServer is the running limit process.
type limitServer struct {
	url  string
	cmd  *exec.Cmd
	done chan struct{}
}

// startLimits starts this program as the limit server over dir.
func startLimits(dir string) (*limitServer, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "limits", dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	l := &limitServer{cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); close(l.done) }()
	addr, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		l.stop()
		return nil, fmt.Errorf("limit server: %v", err)
	}
	l.url = "http://" + strings.TrimSpace(addr)
	return l, nil
}

// Pid is the limit server's process id.
func (l *limitServer) Pid() int { return l.cmd.Process.Pid }

// setToken makes /token answer body.
func (l *limitServer) setToken(body []byte) error {
	req, _ := http.NewRequest(http.MethodPut, l.url+"/token", bytes.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	return expect(resp, err, http.StatusOK)
}

func (l *limitServer) stop() {
	if l == nil {
		return
	}
	_ = l.cmd.Process.Kill()
	<-l.done
}
