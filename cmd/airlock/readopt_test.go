package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"os"

	"github.com/airlock-vault/airlock/envelope"
	"github.com/rogpeppe/go-internal/testscript"
)

// resign IN OUT writes the envelope IN signed instead by a fresh key
// (another coordinator's, say), its payload unchanged.
func cmdResign(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: resign IN OUT")
	}
	b, err := os.ReadFile(ts.MkAbs(args[0]))
	ts.Check(err)
	e, err := envelope.Decode(b)
	ts.Check(err)
	_, key, err := ed25519.GenerateKey(rand.Reader)
	ts.Check(err)
	e.Signatures = nil
	ts.Check(e.Sign(key))
	out, err := e.Encode()
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), out, 0o644))
}
