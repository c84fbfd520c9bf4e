package setup

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/airlock-vault/airlock/chain/bitcoin/descriptor"
	"github.com/btcsuite/btcd/chaincfg/v2"
)

func TestImportDescriptor(t *testing.T) {
	net := &chaincfg.TestNet3Params
	keys := testKeys(t, 3, net, 2)
	d, err := descriptor.NewSortedMultiWSH(2, keys)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ImportDescriptor("  "+d.String()+"\n", net)
	if err != nil || got.String() != d.String() {
		t.Fatalf("ImportDescriptor = %v, %v", got, err)
	}
	// The same vault as a BIP-388 wallet policy.
	w, err := descriptor.WalletPolicyFromDescriptor(d.String())
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(WalletPolicyJSON{Name: "vault", DescriptorTemplate: w.Template(), KeysInfo: w.KeyInfo()})
	got, err = ImportDescriptor(string(js), net)
	if err != nil || got.String() != d.String() {
		t.Fatalf("ImportDescriptor(policy) = %v, %v\n%s", got, err, js)
	}
	for _, ok := range []*chaincfg.Params{&chaincfg.SigNetParams, &chaincfg.RegressionNetParams, &chaincfg.TestNet4Params} {
		if _, err := ImportDescriptor(d.String(), ok); err != nil {
			t.Errorf("tpub descriptor on %s: %v", ok.Name, err)
		}
	}

	body := strings.Split(d.String(), "#")[0]
	tprv := func() string {
		k := newTestSigner(t, 1, net).master
		for _, p := range keys[0].Path {
			k, _ = k.Derive(p)
		}
		return k.String()
	}()
	withPrv, err := descriptor.Parse(strings.Replace(body, keys[0].XPub, tprv, 1))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, text, want string }{
		{"no checksum", body, "without checksum"},
		{"bad checksum", body + "#aaaaaaaa", "setup: descriptor"},
		{"private key", withPrv.String(), "private keys"},
		{"other network", d.String(), "not mainnet"},
		{"policy unknown field", `{"descriptor_template":"` + w.Template() + `","keys_info":[],"extra":1}`, "unknown field"},
		{"policy bad", `{"descriptor_template":"wsh(sortedmulti(2,@0/**,@1/**))","keys_info":["` + keys[0].XPub + `"]}`, "wallet policy"},
		{"policy trailing", string(js) + "{}", "after the wallet policy"},
		{"too large", strings.Repeat(" ", MaxInput+1), "exceeds"},
	}
	for _, c := range cases {
		n := net
		if c.name == "other network" {
			n = &chaincfg.MainNetParams
		}
		if _, err := ImportDescriptor(c.text, n); err == nil || !strings.HasPrefix(err.Error(), "setup: ") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
}
