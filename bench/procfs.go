package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// What the harness reads about the processes under test from /proc: memory
// (VmRSS, VmHWM), system call counts and CPU time.

// memory is what /proc/<pid>/status says about a process's memory.
type memory struct {
	rss, hwm int64 // bytes: resident now (VmRSS), peak resident (VmHWM)
}

func readMemory(pid int) (memory, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memory{}, err
	}
	defer f.Close()
	var m memory
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		var dst *int64
		switch k {
		case "VmRSS":
			dst = &m.rss
		case "VmHWM":
			dst = &m.hwm
		default:
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return memory{}, fmt.Errorf("/proc/%d/status %s: %v", pid, k, err)
		}
		*dst = kb << 10
	}
	return m, sc.Err()
}

// sampleRSS samples a process's VmRSS every interval until ctx ends and
// returns the largest value seen: VmHWM alone cannot tell a phase's peak
// from an earlier one.
func sampleRSS(ctx context.Context, pid int, interval time.Duration) <-chan int64 {
	out := make(chan int64, 1)
	go func() {
		var peak int64
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			if m, err := readMemory(pid); err == nil && m.rss > peak {
				peak = m.rss
			}
			select {
			case <-ctx.Done():
				out <- peak
				return
			case <-t.C:
			}
		}
	}()
	return out
}

// sampleHWM reads a process's VmHWM every interval until ctx ends or the
// process is gone, and returns the last value read.
func sampleHWM(ctx context.Context, pid int, interval time.Duration) <-chan int64 {
	out := make(chan int64, 1)
	go func() {
		var hwm int64
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			if m, err := readMemory(pid); err == nil && m.hwm > hwm {
				hwm = m.hwm
			}
			select {
			case <-ctx.Done():
				out <- hwm
				return
			case <-t.C:
			}
		}
	}()
	return out
}

// ioCounts are a process's read and write syscall counts (/proc/<pid>/io).
type ioCounts struct{ syscr, syscw int64 }

func readIO(pid int) (ioCounts, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return ioCounts{}, err
	}
	var c ioCounts
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, ":")
		n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		switch k {
		case "syscr":
			c.syscr = n
		case "syscw":
			c.syscw = n
		}
	}
	return c, nil
}

// cpuTime is the CPU time (user + system) a process has used.
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ is 100 on Linux
}

// settle waits until a process has used no CPU for a while (its start-up
// jobs, such as the first purge of abandoned uploads, are done), so that a
// measurement that follows is about the request and nothing else. It gives
// up after a minute.
func settle(pid int) {
	deadline := time.Now().Add(time.Minute)
	last := cpuTime(pid)
	for quiet := 0; quiet < 3 && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		if now := cpuTime(pid); now == last {
			quiet++
		} else {
			quiet, last = 0, now
		}
	}
}
