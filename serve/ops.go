package serve

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/airlock-vault/airlock/audit"
	"github.com/airlock-vault/airlock/chain/bitcoin/rpc"
	"github.com/airlock-vault/airlock/coordinator"
	"github.com/airlock-vault/airlock/keys"
	"github.com/airlock-vault/airlock/policy"
	"github.com/airlock-vault/airlock/proposal"
	"github.com/airlock-vault/airlock/transport/transfer"
	"github.com/airlock-vault/airlock/vault"
	"github.com/ethereum/go-ethereum/common"
)

// Broadcast is the answer to broadcast.
type Broadcast struct {
	Proposal string `json:"proposal"`
	// Chain is bitcoin or ethereum.
	Chain string `json:"chain"`
	// TxID is the Bitcoin transaction's id, or the Ethereum transaction
	// that executed the Safe transaction.
	TxID string `json:"txid"`
	// Node is the node's URL without its credentials.
	Node string `json:"node"`
	// Safe is what the execution checked and where it landed (Safe
	// proposals only).
	Safe *coordinator.SafeSent `json:"safe,omitempty"`
}

// broadcast sends a finalized transaction: a Bitcoin one to the node the
// service was given (Config.Node), after the coordinator's own checks;
// a Safe one is executed through the Ethereum node (Config.Ethereum)
// from the executor's account (safeBroadcast). A failure records
// nothing.
func (s *Server) broadcast(c *call) (*reply, error) {
	if len(c.body) > 0 && string(c.body) != "{}" {
		return nil, problem("malformed", "broadcast takes an empty body or {}")
	}
	if err := s.enter(c); err != nil {
		return nil, err
	}
	pe, err := s.lookup(c)
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	p, err := proposal.Decode(pe)
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	if p.Chain == "ethereum" {
		// Unlocks s.mu while the node mines.
		return s.broadcastSafe(c, pe.IDHex())
	}
	defer s.mu.Unlock()
	if s.cfg.Node == nil {
		return nil, problem("no-node", "the service was started without a Bitcoin node: airlock serve --rpc URL")
	}
	txid, url, err := s.coord().Broadcast(c.ctx, pe.IDHex(), nil, *s.cfg.Node)
	if err != nil {
		return nil, broadcastProblem(err)
	}
	s.cfg.Log.Info("broadcast", "proposal", pe.IDHex(), "txid", txid, "node", url, "principal", c.who.ID)
	return jsonReply(http.StatusOK, Broadcast{Proposal: pe.IDHex(), Chain: "bitcoin", TxID: txid, Node: url}), nil
}

// broadcastSafe executes a finalized Safe transaction, entered under
// s.mu, which it gives up while the node works: the checks against the
// workspace under the lock, then the node's checks, the send and the
// wait for the receipt (minutes, at most the node's receipt timeout)
// without it, so hand-ins go on meanwhile, then the record under it
// again. The execution goes on when the client hangs up: a transaction
// sent is recorded. One execution of a proposal at a time in this
// process; across replicas the Safe's own nonce lets only one
// execution succeed (the next is refused at its estimate, or reverts).
func (s *Server) broadcastSafe(c *call, id string) (*reply, error) {
	if s.cfg.Ethereum == nil || s.cfg.Executor == nil {
		s.mu.Unlock()
		return nil, problem("no-node", "the service was started without an Ethereum node and an executor: airlock serve --eth-rpc URL --executor-keystore FILE")
	}
	x, err := s.coord().PrepareSafe(c.ctx, id, nil)
	s.mu.Unlock()
	if err != nil {
		return nil, broadcastProblem(err)
	}
	if !s.executing.start(x.Proposal()) {
		return nil, problem("in-flight", fmt.Sprintf("proposal %s is being executed by another request; its answer tells the result", id))
	}
	defer s.executing.end(x.Proposal())
	node := *s.cfg.Ethereum
	if node.ReceiptTimeout <= 0 {
		node.ReceiptTimeout = coordinator.DefaultReceiptTimeout
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.ctx), node.ReceiptTimeout+2*time.Minute)
	defer cancel()
	sent, err := x.Execute(ctx, node, s.cfg.Executor)
	if err != nil {
		return nil, broadcastProblem(err)
	}
	// A fact to record, not a request to allow: not refused if the
	// caller's key was revoked while the node mined.
	s.mu.Lock()
	err = s.coord().RecordSafeExecution(ctx, x, sent)
	s.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("serve: the Safe transaction executed in %s (block %d) but was not recorded: %w; run 'airlock broadcast' with the same node to record it", sent.TxHash, sent.Block, err)
	}
	s.cfg.Log.Info("broadcast", "proposal", id, "txid", sent.TxHash, "safeTxHash", sent.SafeTxHash, "block", sent.Block, "node", sent.Node, "principal", c.who.ID)
	return jsonReply(http.StatusOK, Broadcast{Proposal: id, Chain: "ethereum", TxID: sent.TxHash, Node: sent.Node, Safe: sent}), nil
}

// broadcastProblem maps the coordinator's refusals to problems.
func broadcastProblem(err error) error {
	var r *coordinator.Refusal
	var rev *coordinator.SafeRevert
	switch {
	case errors.Is(err, coordinator.ErrNotFinalized):
		return problem("not-allowed", err.Error())
	case errors.Is(err, coordinator.ErrNotYetFinal):
		return problem("not-allowed", err.Error())
	case errors.Is(err, coordinator.ErrNotSafe):
		return problem("not-allowed", err.Error())
	case errors.Is(err, coordinator.ErrNodeRejected):
		return problem("node-rejected", err.Error())
	case errors.As(err, &rev) && rev.TxHash == (common.Hash{}):
		return problem("reverted", err.Error()+"; nothing was sent or recorded")
	case errors.As(err, &rev):
		return problem("reverted", err.Error()+"; it reverted on chain (gas paid); nothing was recorded")
	case errors.Is(err, coordinator.ErrExecutionFailure):
		return problem("reverted", err.Error()+"; the Safe's nonce is spent: propose the payment again at the next nonce")
	case errors.Is(err, coordinator.ErrNoReceipt):
		return problem("no-receipt", err.Error())
	case errors.As(err, &r):
		return problem("invalid", err.Error())
	}
	return err
}

// inFlight is the set of proposals being executed.
type inFlight struct {
	mu sync.Mutex
	m  map[[32]byte]bool
}

func (f *inFlight) start(id [32]byte) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m[id] {
		return false
	}
	if f.m == nil {
		f.m = map[[32]byte]bool{}
	}
	f.m[id] = true
	return true
}

func (f *inFlight) end(id [32]byte) {
	f.mu.Lock()
	delete(f.m, id)
	f.mu.Unlock()
}

// maxScan bounds the log entries one page of transfers reads.
const maxScan = 10000

// transfers pages through the chain of custody: the log's transfer.*
// entries (every artifact carried across the gap, on media or by
// camera), as "airlock audit transfers" lists them.
func (s *Server) transfers(c *call) (*reply, error) {
	from, limit, err := logPage(c)
	if err != nil {
		return nil, err
	}
	out := Entries{Entries: []Entry{}}
	err = s.coord().WS.AuditLog(c.ctx, func(l *audit.Log) error {
		out.Size = l.Size()
		i := from
		for ; i < out.Size && int64(len(out.Entries)) < limit && i-from < maxScan; i++ {
			e, err := l.Entry(i)
			if err != nil {
				return err
			}
			if strings.HasPrefix(e.Event.Kind, "transfer.") {
				out.Entries = append(out.Entries, Entry{Index: i, Time: e.Event.Time, Kind: e.Event.Kind, Subject: e.Event.Subject, Detail: e.Event.Detail})
			}
		}
		if i < out.Size {
			out.Next = &i
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return jsonReply(http.StatusOK, out), nil
}

// Reconciliation is the coordinator's transfer records against the
// stations' (signed into their approvals).
type Reconciliation struct {
	// Stations is how many stations' records were compared.
	Stations int       `json:"stations"`
	Alarms   int       `json:"alarms"`
	Pending  int       `json:"pending"`
	Findings []Finding `json:"findings"`
}

// Finding is one disagreement or pending transfer.
type Finding struct {
	Alarm       bool   `json:"alarm"`
	Kind        string `json:"kind"`
	Participant string `json:"participant"`
	Sequence    uint64 `json:"sequence"`
	Finding     string `json:"finding"`
}

func (s *Server) reconciliation(c *call) (*reply, error) {
	n, fs, err := transfer.Reconcile(s.coord().WS)
	if err != nil {
		return nil, err
	}
	out := Reconciliation{Stations: n, Findings: []Finding{}}
	for _, f := range fs {
		if f.Alarm() {
			out.Alarms++
		} else {
			out.Pending++
		}
		out.Findings = append(out.Findings, Finding{Alarm: f.Alarm(), Kind: f.Kind, Participant: f.Participant, Sequence: f.Sequence, Finding: f.String()})
	}
	return jsonReply(http.StatusOK, out), nil
}

// Consistency proves that the log a client saw (a checkpoint of From
// entries) is a prefix of the log now (the signed checkpoint of To
// entries): RFC 6962 consistency, checked with audit.CheckConsistency.
type Consistency struct {
	From       int64    `json:"from"`
	To         int64    `json:"to"`
	Checkpoint string   `json:"checkpoint"` // the signed note of To entries
	Proof      [][]byte `json:"proof"`      // the tree hashes
}

func (s *Server) consistency(c *call) (*reply, error) {
	q := c.r.URL.Query()
	var from int64 = -1
	for k, vs := range q {
		n, err := strconv.ParseInt(vs[0], 10, 64)
		switch {
		case k != "from":
			return nil, problem("malformed", fmt.Sprintf("unknown query parameter %q", k))
		case err != nil || n < 1:
			return nil, problem("malformed", "from is the size of a checkpoint seen before, at least 1")
		}
		from = n
	}
	if from < 0 {
		return nil, problem("malformed", "want from, the size of a checkpoint seen before")
	}
	cp, err := s.covering(c.ctx, -1)
	if err != nil {
		return nil, err
	}
	pub, err := keys.IdentityPublic(s.cfg.Identity)
	if err != nil {
		return nil, err
	}
	ck, err := audit.OpenCheckpoint(cp, s.coord().WS.Config.LogOrigin(), pub)
	if err != nil {
		return nil, err
	}
	if from > ck.Size {
		return nil, problem("not-found", fmt.Sprintf("the log has %d entries, fewer than %d: a checkpoint of %d entries was never this log's", ck.Size, from, from))
	}
	out := Consistency{From: from, To: ck.Size, Checkpoint: string(cp), Proof: [][]byte{}}
	if from < ck.Size {
		err = s.coord().WS.AuditLog(c.ctx, func(l *audit.Log) error {
			p, err := l.ConsistencyProof(from, ck.Size)
			for _, h := range p {
				out.Proof = append(out.Proof, append([]byte(nil), h[:]...))
			}
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	return jsonReply(http.StatusOK, out), nil
}

// NodeBalance reads a Bitcoin vault's balance from node (which must index
// addresses: btcd --addrindex), for the dashboard's vault page: the
// unspent outputs paying its receive and change addresses, scanned to
// the gap limit. It is the node's word, shown for information.
func NodeBalance(node coordinator.Node) func(ctx context.Context, pol *policy.Policy, v *policy.Vault) (string, error) {
	return func(ctx context.Context, pol *policy.Policy, v *policy.Vault) (string, error) {
		if v.Chain != "bitcoin" {
			return "", fmt.Errorf("the service reads balances from a Bitcoin node; vault %q is a %s vault", v.Name, v.Chain)
		}
		vv, err := vault.FromPolicy(pol, v.Name)
		if err != nil {
			return "", err
		}
		var opts []rpc.Option
		if node.CAFile != "" {
			opts = append(opts, rpc.WithCAFile(node.CAFile))
		}
		client, err := rpc.New(node.URL, opts...)
		if err != nil {
			return "", err
		}
		defer client.Close()
		ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		b, err := vv.Balance(ctx, client, vault.DefaultGap)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%d.%08d BTC in %d unspent outputs (%d of %d addresses used; node %s)", b.Sat/1e8, b.Sat%1e8, b.Outputs, b.Used, b.Scanned, client.URL()), nil
	}
}
