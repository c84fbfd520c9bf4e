package descriptor

import (
	"encoding/hex"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/txscript/v2"
)

// rawExpr is BIP-385 raw(HEX): the script itself.
type rawExpr struct {
	text string // as written
	s    []byte
}

// addrExpr is BIP-385 addr(ADDR): the script paying the address.
type addrExpr struct {
	text string // as written
	addr address.Address
	s    []byte
	net  Network
}

// argument returns the text up to the closing parenthesis.
func (p *parser) argument() (string, int) {
	start := p.pos
	for p.pos < len(p.s) && p.s[p.pos] != ')' && p.s[p.pos] != '(' && p.s[p.pos] != ',' {
		p.pos++
	}
	return p.s[start:p.pos], start
}

// parseRaw parses raw(HEX).
func parseRaw(p *parser, name string, ctx context) (expr, error) {
	text, at := p.argument()
	if text == "" || len(text)%2 != 0 || !isHex(text) {
		return nil, errAt(at, "raw() script %q is not hex (BIP-385)", short(text))
	}
	s, _ := hex.DecodeString(text)
	return &rawExpr{text: text, s: s}, nil
}

// parseAddr parses addr(ADDR). The address must be in its canonical
// encoding (lower-case bech32) for mainnet or a test network.
func parseAddr(p *parser, name string, ctx context) (expr, error) {
	text, at := p.argument()
	if len(text) == 66 || len(text) == 130 || len(text) > 100 {
		// DecodeAddress reads hex public keys; they are not addresses.
		return nil, errAt(at, "addr() %q is not an address (BIP-385)", short(text))
	}
	for _, c := range []struct {
		params *chaincfg.Params
		net    Network
	}{{&chaincfg.MainNetParams, Mainnet}, {&chaincfg.TestNet3Params, Testnet}, {&chaincfg.RegressionNetParams, Testnet}} {
		a, err := address.DecodeAddress(text, c.params)
		if err != nil || !a.IsForNet(c.params) || a.EncodeAddress() != text {
			continue
		}
		s, err := txscript.PayToAddrScript(a)
		if err != nil {
			return nil, errAt(at, "addr() %q: %v", short(text), err)
		}
		return &addrExpr{text: text, addr: a, s: s, net: c.net}, nil
	}
	return nil, errAt(at, "addr() %q is not a valid address (BIP-385)", short(text))
}

func (e *rawExpr) name() string                       { return "raw" }
func (e *rawExpr) appendKeys(dst []*Key) []*Key       { return dst }
func (e *rawExpr) size() int                          { return len(e.s) }
func (e *rawExpr) check(int) error                    { return nil }
func (e *rawExpr) script(*derivation) ([]byte, error) { return append([]byte(nil), e.s...), nil }
func (e *rawExpr) appendText(b []byte, alt int) []byte {
	return append(append(append(b, "raw("...), e.text...), ')')
}

func (e *addrExpr) name() string                       { return "addr" }
func (e *addrExpr) appendKeys(dst []*Key) []*Key       { return dst }
func (e *addrExpr) size() int                          { return len(e.s) }
func (e *addrExpr) check(int) error                    { return nil }
func (e *addrExpr) script(*derivation) ([]byte, error) { return append([]byte(nil), e.s...), nil }
func (e *addrExpr) appendText(b []byte, alt int) []byte {
	return append(append(append(b, "addr("...), e.text...), ')')
}
