package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/chain/safe"
	"github.com/airlock-vault/airlock/coordinator"
	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/inspect"
	"github.com/airlock-vault/airlock/keys"
	"github.com/airlock-vault/airlock/proposal"
	"github.com/airlock-vault/airlock/station"
	"github.com/airlock-vault/airlock/store"
	"github.com/airlock-vault/airlock/transport/transfer"
	"github.com/airlock-vault/airlock/workspace"
	"golang.org/x/term"
)

func (e *env) coordinator(ws *workspace.Workspace) *coordinator.Coordinator {
	return &coordinator.Coordinator{WS: ws, Reg: reg}
}

func (e *env) station(ws *workspace.Workspace) *station.Station {
	return &station.Station{WS: ws, Reg: reg}
}

func (e *env) propose(args []string) error {
	fs := e.flags("propose")
	vault := fs.String("vault", "", "vault name")
	psbtFile := fs.String("psbt", "", "unsigned PSBT, base64 or binary")
	safeTx := fs.String("safe-tx", "", "a Safe transaction (or message) as the Safe Transaction Service's JSON names its fields")
	lifetime := fs.Duration("lifetime", 0, "how long stations may sign (default: the policy's maximum)")
	intent := fs.String("intent", "", "what the transaction is for, in words")
	out := fs.String("out", "", "where to write the proposal (default: ID.proposal)")
	force := fs.Bool("force", false, "create it even if the coordinator's review blocks it")
	template := fs.String("template", "", "the policy's template the payment is made under")
	pay := templateFlags(fs)
	urgent := fs.Bool("urgent", false, "mark it urgent (an emergency): every station shows it, the audit logs say so")
	rotate := fs.Bool("rotate", false, "a Safe vault: the owner rotation to the owners and threshold of the policy in effect (with --nonce)")
	owners := fs.String("owners", "", "with --rotate: the Safe's owners now, in its own order (getOwners), comma-separated (default: the previous policy version's)")
	ownersThreshold := fs.Int("owners-threshold", 0, "with --rotate and --owners: the Safe's threshold now")
	cancelNonce := fs.Int64("cancel-nonce", -1, "a Safe vault: the on-chain rejection of nonce N (a call to the Safe itself that moves nothing), which fills or cancels that nonce")
	rpcURL := fs.String("rpc", "", "a Safe vault: an Ethereum node's JSON-RPC URL (or $AIRLOCK_ETH_RPC); the proposal attests the Safe's on-chain state with EIP-1186 proofs the stations verify offline")
	block := fs.String("block", "", "with --rpc: the block number to read the state at (default: the latest)")
	passFile := e.secretFlags(fs)
	asJSON := jsonFlag(fs)
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if *block != "" && *rpcURL == "" && os.Getenv("AIRLOCK_ETH_RPC") == "" {
		return usagef("propose: --block wants --rpc URL (or $AIRLOCK_ETH_RPC)")
	} else if *rotate {
		if len(pos) > 0 || *vault == "" || *pay.nonce < 0 || *psbtFile != "" || *safeTx != "" || *template != "" || *pay.to != "" || *pay.amount != "" || (*owners == "") != (*ownersThreshold == 0) {
			return usagef("propose --rotate: want --vault NAME --nonce N [--owners 0xA,0xB,... --owners-threshold K]")
		}
	} else if *cancelNonce >= 0 {
		if len(pos) > 0 || *vault == "" || *psbtFile != "" || *safeTx != "" || *template != "" || pay.set() || *owners != "" {
			return usagef("propose --cancel-nonce: want --vault NAME --cancel-nonce N (a Safe vault)")
		}
	} else if pay.set() {
		if len(pos) > 0 || *template == "" || !pay.complete() || *psbtFile != "" || *safeTx != "" {
			return usagef("propose: a Safe payment under a template wants --template NAME --to LABEL --amount X --nonce N")
		}
	} else if len(pos) > 0 || *vault == "" || (*psbtFile == "") == (*safeTx == "") {
		return usagef("propose: want --vault NAME and one of --psbt FILE or --safe-tx FILE (or --template NAME --to LABEL --amount X --nonce N)")
	}
	if e.service != "" {
		if *force || *template != "" || *urgent || *rotate || *cancelNonce >= 0 || pay.set() || *rpcURL != "" || *block != "" {
			return &usageError{"propose --coordinator: --force, --template, --urgent, --rotate, --cancel-nonce and --rpc are not offered by the service", "make such a proposal at the coordinator's workspace, without --coordinator"}
		}
		return e.proposeRemote(passFile, *vault, *psbtFile, *safeTx, *intent, *out, *lifetime, *asJSON)
	}
	ws, err := e.openRole(workspace.Coordinator)
	if err != nil {
		return err
	}
	defer ws.Close()
	prm := coordinator.ProposeParams{Vault: *vault, Intent: *intent, Lifetime: *lifetime, Force: *force, Template: *template, Urgent: *urgent, StateRPC: *rpcURL}
	if prm.StateRPC == "" {
		// A node the environment names attests a Safe's state; another
		// chain's vault is not asked for one.
		prm.StateRPC, prm.StateRPCIfSafe = os.Getenv("AIRLOCK_ETH_RPC"), true
	}
	if *block != "" {
		n, ok := new(big.Int).SetString(*block, 10)
		if !ok || n.Sign() < 0 {
			return usagef("propose: --block %q: want a block number", *block)
		}
		prm.StateBlock = n
	}
	switch {
	case *rotate:
		prm.Payload, err = e.rotation(ws, *vault, *owners, *ownersThreshold, uint64(*pay.nonce))
		if prm.Intent == "" {
			prm.Intent = "owner rotation to the policy in effect"
		}
	case *cancelNonce >= 0:
		prm.SafeTx, err = e.rejection(ws, *vault, uint64(*cancelNonce))
		if prm.Intent == "" {
			prm.Intent = fmt.Sprintf("on-chain rejection of nonce %d", *cancelNonce)
		}
	case pay.set():
		prm.Vault, prm.Payload, err = pay.build(ws, *template, *vault)
	case *safeTx != "":
		prm.SafeTx, err = envelope.ReadArtifact(*safeTx)
	default:
		prm.Payload, err = envelope.ReadArtifact(*psbtFile)
	}
	if err != nil {
		return err
	}
	ks, err := e.unlock(ws, passFile)
	if err != nil {
		return err
	}
	defer ks.Close()
	log := e.logger(ws, ks)
	env, rv, err := e.coordinator(ws).Propose(context.Background(), prm, ks.Identity)
	if errors.Is(err, workspace.ErrHalted) {
		return withHint(err, "see 'airlock audit verify'; once the workspace is repaired, 'airlock audit acknowledge --reason R'")
	}
	if errors.Is(err, coordinator.ErrBlocked) || errors.Is(err, coordinator.ErrDenied) {
		return withHint(&refusedError{err.Error()}, "stations would refuse it; --force creates it anyway (for drills: they refuse it offline)")
	}
	if err != nil {
		return err
	}
	if *out == "" {
		*out = env.IDHex()[:16] + ".proposal"
	}
	if err := writeEnvelope(*out, env); err != nil {
		return err
	}
	if err := log("proposal.exported", env.IDHex(), map[string]string{"file": filepath.Base(*out)}); err != nil {
		return err
	}
	p, _ := proposal.Decode(env)
	var state *stateOut
	if d, ok := rv.Details.(safe.Details); ok && d.State != nil {
		state = &stateOut{d.State.Block, strings.ToLower(d.State.BlockHash)}
	}
	return e.printProposed(env, p, rv.TxID, rv.Flags, state, *out, *asJSON)
}

// stateOut is the block a proposal attests a Safe's on-chain state at.
type stateOut struct {
	Block     uint64 `json:"block"`
	BlockHash string `json:"blockHash"`
}

// printProposed reports a proposal made, here or at the service, and
// written to out; a duplicate or conflicting proposal is warned of.
func (e *env) printProposed(env *envelope.Envelope, p *proposal.Proposal, txid string, flags []chain.Flag, state *stateOut, out string, asJSON bool) error {
	if asJSON {
		if flags == nil {
			flags = []chain.Flag{}
		}
		return printJSON(e.stdout, struct {
			Proposal string       `json:"proposal"`
			Vault    string       `json:"vault"`
			Chain    string       `json:"chain"`
			TxID     string       `json:"txid"`
			Created  string       `json:"created"`
			Expires  string       `json:"expires"`
			Template string       `json:"template,omitempty"`
			Flags    []chain.Flag `json:"flags"`
			State    *stateOut    `json:"state,omitempty"`
			File     string       `json:"file"`
		}{env.IDHex(), p.Vault, p.Chain, txid, p.CreatedTime().Format(time.RFC3339), p.ExpiresTime().Format(time.RFC3339), p.Template, flags, state, out})
	}
	fmt.Fprintf(e.stdout, "proposal %s\n", env.IDHex())
	fmt.Fprintf(e.stdout, "vault %s, txid %s, expires %s\n", p.Vault, txid, p.ExpiresTime().Format(time.RFC3339))
	if p.Template != "" {
		fmt.Fprintf(e.stdout, "template %s\n", p.Template)
	}
	if state != nil {
		fmt.Fprintf(e.stdout, "on-chain state attested at block %d, hash %s\n", state.Block, state.BlockHash)
	}
	for _, f := range flags {
		if f.Code == "duplicate-proposal" || f.Code == "conflicting-proposal" {
			fmt.Fprintf(e.stderr, "airlock: warning: %s: %s\n", f.Code, f.Message)
		}
	}
	fmt.Fprintf(e.stdout, "wrote %s: carry it to each signer station\n", out)
	return nil
}

func (e *env) review(args []string) error {
	fs := e.flags("review")
	asJSON := jsonFlag(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("review: want one proposal file")
	}
	ws, err := e.openRole(workspace.Station)
	if err != nil {
		return err
	}
	defer ws.Close()
	raw, err := e.proposalBytes(ws, pos[0])
	if err != nil {
		return err
	}
	res, err := e.station(ws).Examine(context.Background(), raw, filepath.Base(pos[0]))
	if err != nil {
		return err
	}
	if *asJSON {
		err = printJSON(e.stdout, inspect.Review(res))
	} else {
		inspect.ReviewText(e.stdout, res, e.now())
	}
	if err != nil {
		return err
	}
	if !res.MaySign() {
		return &refusedError{fmt.Sprintf("review: this station must not sign proposal %s", hex.EncodeToString(res.ID[:8]))}
	}
	return nil
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (e *env) sign(args []string) error {
	fs := e.flags("sign")
	approve := fs.Bool("approve", false, "approve and sign")
	reject := fs.Bool("reject", false, "reject, with --reason")
	reason := fs.String("reason", "", "why (required to reject or to override a conflict)")
	override := fs.Bool("override-conflict", false, "sign although an approved proposal spends the same outputs")
	out := fs.String("out", "", "where to write the decision (default: PROPOSAL.PARTICIPANT.approval)")
	passFile := e.secretFlags(fs)
	asJSON := jsonFlag(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("sign: want one proposal file")
	}
	if *approve == *reject {
		return usagef("sign: want exactly one of --approve or --reject")
	}
	if *reject && strings.TrimSpace(*reason) == "" {
		return usagef("sign: --reject needs --reason")
	}
	if *override && (*reject || strings.TrimSpace(*reason) == "") {
		return usagef("sign: --override-conflict needs --approve and --reason")
	}
	ws, err := e.openRole(workspace.Station)
	if err != nil {
		return err
	}
	defer ws.Close()
	raw, err := e.proposalBytes(ws, pos[0])
	if err != nil {
		return err
	}
	ks, err := e.unlock(ws, passFile)
	if err != nil {
		return err
	}
	defer ks.Close()
	d := station.Decision{Approve: *approve, Reason: *reason}
	if *override {
		d.Override, d.Reason = *reason, ""
	}
	if ks.Chain == nil {
		return errors.New("this workspace holds no chain key to sign with")
	}
	st := e.station(ws)
	st.Custody = (&transfer.Gap{WS: ws, Reg: reg}).Custody
	if st.Health, err = station.LastHealth(ws); err != nil {
		return err
	}
	// A large transaction (hundreds of inputs) takes seconds to review and
	// sign: say so on a terminal, so a pause is not taken for a hang.
	if f, ok := e.stderr.(*os.File); ok && len(raw) > largeProposal && term.IsTerminal(int(f.Fd())) {
		fmt.Fprintf(e.stderr, "airlock: reviewing and signing a %d KB proposal…", len(raw)>>10)
		defer fmt.Fprint(e.stderr, "\r\x1b[K")
	}
	env, res, err := st.Sign(context.Background(), raw, d, ks.Identity, ks.Chain)
	if res != nil && err != nil {
		if _, derr := ws.Decision(res.ID); derr == nil {
			return withHint(err, fmt.Sprintf("its decision is kept: 'airlock -C %s export %s --out FILE' writes it again", ws.Dir, hex.EncodeToString(res.ID[:8])))
		}
	}
	if errors.Is(err, store.ErrDuplicate) && res != nil {
		return withHint(err, fmt.Sprintf("the decision is kept: 'airlock -C %s export %s --out FILE' writes it again", ws.Dir, hex.EncodeToString(res.ID[:8])))
	}
	if err != nil {
		return err
	}
	if err := e.checkpoint(ws, ks); err != nil {
		return err
	}
	if *out == "" {
		*out = hex.EncodeToString(res.ID[:8]) + "." + ws.Config.Name + ".approval"
	}
	if err := writeEnvelope(*out, env); err != nil {
		return withHint(err, fmt.Sprintf("the decision is recorded and kept: 'airlock -C %s export %s --out FILE' writes it again", ws.Dir, hex.EncodeToString(res.ID[:8])))
	}
	what := "approved"
	if !*approve {
		what = "rejected"
	}
	if *asJSON {
		dev := ws.Config.Device
		if res.Endorser {
			dev = ""
		}
		return printJSON(e.stdout, struct {
			Proposal    string `json:"proposal"`
			Decision    string `json:"decision"`
			Endorsement bool   `json:"endorsement"`
			Participant string `json:"participant"`
			Device      string `json:"device"`
			TxID        string `json:"txid"`
			DecisionID  string `json:"decisionId"`
			File        string `json:"file"`
		}{hex.EncodeToString(res.ID[:]), map[bool]string{true: proposal.Approve, false: proposal.Reject}[*approve], res.Endorser,
			ws.Config.Name, dev, res.Review.TxID, env.IDHex(), *out})
	}
	fmt.Fprintf(e.stdout, "%s proposal %s as %s/%s (txid %s)\n", what, hex.EncodeToString(res.ID[:8]), ws.Config.Name, ws.Config.Device, res.Review.TxID)
	fmt.Fprintf(e.stdout, "wrote %s: carry it back to the coordinator\n", *out)
	return nil
}

func (e *env) collect(args []string) error {
	fs := e.flags("collect")
	ref := fs.String("proposal", "", "the proposal a Safe owner's external signature is for (hex, confirmation JSON, ur:eth-signature name none)")
	passFile := e.secretFlags(fs)
	asJSON := jsonFlag(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("collect: want one or more approval files")
	}
	if e.service != "" {
		return e.collectRemote(passFile, pos, *asJSON)
	}
	ws, err := e.openRole(workspace.Coordinator)
	if err != nil {
		return err
	}
	defer ws.Close()
	c := e.coordinator(ws)
	var ks *keyring
	defer func() { ks.Close() }()
	unlock := func() (keys.Identity, error) {
		if ks == nil {
			if ks, err = e.unlock(ws, passFile); err != nil {
				return nil, &unlockError{err}
			}
		}
		return ks.Identity, nil
	}
	// Every file is handled and reported; one refused file does not keep
	// the others from being collected, and a decision handed in twice is
	// reported, not an error.
	b := &collectBatch{e: e, asJSON: *asJSON}
	for _, path := range pos {
		raw, err := envelope.ReadArtifact(path)
		if err != nil {
			b.refuse(path, err.Error())
			continue
		}
		got, err := c.CollectAnyFor(context.Background(), *ref, raw, unlock)
		var locked *unlockError
		switch {
		case errors.As(err, &locked):
			return locked.err
		case errors.Is(err, coordinator.ErrAlreadyCollected):
			b.already(path)
			continue
		case err != nil:
			msg := err.Error()
			if errors.Is(err, workspace.ErrDuplicate) {
				msg += " (each participant decides once per proposal)"
			}
			b.refuse(path, msg)
			continue
		}
		fr := fileResult{path, "collected", "", []decided{}}
		for _, ch := range got {
			a := ch.Approval
			fr.Decisions = append(fr.Decisions, decided{hex.EncodeToString(a.Proposal), a.Participant, a.Device, a.Decision,
				ch.Endorsement, ch.External, len(ch.Verified), a.Reason})
			if *asJSON {
				continue
			}
			switch {
			case ch.External:
				fmt.Fprintf(e.stdout, "collected approval by %s/%s (external device, signed PSBT) for proposal %s: %d signatures verified\n", a.Participant, a.Device, hex.EncodeToString(a.Proposal[:8]), len(ch.Verified))
			case a.Decision == proposal.Approve && ch.Endorsement:
				fmt.Fprintf(e.stdout, "collected endorsement by %s for proposal %s: identity signature verified (counts for the policy's groups, not toward the threshold)\n", a.Participant, hex.EncodeToString(a.Proposal[:8]))
			case a.Decision == proposal.Approve:
				fmt.Fprintf(e.stdout, "collected approval by %s/%s for proposal %s: %d signatures verified\n", a.Participant, a.Device, hex.EncodeToString(a.Proposal[:8]), len(ch.Verified))
			default:
				fmt.Fprintf(e.stdout, "collected rejection by %s for proposal %s: %q\n", a.Participant, hex.EncodeToString(a.Proposal[:8]), a.Reason)
			}
		}
		b.collected(fr)
	}
	return b.finish(len(pos))
}

// decided is one decision a collected file recorded, as collect --json
// lists it.
type decided struct {
	Proposal           string `json:"proposal"`
	Participant        string `json:"participant"`
	Device             string `json:"device"`
	Decision           string `json:"decision"`
	Endorsement        bool   `json:"endorsement"`
	External           bool   `json:"external"`
	SignaturesVerified int    `json:"signaturesVerified"`
	Reason             string `json:"reason,omitempty"`
}

// fileResult is what became of one file collect was given.
type fileResult struct {
	File      string    `json:"file"`
	Result    string    `json:"result"` // collected, already-collected, refused
	Reason    string    `json:"reason,omitempty"`
	Decisions []decided `json:"decisions"`
}

// collectBatch tallies a collect of several files, here or at the
// service, and reports it.
type collectBatch struct {
	e                 *env
	asJSON            bool
	results           []fileResult
	refused           []string
	collectedN, again int
}

// say prints, but not when the output is JSON.
func (b *collectBatch) say(w io.Writer, format string, args ...any) {
	if !b.asJSON {
		fmt.Fprintf(w, format, args...)
	}
}

func (b *collectBatch) refuse(path, msg string) {
	b.say(b.e.stderr, "airlock: %s: refused: %s\n", path, msg)
	b.refused = append(b.refused, path)
	b.results = append(b.results, fileResult{path, "refused", msg, []decided{}})
}

func (b *collectBatch) already(path string) {
	b.say(b.e.stdout, "%s: already collected; nothing changed\n", path)
	b.again++
	b.results = append(b.results, fileResult{path, "already-collected", "", []decided{}})
}

func (b *collectBatch) collected(fr fileResult) {
	b.collectedN++
	b.results = append(b.results, fr)
}

// finish prints the batch's JSON or, for several files, its tally; a
// refused file makes it a refusal (exit 3).
func (b *collectBatch) finish(files int) error {
	if b.asJSON {
		if b.results == nil {
			b.results = []fileResult{}
		}
		if err := printJSON(b.e.stdout, struct {
			Files            []fileResult `json:"files"`
			Collected        int          `json:"collected"`
			AlreadyCollected int          `json:"alreadyCollected"`
			Refused          int          `json:"refused"`
		}{b.results, b.collectedN, b.again, len(b.refused)}); err != nil {
			return err
		}
	} else if files > 1 {
		fmt.Fprintf(b.e.stdout, "%d files: %d collected, %d already collected, %d refused\n", files, b.collectedN, b.again, len(b.refused))
	}
	if len(b.refused) > 0 {
		return withHint(&refusedError{fmt.Sprintf("collect: %d of %d files refused: %s", len(b.refused), files, strings.Join(b.refused, ", "))},
			"each refusal is above with its reason; the other files were handled and need not be handed in again")
	}
	return nil
}

// unlockError is a failure to unlock the coordinator's key during a batch:
// it ends the batch, since no other file would fare better.
type unlockError struct{ err error }

func (e *unlockError) Error() string { return e.err.Error() }
func (e *unlockError) Unwrap() error { return e.err }

func (e *env) status(args []string) error {
	fs := e.flags("status")
	asJSON := fs.Bool("json", false, "print JSON")
	passFile := e.secretFlags(fs)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if e.service != "" {
		return e.statusRemote(passFile, *asJSON)
	}
	ws, err := e.openRole(workspace.Coordinator)
	if err != nil {
		return err
	}
	defer ws.Close()
	rows, err := e.coordinator(ws).Status(context.Background())
	if err != nil {
		return err
	}
	if *asJSON {
		type row struct {
			coordinator.Row
			Approvals   []string          `json:"approvals"`
			Rejects     map[string]string `json:"rejections"`
			Duplicates  []string          `json:"duplicates"`
			SecondsLeft int64             `json:"secondsLeft"`
		}
		out := []row{}
		for _, r := range rows {
			rj := r.Rejects
			if rj == nil {
				rj = map[string]string{}
			}
			out = append(out, row{r, orEmpty(r.Approvals), rj, orEmpty(r.Duplicates), int64(r.Left / time.Second)})
		}
		return printJSON(e.stdout, struct {
			Proposals []row `json:"proposals"`
		}{out})
	}
	if c, err := ws.PolicyChain(reg); err == nil {
		for _, q := range c.Pending() {
			fmt.Fprintf(e.stdout, "policy %s version %d pending: takes effect at %s (version %d in effect)\n", q.Name, q.Version, q.EffectiveAt().Format(time.RFC3339), c.Current().Version)
		}
	}
	e.printStatus(rows, "")
	return nil
}

// printStatus lists proposals, here or at the service (where names the
// place a release is asked for: "" or " at the coordinator").
func (e *env) printStatus(rows []coordinator.Row, where string) {
	if len(rows) == 0 {
		fmt.Fprintln(e.stdout, "no proposals")
	}
	for _, r := range rows {
		// A countdown only while stations may still sign.
		when := ""
		switch {
		case r.Left > 0:
			when = "  " + r.Left.String() + " left"
		case r.State == proposal.StateExpired:
			when = "  expired " + r.Expires.Format(time.RFC3339)
		}
		fmt.Fprintf(e.stdout, "%s  vault %s  %s  %s approvals (%s)%s\n", r.ID[:16], r.Vault, r.State, r.Decisions, list(r.Approvals), when)
		fmt.Fprintf(e.stdout, "    txid %s\n", r.TxID)
		if r.Note != "" {
			fmt.Fprintf(e.stdout, "    %s\n", r.Note)
		}
		for _, who := range workspace.SortedKeys(r.Rejects) {
			fmt.Fprintf(e.stdout, "    rejected by %s: %q\n", who, r.Rejects[who])
		}
		for _, d := range r.Duplicates {
			fmt.Fprintf(e.stdout, "    warning: proposal %s is live for the same transaction; withdraw one of them\n", d[:16])
		}
		if r.State.Releases() {
			fmt.Fprintf(e.stdout, "    ended: 'airlock release %s --out FILE'%s gives the signed release that frees the stations' claims\n", r.ID[:16], where)
		}
	}
}

func (e *env) finalize(args []string) error {
	fs := e.flags("finalize")
	out := fs.String("out", "", "where to write the raw transaction hex (default: TXID.tx)")
	passFile := e.secretFlags(fs)
	asJSON := jsonFlag(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("finalize: want one proposal: its id, a unique prefix, or its file")
	}
	if e.service != "" {
		return e.finalizeRemote(passFile, pos[0], *out, *asJSON)
	}
	ref := pos[0]
	ref, err = proposalID(ref)
	if err != nil {
		return err
	}
	ws, ks, done, err := e.unlocked(workspace.Coordinator, passFile)
	if err != nil {
		return err
	}
	defer done()
	f, err := e.coordinator(ws).Finalize(context.Background(), ref, ks.Identity)
	if err != nil {
		return err
	}
	if err := e.checkpoint(ws, ks); err != nil {
		return err
	}
	if f.Again && !*asJSON {
		fmt.Fprintf(e.stdout, "proposal %s was finalized before: giving back the stored transaction and threshold proof (nothing new signed)\n", hex.EncodeToString(f.Proof.Proposal[:8]))
	}
	return e.writeFinal(f, *out, *asJSON)
}

// writeFinal writes a finalized proposal's outputs: OUT (the transaction),
// OUT's .proof and, where the chain needs one, .unsigned.json.
func (e *env) writeFinal(f *coordinator.Finalized, out string, asJSON bool) error {
	if out == "" {
		out = f.Final.TxID[:16] + ".tx"
	}
	hint := fmt.Sprintf("nothing is lost: 'airlock export %s --out FILE' writes them again", hex.EncodeToString(f.Proof.Proposal[:8]))
	if err := workspace.WriteFileAtomic(out, []byte(hex.EncodeToString(f.Final.Raw)+"\n"), 0o644); err != nil {
		return withHint(err, hint)
	}
	files := inspect.FinalFiles{Transaction: out, Kind: f.Final.RawKind, Proof: strings.TrimSuffix(out, filepath.Ext(out)) + ".proof"}
	if files.Kind == "" {
		files.Kind = "raw transaction hex"
	}
	if f.Final.Unsigned != nil {
		files.Unsigned = strings.TrimSuffix(out, filepath.Ext(out)) + ".unsigned.json"
		if err := workspace.WriteFileAtomic(files.Unsigned, append(f.Final.Unsigned, '\n'), 0o644); err != nil {
			return withHint(err, hint)
		}
		files.Kind += "; " + files.Unsigned + ": the unsigned transaction any account may send"
	}
	if err := writeEnvelope(files.Proof, f.Env); err != nil {
		return withHint(err, hint)
	}
	if asJSON {
		return printJSON(e.stdout, inspect.Final(f, files))
	}
	inspect.FinalText(e.stdout, f, files)
	return nil
}

// proposalBytes reads a proposal from a file, or from the workspace by id
// (proposals imported from media are kept there).
func (e *env) proposalBytes(ws *workspace.Workspace, ref string) ([]byte, error) {
	if fi, err := os.Stat(ref); err == nil && fi.Mode().IsRegular() {
		return envelope.ReadArtifact(ref)
	}
	pe, err := ws.Proposal(ref)
	if err != nil {
		return nil, withHint(fmt.Errorf("%s is neither a file nor a proposal this workspace holds: %w", ref, err), "import it from the media first, or pass the file")
	}
	return pe.Encode()
}

// rotation builds a Safe vault's owner rotation (coordinator.Rotation)
// from its owners now: given, or the previous policy version's.
func (e *env) rotation(ws *workspace.Workspace, name, owners string, threshold int, nonce uint64) ([]byte, error) {
	c, err := ws.PolicyChain(reg)
	if err != nil {
		return nil, err
	}
	var from []string
	if owners != "" {
		from = strings.Split(owners, ",")
	}
	b, err := coordinator.Rotation(c.Versions, c.Current(), name, from, threshold, nonce)
	if err != nil && owners == "" {
		return nil, withHint(err, "give the Safe's owners now (getOwners) with --owners and --owners-threshold")
	}
	return b, err
}

// largeProposal is the size from which signing says it is working (a
// 2-of-3 P2WSH PSBT of about 250 inputs).
const largeProposal = 256 << 10
