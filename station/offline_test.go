package station_test

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// offline are the packages a signer station runs on: none may reach a
// network client, however indirectly.
var offline = []string{
	"station", "envelope", "proposal", "policy", "workspace", "audit", "store", "store/sqlstore",
	"keys", "keys/keystore", "keys/shamir", "keys/pkcs11", "transport/media", "transport/qr", "transport/qr/bbqr", "transport/qr/ur",
}

// networked are the imports that would give a station a network code
// path: HTTP (the service's client, webhooks), RPC, the service itself
// and a node's RPC client.
var networked = []string{
	"net/http", "net/rpc", "net/smtp",
	"github.com/airlock-vault/airlock/serve", "github.com/airlock-vault/airlock/chain/bitcoin/rpc",
}

// TestStationHasNoNetworkPath: "airlock --coordinator URL" made the CLI a
// client of the service, and the service is an HTTP server; an import
// that brought either into the station's packages would give an offline
// machine a way to talk. go list's dependency closure of each must hold
// none of them.
func TestStationHasNoNetworkPath(t *testing.T) {
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := exec.LookPath(goTool); err != nil {
		if goTool, err = exec.LookPath("go"); err != nil {
			t.Fatal("the go command is needed to list the station's imports, and none is found: install Go or put it on PATH")
		}
	}
	var pkgs []string
	for _, p := range offline {
		pkgs = append(pkgs, "github.com/airlock-vault/airlock/"+p)
	}
	for _, p := range pkgs {
		out, err := exec.Command(goTool, "list", "-deps", p).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", p, err)
		}
		deps := strings.Fields(string(out))
		if len(deps) < 2 {
			t.Fatalf("go list -deps %s listed %d packages: the check would pass vacuously", p, len(deps))
		}
		for _, d := range deps {
			for _, n := range networked {
				if d == n {
					t.Errorf("%s depends on %s: an offline package must not reach the network", p, n)
				}
			}
		}
	}
}
