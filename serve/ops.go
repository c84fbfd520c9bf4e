package serve

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/airlock-vault/airlock/audit"
	"github.com/airlock-vault/airlock/chain/bitcoin/rpc"
	"github.com/airlock-vault/airlock/coordinator"
	"github.com/airlock-vault/airlock/keys"
	"github.com/airlock-vault/airlock/policy"
	"github.com/airlock-vault/airlock/transport/transfer"
	"github.com/airlock-vault/airlock/vault"
)

// Broadcast is the answer to broadcast.
type Broadcast struct {
	Proposal string `json:"proposal"`
	TxID     string `json:"txid"`
	// Node is the node's URL without its credentials.
	Node string `json:"node"`
}

// broadcast sends a finalized Bitcoin transaction to the node the
// service was given (Config.Node), after the coordinator's own checks
// (coordinator.Broadcast: the proof's transaction, every input through
// btcd's script engine, relative locks against the node's chain).
func (s *Server) broadcast(c *call) (*reply, error) {
	if len(c.body) > 0 && string(c.body) != "{}" {
		return nil, problem("malformed", "broadcast takes an empty body or {}")
	}
	if s.cfg.Node == nil {
		return nil, problem("no-node", "the service was started without a node: airlock serve --rpc URL")
	}
	pe, err := s.lookup(c)
	if err != nil {
		return nil, err
	}
	txid, url, err := s.coord().Broadcast(c.ctx, pe.IDHex(), nil, *s.cfg.Node)
	if err != nil {
		var r *coordinator.Refusal
		switch {
		case errors.Is(err, coordinator.ErrNotFinalized):
			return nil, problem("not-allowed", err.Error())
		case errors.Is(err, coordinator.ErrNotBitcoin):
			return nil, problem("not-allowed", err.Error()+"; execute a Safe transaction from any account with the threshold proof's signatures")
		case errors.Is(err, coordinator.ErrNotYetFinal):
			return nil, problem("not-allowed", err.Error())
		case errors.Is(err, coordinator.ErrNodeRejected):
			return nil, problem("node-rejected", err.Error())
		case errors.As(err, &r):
			return nil, problem("invalid", err.Error())
		}
		return nil, err
	}
	s.cfg.Log.Info("broadcast", "proposal", pe.IDHex(), "txid", txid, "node", url, "principal", c.who.ID)
	return jsonReply(http.StatusOK, Broadcast{Proposal: pe.IDHex(), TxID: txid, Node: url}), nil
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
