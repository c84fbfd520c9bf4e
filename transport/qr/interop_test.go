package qr

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlock-vault/airlock/internal/testvectors"

	"github.com/airlock-vault/airlock/transport/qr/ur"
)

// The tests below run airlock's QR code against independent peers: the
// reference JavaScript BC-UR and UR-registry libraries (test/interop,
// installed by ./scripts/test) and zbarimg (Debian zbar-tools). A missing
// peer fails the test loudly: CI installs them all.

func repoRoot(t *testing.T) string { return testvectors.RepoRoot(t) }

func peer(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is not installed: the interop tests need Node.js (./scripts/test installs what they need)")
	}
	dir := filepath.Join(repoRoot(t), "test", "interop")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@ngraveio", "bc-ur")); err != nil {
		t.Fatalf("the JavaScript peers are not installed in %s: run ./scripts/test (or npm ci there)", dir)
	}
	cmd := exec.Command(node, append([]string{"peer.js"}, args...)...)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("peer %v: %v\n%s", args, err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

func TestPeerDecodesOurParts(t *testing.T) {
	msg := sample(6000)
	parts, err := ur.Encode(ur.TypeBytes, ur.WrapBytes(msg), 200, 60)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(11, 12))
	r.Shuffle(len(parts), func(i, j int) { parts[i], parts[j] = parts[j], parts[i] })
	var kept []string
	for i, p := range parts {
		if i%4 != 0 { // a quarter lost
			kept = append(kept, p)
		}
	}
	var got struct{ Type, CBOR string }
	if err := json.Unmarshal([]byte(peer(t, strings.Join(kept, "\n"), "ur-decode")), &got); err != nil {
		t.Fatal(err)
	}
	if got.Type != "bytes" || got.CBOR != hex.EncodeToString(ur.WrapBytes(msg)) {
		t.Fatal("@ngraveio/bc-ur decoded something else from our parts")
	}
}

func TestWeDecodePeerParts(t *testing.T) {
	msg := sample(4000)
	out := peer(t, "", "ur-encode", "crypto-psbt", hex.EncodeToString(ur.WrapBytes(msg)), "150", "60")
	var d ur.URDecoder
	for i, line := range strings.Split(out, "\n") {
		if i%3 == 1 {
			continue // a third lost
		}
		if err := d.Receive(line); err != nil {
			t.Fatal(err)
		}
		if d.Complete() {
			break
		}
	}
	if !d.Complete() || d.Type != "crypto-psbt" {
		t.Fatal("did not complete the peer's UR")
	}
	got, err := ur.UnwrapBytes(d.Result())
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatal("decoded something else from the peer's parts")
	}
}

func TestPeerReadsOurEthSignRequest(t *testing.T) {
	req := &ur.EthSignRequest{
		RequestID: bytes.Repeat([]byte{0xab}, 16), SignData: sample(300), DataType: ur.EthTypedData, ChainID: 11155111,
		Path: []uint32{44 | 0x80000000, 60 | 0x80000000, 0x80000000, 0, 7}, Fingerprint: 0xd34db33f,
		Address: bytes.Repeat([]byte{0x11}, 20), Origin: "airlock",
	}
	payload, err := req.CBOR()
	if err != nil {
		t.Fatal(err)
	}
	parts, err := ur.Encode(ur.TypeEthSignRequest, payload, 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(peer(t, strings.Join(parts, "\n"), "eth-request-parse")), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"requestId": strings.Repeat("ab", 16), "signData": hex.EncodeToString(req.SignData), "dataType": 2.0,
		"chainId": 11155111.0, "path": "44'/60'/0'/0/7", "xfp": "d34db33f", "address": strings.Repeat("11", 20), "origin": "airlock"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: peer read %v, want %v", k, got[k], v)
		}
	}
	back, err := ur.ParseEthSignRequest(payload)
	if err != nil || back.ChainID != req.ChainID || back.Fingerprint != req.Fingerprint || len(back.Path) != 5 {
		t.Fatalf("our own parse: %+v %v", back, err)
	}
}

func TestWeReadPeerEthSignature(t *testing.T) {
	sig := sample(65)
	reqID := bytes.Repeat([]byte{0x5a}, 16)
	line := peer(t, "", "eth-signature-make", hex.EncodeToString(sig), hex.EncodeToString(reqID), "keystone")
	var d ur.URDecoder
	if err := d.Receive(line); err != nil {
		t.Fatal(err)
	}
	if !d.Complete() || d.Type != ur.TypeEthSignature {
		t.Fatalf("type %q", d.Type)
	}
	s, err := ur.ParseEthSignature(d.Result())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(s.Signature, sig) || !bytes.Equal(s.RequestID, reqID) || s.Origin != "keystone" {
		t.Fatalf("%+v", s)
	}
}

func TestZbarimgReadsOurFrames(t *testing.T) {
	zbar, err := exec.LookPath("zbarimg")
	if err != nil {
		t.Fatal("zbarimg is not installed: the interop tests need Debian's zbar-tools (./scripts/test installs it)")
	}
	for _, f := range []Format{UR, BBQr} {
		frames, err := Frames(Artifact{Kind: "envelope", Data: sample(2500)}, f, 200, 3)
		if err != nil {
			t.Fatal(err)
		}
		paths, err := WritePNGs(t.TempDir(), frames, 4)
		if err != nil {
			t.Fatal(err)
		}
		for i, p := range paths {
			out, err := exec.Command(zbar, "--raw", "-q", p).Output()
			if err != nil {
				t.Fatalf("%s frame %d: zbarimg: %v", f, i+1, err)
			}
			if got := strings.TrimSpace(string(out)); got != frames[i] {
				t.Fatalf("%s frame %d: zbarimg read %q, want %q", f, i+1, got[:min(40, len(got))], frames[i][:40])
			}
		}
	}
}
