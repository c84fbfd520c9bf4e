package main

import (
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// cmdFreePort: freeport VAR sets VAR to a TCP port free on 127.0.0.1.
func cmdFreePort(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: freeport VAR")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	ts.Setenv(args[0], strconv.Itoa(port))
}

// cmdHTTP: http GET|POST URL STATUS [BODY-SUBSTRING] waits (up to 20s)
// for the service to answer, then checks the answer's status and body.
func cmdHTTP(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 3 || len(args) > 4 {
		ts.Fatalf("usage: http GET|POST URL STATUS [BODY-SUBSTRING]")
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		req, err := http.NewRequest(args[0], args[1], strings.NewReader("{}"))
		ts.Check(err)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			if time.Now().After(deadline) {
				ts.Fatalf("%s %s: %v", args[0], args[1], err)
			}
			time.Sleep(50 * time.Millisecond)
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		ts.Logf("%s %s: %s\n%s", args[0], args[1], resp.Status, b)
		if strconv.Itoa(resp.StatusCode) != args[2] {
			ts.Fatalf("status %d, want %s", resp.StatusCode, args[2])
		}
		if len(args) == 4 && !strings.Contains(string(b), args[3]) {
			ts.Fatalf("the answer lacks %q", args[3])
		}
		return
	}
}

// cmdAddrFile: addrfile FILE VAR waits (up to 20s) for "airlock serve
// --addr-file FILE" to write the address it listens on, and sets VAR to
// it: the port the system picked for --listen 127.0.0.1:0.
func cmdAddrFile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: addrfile FILE VAR")
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		b, err := os.ReadFile(ts.MkAbs(args[0]))
		if addr := strings.TrimSpace(string(b)); err == nil && addr != "" {
			ts.Setenv(args[1], addr)
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("addrfile: %s was not written in 20s: did serve start? (%v)", args[0], err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
