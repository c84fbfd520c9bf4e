package safesim

import (
	"bytes"
	"crypto/ecdsa"
	"fmt"
	"math/big"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
)

var versions = []string{"1.3.0", "1.4.1", "1.5.0"}

type owner struct {
	key  *ecdsa.PrivateKey
	addr common.Address
}

func newOwners(t *testing.T, n int) []owner {
	t.Helper()
	out := make([]owner, n)
	for i := range out {
		k, err := crypto.GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		out[i] = owner{k, crypto.PubkeyToAddress(k.PublicKey)}
	}
	return out
}

func addrs(os []owner) []common.Address {
	var a []common.Address
	for _, o := range os {
		a = append(a, o.addr)
	}
	return a
}

// sign returns an eth-style (v = 27/28) signature of hash by o.
func sign(t *testing.T, o owner, hash [32]byte) []byte {
	t.Helper()
	sig, err := crypto.Sign(hash[:], o.key)
	if err != nil {
		t.Fatal(err)
	}
	sig[64] += 27
	return sig
}

// signSorted concatenates the signers' signatures ordered by owner address
// ascending, as the Safe requires.
func signSorted(t *testing.T, hash [32]byte, signers ...owner) []byte {
	t.Helper()
	s := slices.Clone(signers)
	sort.Slice(s, func(i, j int) bool { return bytes.Compare(s[i].addr[:], s[j].addr[:]) < 0 })
	var out []byte
	for _, o := range s {
		out = append(out, sign(t, o, hash)...)
	}
	return out
}

// safeTxHash computes the Safe (>= 1.3.0) EIP-712 SafeTx hash independently
// of the contract, for an arbitrary chain id.
func safeTxHash(chainID *big.Int, safe common.Address, tx SafeTx) [32]byte {
	word := func(b []byte) []byte { return common.LeftPadBytes(b, 32) }
	u := func(b *big.Int) []byte { return word(orZero(b).Bytes()) }
	domainType := crypto.Keccak256([]byte("EIP712Domain(uint256 chainId,address verifyingContract)"))
	domain := crypto.Keccak256(domainType, u(chainID), word(safe[:]))
	txType := crypto.Keccak256([]byte("SafeTx(address to,uint256 value,bytes data,uint8 operation,uint256 safeTxGas,uint256 baseGas,uint256 gasPrice,address gasToken,address refundReceiver,uint256 nonce)"))
	st := crypto.Keccak256(txType, word(tx.To[:]), u(tx.Value), crypto.Keccak256(tx.Data), word([]byte{tx.Operation}),
		u(tx.SafeTxGas), u(tx.BaseGas), u(tx.GasPrice), word(tx.GasToken[:]), word(tx.RefundReceiver[:]), u(tx.Nonce))
	return [32]byte(crypto.Keccak256([]byte{0x19, 0x01}, domain, st))
}

func ether(n int64, div int64) *big.Int {
	return new(big.Int).Div(new(big.Int).Mul(big.NewInt(n), big.NewInt(params.Ether)), big.NewInt(div))
}

type fixture struct {
	env    *Env
	owners []owner
	safe   common.Address
}

// setup2of3 makes a 2-of-3 Safe holding 1 ETH.
func setup2of3(t *testing.T, version string) fixture {
	t.Helper()
	env := New(t, Artifacts(t), version)
	owners := newOwners(t, 3)
	safe := env.CreateSafe(t, addrs(owners), 2)
	if got := env.Threshold(t, safe); got != 2 {
		t.Fatalf("threshold = %d, want 2", got)
	}
	gotOwners := env.Owners(t, safe)
	if len(gotOwners) != 3 {
		t.Fatalf("owners = %v", gotOwners)
	}
	for _, o := range owners {
		if !slices.Contains(gotOwners, o.addr) {
			t.Fatalf("owner %s missing from %v", o.addr, gotOwners)
		}
	}
	if n := env.Nonce(t, safe); n.Sign() != 0 {
		t.Fatalf("fresh Safe nonce = %s", n)
	}
	for _, o := range owners { // owners pay gas when they submit themselves
		env.Fund(t, o.addr, ether(1, 1))
	}
	env.Fund(t, safe, ether(1, 1))
	if b := env.Balance(t, safe); b.Cmp(ether(1, 1)) != 0 {
		t.Fatalf("Safe balance = %s, want 1 ETH", b)
	}
	return fixture{env, owners, safe}
}

// executor is an unrelated funded account that submits execTransaction: the
// Safe does not care who relays.
func executor(t *testing.T, env *Env) *ecdsa.PrivateKey {
	t.Helper()
	k, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	env.Fund(t, crypto.PubkeyToAddress(k.PublicKey), ether(1, 1))
	return k
}

func wantSuccess(t *testing.T, f fixture, rcpt *types.Receipt, err error) {
	t.Helper()
	if err != nil || rcpt.Status != types.ReceiptStatusSuccessful {
		t.Fatalf("execTransaction: status %d, err %v", rcpt.Status, err)
	}
	if ok := f.env.Events(t, rcpt, f.safe, NameSafe, "ExecutionSuccess"); len(ok) != 1 {
		t.Fatalf("ExecutionSuccess events = %d, want 1", len(ok))
	}
	if bad := f.env.Events(t, rcpt, f.safe, NameSafe, "ExecutionFailure"); len(bad) != 0 {
		t.Fatalf("ExecutionFailure emitted: %v", bad)
	}
}

func wantRevert(t *testing.T, rcpt *types.Receipt, err error, reason string) {
	t.Helper()
	if rcpt.Status != types.ReceiptStatusFailed {
		t.Fatalf("status = %d, want revert", rcpt.Status)
	}
	if err == nil || !strings.Contains(err.Error(), reason) {
		t.Fatalf("revert error = %v, want %s", err, reason)
	}
}

func TestEtherTransfer(t *testing.T) {
	for _, v := range versions {
		t.Run(v, func(t *testing.T) {
			t.Parallel()
			f := setup2of3(t, v)
			env := f.env
			to := common.BytesToAddress(crypto.Keccak256([]byte("recipient " + v))[:20])
			tx := SafeTx{To: to, Value: ether(1, 10), Nonce: env.Nonce(t, f.safe)}
			hash := env.GetTransactionHash(t, f.safe, tx)
			if want := safeTxHash(env.ChainID, f.safe, tx); hash != want {
				t.Fatalf("contract hash %x != independent EIP-712 hash %x", hash, want)
			}
			sigs := signSorted(t, hash, f.owners[0], f.owners[2])

			rcpt, err := env.ExecTransaction(t, executor(t, env), f.safe, tx, sigs)
			wantSuccess(t, f, rcpt, err)
			t.Logf("Safe %s execTransaction gas used: %d", v, rcpt.GasUsed)
			// ~108k on Osaka rules; the dev chain's default Bogota fork
			// (EIP-8037/8038 repricing) charges ~357k. Catch a regression of
			// New's fork settings.
			if rcpt.GasUsed > 150_000 {
				t.Errorf("execTransaction used %d gas; is the simulated chain on post-Osaka gas rules?", rcpt.GasUsed)
			}
			if b := env.Balance(t, to); b.Cmp(ether(1, 10)) != 0 {
				t.Fatalf("recipient balance = %s, want 0.1 ETH", b)
			}
			if b := env.Balance(t, f.safe); b.Cmp(ether(9, 10)) != 0 {
				t.Fatalf("Safe balance = %s, want 0.9 ETH", b)
			}
			if n := env.Nonce(t, f.safe); n.Cmp(big.NewInt(1)) != 0 {
				t.Fatalf("nonce = %s, want 1", n)
			}
			// Replaying the same signatures must fail: the nonce moved on.
			rcpt, err = env.ExecTransaction(t, f.owners[0].key, f.safe, tx, sigs)
			if rcpt.Status != types.ReceiptStatusFailed {
				t.Fatalf("replay: status %d, err %v", rcpt.Status, err)
			}
		})
	}
}

func TestERC20Transfer(t *testing.T) {
	for _, v := range versions {
		t.Run(v, func(t *testing.T) {
			t.Parallel()
			f := setup2of3(t, v)
			env := f.env
			token := env.DeployERC20(t, f.safe, big.NewInt(1_000_000))
			if b := env.TokenBalance(t, token, f.safe); b.Cmp(big.NewInt(1_000_000)) != 0 {
				t.Fatalf("Safe token balance = %s", b)
			}
			to := common.BytesToAddress(crypto.Keccak256([]byte("token recipient"))[:20])
			data, err := env.ABI(t, NameERC20).Pack("transfer", to, big.NewInt(250_000))
			if err != nil {
				t.Fatal(err)
			}
			tx := SafeTx{To: token, Data: data, Nonce: env.Nonce(t, f.safe)}
			hash := env.GetTransactionHash(t, f.safe, tx)
			// An owner may submit its own transaction.
			rcpt, err := env.ExecTransaction(t, f.owners[1].key, f.safe, tx, signSorted(t, hash, f.owners[1], f.owners[2]))
			wantSuccess(t, f, rcpt, err)
			if b := env.TokenBalance(t, token, to); b.Cmp(big.NewInt(250_000)) != 0 {
				t.Fatalf("recipient token balance = %s", b)
			}
			if b := env.TokenBalance(t, token, f.safe); b.Cmp(big.NewInt(750_000)) != 0 {
				t.Fatalf("Safe token balance = %s", b)
			}
			if n := env.Nonce(t, f.safe); n.Cmp(big.NewInt(1)) != 0 {
				t.Fatalf("nonce = %s, want 1", n)
			}

			// Same again with an explicit safeTxGas, which exercises the
			// Safe's own gasleft() accounting (GS010 and the inner-call gas).
			tx = SafeTx{To: token, Data: data, SafeTxGas: big.NewInt(100_000), Nonce: env.Nonce(t, f.safe)}
			hash = env.GetTransactionHash(t, f.safe, tx)
			rcpt, err = env.ExecTransaction(t, executor(t, env), f.safe, tx, signSorted(t, hash, f.owners[0], f.owners[1]))
			wantSuccess(t, f, rcpt, err)
			if b := env.TokenBalance(t, token, to); b.Cmp(big.NewInt(500_000)) != 0 {
				t.Fatalf("recipient token balance = %s", b)
			}
			if n := env.Nonce(t, f.safe); n.Cmp(big.NewInt(2)) != 0 {
				t.Fatalf("nonce = %s, want 2", n)
			}
		})
	}
}

func TestRejectedSignatures(t *testing.T) {
	for _, v := range versions {
		t.Run(v, func(t *testing.T) {
			t.Parallel()
			f := setup2of3(t, v)
			env := f.env
			exec := executor(t, env)
			to := common.HexToAddress("0x00000000000000000000000000000000000000b0")
			tx := SafeTx{To: to, Value: ether(1, 10), Nonce: env.Nonce(t, f.safe)}
			hash := env.GetTransactionHash(t, f.safe, tx)

			t.Run("unsorted", func(t *testing.T) {
				sorted := signSorted(t, hash, f.owners[0], f.owners[1])
				unsorted := append(slices.Clone(sorted[65:]), sorted[:65]...)
				rcpt, err := env.ExecTransaction(t, exec, f.safe, tx, unsorted)
				wantRevert(t, rcpt, err, "GS026")
			})
			t.Run("other chain id", func(t *testing.T) {
				other := safeTxHash(big.NewInt(1), f.safe, tx)
				if other == hash {
					t.Fatal("hash does not depend on chain id")
				}
				rcpt, err := env.ExecTransaction(t, exec, f.safe, tx, signSorted(t, other, f.owners[0], f.owners[1]))
				wantRevert(t, rcpt, err, "GS026")
			})
			t.Run("below threshold", func(t *testing.T) {
				rcpt, err := env.ExecTransaction(t, exec, f.safe, tx, signSorted(t, hash, f.owners[0]))
				wantRevert(t, rcpt, err, "GS020")
			})
			if b := env.Balance(t, to); b.Sign() != 0 {
				t.Fatalf("recipient got %s wei from rejected transactions", b)
			}
			if n := env.Nonce(t, f.safe); n.Sign() != 0 {
				t.Fatalf("nonce = %s after rejected transactions", n)
			}
		})
	}
}

func TestDeployment(t *testing.T) {
	for _, v := range versions {
		t.Run(v, func(t *testing.T) {
			t.Parallel()
			env := New(t, Artifacts(t), v)
			if env.ChainID.Cmp(big.NewInt(1337)) != 0 {
				t.Fatalf("chain id %s", env.ChainID)
			}
			for name, a := range map[string]common.Address{
				"singleton": env.Singleton, "factory": env.Factory, "multiSendCallOnly": env.MultiSendCallOnly,
				"multiSend": env.MultiSend, "signMessageLib": env.SignMessageLib, "fallbackHandler": env.FallbackHandler,
			} {
				if a == (common.Address{}) {
					t.Errorf("%s not deployed", name)
				}
			}
			// VERSION() of the singleton matches the artifacts' version.
			data, err := env.ABI(t, NameSafe).Pack("VERSION")
			if err != nil {
				t.Fatal(err)
			}
			raw, err := env.Call(t, env.Singleton, data)
			if err != nil {
				t.Fatal(err)
			}
			out, err := env.ABI(t, NameSafe).Unpack("VERSION", raw)
			if err != nil || out[0].(string) != v {
				t.Fatalf("VERSION() = %v, %v", out, err)
			}
		})
	}
}

func TestMissingArtifact(t *testing.T) {
	ft := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() { // t.Fatal ends the goroutine via runtime.Goexit
		defer close(done)
		New(ft, t.TempDir(), "1.4.1")
	}()
	<-done
	if !strings.Contains(ft.msg, "1.4.1") || !strings.Contains(ft.msg, "missing") {
		t.Fatalf("New on an empty dir: fatal message %q", ft.msg)
	}
}

type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
