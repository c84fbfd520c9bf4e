// Package softhsmtest creates throw-away SoftHSM2 tokens for tests that
// exercise the PKCS#11 signer against a real software HSM.
//
// It needs the Debian/Ubuntu package softhsm2 (which provides softhsm2-util
// and libsofthsm2.so). When either is missing the test fails loudly rather
// than skipping, so that a CI image without SoftHSM cannot go green by
// silently not testing the HSM path.
package softhsmtest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// SOPIN is the security officer PIN of every token this package creates.
const SOPIN = "87654321"

// candidates are the places the SoftHSM2 module is installed by common
// distributions, tried after $SOFTHSM2_MODULE.
var candidates = []string{
	"/usr/lib/softhsm/libsofthsm2.so",
	"/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
}

const install = "install the Debian/Ubuntu package softhsm2 (apt-get install softhsm2) or set SOFTHSM2_MODULE to libsofthsm2.so"

// Module returns the path of libsofthsm2.so: $SOFTHSM2_MODULE if set,
// otherwise the first existing standard location.
func Module() (string, error) {
	if p := os.Getenv("SOFTHSM2_MODULE"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("softhsmtest: SOFTHSM2_MODULE=%s: %w", p, err)
		}
		return p, nil
	}
	for _, p := range candidates {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("softhsmtest: libsofthsm2.so not found in %s; %s", strings.Join(candidates, " or "), install)
}

// New creates a SoftHSM2 token store in t.TempDir(), points SOFTHSM2_CONF at
// it with t.Setenv (so the test must not be parallel), initialises a token
// labelled label with user PIN pin and SO PIN SOPIN, and returns the module
// path. It fails the test, naming the softhsm2 package, if SoftHSM2 is not
// installed. Open the module only after creating all tokens: SoftHSM reads
// its configuration when the module is initialised.
func New(t testing.TB, label, pin string) (module string) {
	t.Helper()
	module, err := Module()
	if err != nil {
		t.Fatalf("SOFTHSM2 IS REQUIRED FOR THESE TESTS: %v", err)
	}
	if _, err := exec.LookPath("softhsm2-util"); err != nil {
		t.Fatalf("SOFTHSM2 IS REQUIRED FOR THESE TESTS: softhsm2-util not found in PATH; %s", install)
	}
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	body := "directories.tokendir = " + tokens + "\n" +
		"objectstore.backend = file\n" +
		"log.level = ERROR\n" +
		"slots.removable = false\n"
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOFTHSM2_CONF", conf)
	AddToken(t, label, pin)
	return module
}

// AddToken initialises one more token in the store created by New.
func AddToken(t testing.TB, label, pin string) {
	t.Helper()
	run(t, "--init-token", "--free", "--label", label, "--pin", pin, "--so-pin", SOPIN)
}

// DeleteToken deletes the token labelled label from the store, from a
// separate softhsm2-util process, as if the device had been pulled out.
func DeleteToken(t testing.TB, label string) {
	t.Helper()
	run(t, "--delete-token", "--token", label)
}

// run executes softhsm2-util with SOFTHSM2_CONF inherited from the test.
// Arguments (which may include PINs) are not echoed on failure.
func run(t testing.TB, args ...string) {
	t.Helper()
	if os.Getenv("SOFTHSM2_CONF") == "" {
		t.Fatal("softhsmtest: SOFTHSM2_CONF is not set; call softhsmtest.New first")
	}
	out, err := exec.Command("softhsm2-util", args...).CombinedOutput()
	if err != nil {
		var ee *exec.Error
		if errors.As(err, &ee) {
			t.Fatalf("SOFTHSM2 IS REQUIRED FOR THESE TESTS: %v; %s", err, install)
		}
		t.Fatalf("softhsm2-util %s: %v\n%s", args[0], err, out)
	}
}
