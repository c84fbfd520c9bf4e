package bitcoin

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/chain/bitcoin/maturity"
	"github.com/airlock-vault/airlock/chain/bitcoin/psbt"
)

// Address returns the vault's address at branch (0 receive, 1 change) and
// index.
func Address(v chain.Vault, branch int, index uint32) (string, error) {
	vi, err := parseVault(v)
	if err != nil {
		return "", err
	}
	return vi.desc.Address(branch, index, vi.net)
}

// Spend describes a PSBT to build from vault outputs the caller names.
type Spend struct {
	// Funding are the previous transactions; each output of theirs that
	// pays the vault at a (branch, index) in Coins is spent.
	Funding []*wire.MsgTx
	Coins   []Coin
	// Outputs are the payments; change goes back to the vault at
	// ChangeIndex on branch 1 when ChangeAmount is not zero.
	Outputs      []*wire.TxOut
	ChangeIndex  uint32
	ChangeAmount int64
	// Recovery makes a recovery spend: every input's nSequence holds the
	// vault's lock (BIP-68), so the recovery key alone can sign once the
	// coins are that old. Maturity is the proof of their depth that the
	// stations check; without it they refuse the recovery path.
	Recovery bool
	Maturity *maturity.Proof
}

// RecoveryLock returns the lock, in blocks, of a vault's recovery path.
func RecoveryLock(v chain.Vault) (uint32, bool) {
	if v.Recovery == nil {
		return 0, false
	}
	return v.Recovery.After, true
}

// Coin names one vault output: funding transaction Tx, output Vout, paid to
// the vault's descriptor at Branch/Index.
type Coin struct {
	Tx     int
	Vout   uint32
	Branch int
	Index  uint32
}

// BuildPSBT is the updater role for a vault: it writes an unsigned BIP-174
// v0 PSBT spending coins with full UTXO information (the previous
// transaction and the witness UTXO), witness scripts and every signer's
// BIP-32 derivation, and marks the change output with its derivations.
func BuildPSBT(v chain.Vault, s Spend) ([]byte, error) {
	vi, err := parseVault(v)
	if err != nil {
		return nil, err
	}
	tx := wire.NewMsgTx(2)
	for _, c := range s.Coins {
		if c.Tx < 0 || c.Tx >= len(s.Funding) || int(c.Vout) >= len(s.Funding[c.Tx].TxOut) {
			return nil, fmt.Errorf("bitcoin: coin %d:%d does not exist", c.Tx, c.Vout)
		}
		h := s.Funding[c.Tx].TxHash()
		in := wire.NewTxIn(wire.NewOutPoint(&h, c.Vout), nil, nil)
		if s.Recovery {
			if vi.rpath == nil {
				return nil, fmt.Errorf("bitcoin: vault %q has no recovery path", v.Name)
			}
			blocks, _ := vi.rpath.Blocks()
			in.Sequence = uint32(blocks)
		}
		tx.AddTxIn(in)
	}
	for _, o := range s.Outputs {
		tx.AddTxOut(o)
	}
	var change *wire.TxOut
	if s.ChangeAmount > 0 {
		d, err := vi.desc.Derive(1, s.ChangeIndex)
		if err != nil {
			return nil, err
		}
		change = wire.NewTxOut(s.ChangeAmount, d.ScriptPubKey)
		tx.AddTxOut(change)
	}
	pkt, err := psbt.New(tx)
	if err != nil {
		return nil, err
	}
	if s.Maturity != nil {
		if err := maturity.Attach(pkt, s.Maturity); err != nil {
			return nil, err
		}
	}
	for i, c := range s.Coins {
		d, err := vi.desc.Derive(c.Branch, c.Index)
		if err != nil {
			return nil, err
		}
		prev := s.Funding[c.Tx].TxOut[c.Vout]
		if string(prev.PkScript) != string(d.ScriptPubKey) {
			return nil, fmt.Errorf("bitcoin: coin %d:%d does not pay the vault at %d/%d", c.Tx, c.Vout, c.Branch, c.Index)
		}
		in := &pkt.Inputs[i]
		in.NonWitnessUtxo = s.Funding[c.Tx]
		if isTaproot(d) {
			in.WitnessUtxo = wire.NewTxOut(prev.Value, prev.PkScript)
			if err := fillTaprootInput(in, d); err != nil {
				return nil, err
			}
			continue
		}
		if len(d.WitnessScript) > 0 {
			// A witness UTXO only for segwit spends (BIP-174): a legacy
			// signature does not commit to the amount.
			in.WitnessUtxo = wire.NewTxOut(prev.Value, prev.PkScript)
		}
		in.WitnessScript, in.RedeemScript = d.WitnessScript, d.RedeemScript
		for _, k := range d.Keys {
			in.Bip32Derivations = append(in.Bip32Derivations, psbt.Bip32Derivation{PubKey: k.PubKey, Fingerprint: k.Fingerprint, Path: k.Path})
		}
	}
	if change != nil {
		d, _ := vi.desc.Derive(1, s.ChangeIndex)
		out := &pkt.Outputs[len(tx.TxOut)-1]
		if isTaproot(d) {
			if err := fillTaprootOutput(out, d); err != nil {
				return nil, err
			}
			return pkt.Encode()
		}
		out.WitnessScript, out.RedeemScript = d.WitnessScript, d.RedeemScript
		for _, k := range d.Keys {
			out.Bip32Derivations = append(out.Bip32Derivations, psbt.Bip32Derivation{PubKey: k.PubKey, Fingerprint: k.Fingerprint, Path: k.Path})
		}
	}
	return pkt.Encode()
}

// Synthetic builds a rehearsal: a funding transaction that pays the vault
// (its input spends an outpoint that exists on no chain, so it can never
// be broadcast) and an unsigned PSBT that sends amount to dest with change
// back to the vault. seed makes distinct funding transactions.
func Synthetic(v chain.Vault, seed uint64, dest string, amount, fee int64) (*wire.MsgTx, []byte, error) {
	vi, err := parseVault(v)
	if err != nil {
		return nil, nil, err
	}
	const funded = 100_000_000
	if amount <= 0 || fee <= 0 || amount+fee > funded {
		return nil, nil, fmt.Errorf("bitcoin: amount %d and fee %d do not fit the synthetic 1 BTC coin", amount, fee)
	}
	d, err := vi.desc.Derive(0, uint32(seed%1000))
	if err != nil {
		return nil, nil, err
	}
	var s [8]byte
	binary.BigEndian.PutUint64(s[:], seed)
	prevHash := chainhash.Hash(sha256.Sum256(append([]byte("airlock synthetic funding "), s[:]...)))
	funding := wire.NewMsgTx(2)
	funding.AddTxIn(wire.NewTxIn(wire.NewOutPoint(&prevHash, 0), nil, nil))
	funding.AddTxOut(wire.NewTxOut(funded, d.ScriptPubKey))
	if dest == "" {
		dest, err = DemoDestination(vi.net.Name)
		if err != nil {
			return nil, nil, err
		}
	}
	addr, err := address.DecodeAddress(dest, vi.net)
	if err != nil || !addr.IsForNet(vi.net) {
		return nil, nil, fmt.Errorf("bitcoin: destination %q is not an address on %s", dest, vi.net.Name)
	}
	script, err := txscript.PayToAddrScript(addr)
	if err != nil {
		return nil, nil, err
	}
	raw, err := BuildPSBT(v, Spend{
		Funding: []*wire.MsgTx{funding},
		Coins:   []Coin{{Tx: 0, Vout: 0, Branch: 0, Index: uint32(seed % 1000)}},
		Outputs: []*wire.TxOut{wire.NewTxOut(amount, script)}, ChangeIndex: uint32(seed % 1000), ChangeAmount: funded - amount - fee,
	})
	return funding, raw, err
}

// DemoDestination is a fixed P2WPKH address (private key 1) on the named
// network: somewhere outside any vault to send to in rehearsals.
func DemoDestination(network string) (string, error) {
	net, err := Network(network)
	if err != nil {
		return "", err
	}
	var one [32]byte
	one[31] = 1
	_, pub := btcec.PrivKeyFromBytes(one[:])
	a, err := address.NewAddressWitnessPubKeyHash(address.Hash160(pub.SerializeCompressed()), net)
	if err != nil {
		return "", err
	}
	return a.EncodeAddress(), nil
}

// ScanGap is how many addresses per branch FindCoins derives.
const ScanGap = 1000

// FindCoins lists every output of the funding transactions that pays the
// vault, at the branch and index whose script it is (the first ScanGap
// addresses of each branch are derived).
func FindCoins(v chain.Vault, funding []*wire.MsgTx) ([]Coin, error) {
	vi, err := parseVault(v)
	if err != nil {
		return nil, err
	}
	type place struct {
		branch int
		index  uint32
	}
	scripts := map[string]place{}
	for b := 0; b < vi.desc.PathCount(); b++ {
		for i := uint32(0); i < ScanGap; i++ {
			d, err := vi.desc.Derive(b, i)
			if err != nil {
				return nil, err
			}
			scripts[string(d.ScriptPubKey)] = place{b, i}
			if !vi.desc.IsRange() {
				break
			}
		}
	}
	var coins []Coin
	for t, tx := range funding {
		for o, out := range tx.TxOut {
			if p, ok := scripts[string(out.PkScript)]; ok {
				coins = append(coins, Coin{Tx: t, Vout: uint32(o), Branch: p.branch, Index: p.index})
			}
		}
	}
	if len(coins) == 0 {
		return nil, fmt.Errorf("bitcoin: no output of the funding transactions pays vault %q (first %d addresses of each branch)", v.Name, ScanGap)
	}
	return coins, nil
}

// PayTo returns the output script paying addr on net, refusing an address
// of another network.
func PayTo(addr string, net *chaincfg.Params) ([]byte, error) {
	a, err := address.DecodeAddress(addr, net)
	if err != nil {
		return nil, fmt.Errorf("bitcoin: address %q: %v", addr, err)
	}
	if !a.IsForNet(net) {
		return nil, fmt.Errorf("bitcoin: address %q is not for %s", addr, net.Name)
	}
	return txscript.PayToAddrScript(a)
}
