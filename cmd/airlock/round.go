package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/airlock-vault/airlock/coordinator"
	"github.com/airlock-vault/airlock/keys"
	"github.com/airlock-vault/airlock/proposal"
	"github.com/airlock-vault/airlock/station"
	"github.com/airlock-vault/airlock/store"
	"github.com/airlock-vault/airlock/transport/transfer"
	"github.com/airlock-vault/airlock/workspace"
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
	urgent := fs.Bool("urgent", false, "mark it urgent (an emergency): every station shows it, the audit logs say so")
	passFile := e.secretFlags(fs)
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 || *vault == "" || (*psbtFile == "") == (*safeTx == "") {
		return usagef("propose: want --vault NAME and one of --psbt FILE or --safe-tx FILE")
	}
	ws, err := e.openRole(workspace.Coordinator)
	if err != nil {
		return err
	}
	defer ws.Close()
	prm := coordinator.ProposeParams{Vault: *vault, Intent: *intent, Lifetime: *lifetime, Force: *force, Urgent: *urgent}
	if *safeTx != "" {
		prm.SafeTx, err = readArtifact(*safeTx)
	} else {
		prm.Payload, err = readArtifact(*psbtFile)
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
	fmt.Fprintf(e.stdout, "proposal %s\n", env.IDHex())
	fmt.Fprintf(e.stdout, "vault %s, txid %s, expires %s\n", p.Vault, rv.TxID, p.ExpiresTime().Format(time.RFC3339))
	for _, f := range rv.Flags {
		if f.Code == "duplicate-proposal" || f.Code == "conflicting-proposal" {
			fmt.Fprintf(e.stderr, "airlock: warning: %s: %s\n", f.Code, f.Message)
		}
	}
	fmt.Fprintf(e.stdout, "wrote %s: carry it to each signer station\n", *out)
	return nil
}

func (e *env) review(args []string) error {
	fs := e.flags("review")
	asJSON := fs.Bool("json", false, "print JSON")
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
		err = printJSON(e.stdout, reviewJSON(res))
	} else {
		e.printReview(res)
	}
	if err != nil {
		return err
	}
	if !res.MaySign() {
		return &refusedError{fmt.Sprintf("review: this station must not sign proposal %s", hex.EncodeToString(res.ID[:8]))}
	}
	return nil
}

func reviewJSON(res *station.Result) any {
	var conflicts []string
	for _, c := range res.Conflicts {
		conflicts = append(conflicts, c.Resource+" spent by "+hex.EncodeToString(c.Proposal[:]))
	}
	return struct {
		Proposal      string   `json:"proposal"`
		Vault         string   `json:"vault"`
		PolicyVersion uint64   `json:"policyVersion"`
		Policy        string   `json:"policy"`
		Created       string   `json:"created"`
		Expires       string   `json:"expires"`
		Intent        string   `json:"intent,omitempty"`
		Urgent        bool     `json:"urgent,omitempty"`
		Review        any      `json:"review"`
		Refusals      []string `json:"refusals"`
		Conflicts     []string `json:"conflicts"`
		Verdict       any      `json:"verdict"`
		MaySign       bool     `json:"maySign"`
	}{hex.EncodeToString(res.ID[:]), res.Proposal.Vault, res.Policy.Version, hex.EncodeToString(res.PolicyID[:]),
		res.Proposal.CreatedTime().Format(time.RFC3339), res.Proposal.ExpiresTime().Format(time.RFC3339), res.Proposal.Intent,
		res.Proposal.Urgent, res.Review, orEmpty(res.Refusals), orEmpty(conflicts), res.Verdict, res.MaySign()}
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (e *env) printReview(res *station.Result) {
	w := e.stdout
	p := res.Proposal
	if p.Urgent {
		fmt.Fprintln(w, "*** URGENT: the coordinator marks this an emergency proposal; review it as carefully as any other ***")
	}
	fmt.Fprintf(w, "proposal %s\n", hex.EncodeToString(res.ID[:]))
	fmt.Fprintf(w, "signed by coordinator %q under policy %s version %d (%s)\n", p.Coordinator, res.Policy.Name, res.Policy.Version, hex.EncodeToString(res.PolicyID[:8]))
	fmt.Fprintf(w, "created %s, expires %s (%v left)\n", p.CreatedTime().Format(time.RFC3339), p.ExpiresTime().Format(time.RFC3339), p.ExpiresTime().Sub(e.now()).Truncate(time.Second))
	if p.Intent != "" {
		fmt.Fprintf(w, "the coordinator says: %q (not verified; what follows is)\n", p.Intent)
	}
	for _, l := range res.Review.Lines {
		fmt.Fprintln(w, l)
	}
	for _, f := range res.Review.Flags {
		fmt.Fprintf(w, "flag %s [%s]: %s\n", f.Code, f.Severity, f.Message)
	}
	if res.Verdict != nil {
		for _, l := range strings.Split(strings.TrimSpace(res.Verdict.String()), "\n") {
			fmt.Fprintf(w, "policy: %s\n", l)
		}
	}
	for _, c := range res.Conflicts {
		fmt.Fprintf(w, "conflict: %s is already spent by approved proposal %s\n", c.Resource, hex.EncodeToString(c.Proposal[:8]))
	}
	for _, r := range res.Refusals {
		fmt.Fprintf(w, "refusal: %s\n", r)
	}
	if res.MaySign() {
		fmt.Fprintln(w, "verdict: may sign")
	} else {
		fmt.Fprintln(w, "verdict: REFUSE")
	}
}

func (e *env) sign(args []string) error {
	fs := e.flags("sign")
	approve := fs.Bool("approve", false, "approve and sign")
	reject := fs.Bool("reject", false, "reject, with --reason")
	reason := fs.String("reason", "", "why (required to reject or to override a conflict)")
	override := fs.Bool("override-conflict", false, "sign although an approved proposal spends the same outputs")
	out := fs.String("out", "", "where to write the decision (default: PROPOSAL.PARTICIPANT.approval)")
	passFile := e.secretFlags(fs)
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
	fmt.Fprintf(e.stdout, "%s proposal %s as %s/%s (txid %s)\n", what, hex.EncodeToString(res.ID[:8]), ws.Config.Name, ws.Config.Device, res.Review.TxID)
	fmt.Fprintf(e.stdout, "wrote %s: carry it back to the coordinator\n", *out)
	return nil
}

func (e *env) collect(args []string) error {
	fs := e.flags("collect")
	passFile := e.secretFlags(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("collect: want one or more approval files")
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
				return nil, err
			}
		}
		return ks.Identity, nil
	}
	for _, path := range pos {
		raw, err := readArtifact(path)
		if err != nil {
			return err
		}
		got, err := c.CollectAny(context.Background(), raw, unlock)
		if errors.Is(err, workspace.ErrDuplicate) {
			return withHint(fmt.Errorf("%s: %w", path, err), "each participant decides once per proposal")
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		for _, ch := range got {
			a := ch.Approval
			switch {
			case ch.External:
				fmt.Fprintf(e.stdout, "collected approval by %s/%s (external device, signed PSBT) for proposal %s: %d signatures verified\n", a.Participant, a.Device, hex.EncodeToString(a.Proposal[:8]), len(ch.Verified))
			case a.Decision == proposal.Approve:
				fmt.Fprintf(e.stdout, "collected approval by %s/%s for proposal %s: %d signatures verified\n", a.Participant, a.Device, hex.EncodeToString(a.Proposal[:8]), len(ch.Verified))
			default:
				fmt.Fprintf(e.stdout, "collected rejection by %s for proposal %s: %q\n", a.Participant, hex.EncodeToString(a.Proposal[:8]), a.Reason)
			}
		}
	}
	return nil
}

func (e *env) status(args []string) error {
	fs := e.flags("status")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parse(fs, args); err != nil {
		return err
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
		return printJSON(e.stdout, rows)
	}
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
			fmt.Fprintf(e.stdout, "    ended: 'airlock release %s --out FILE' gives the signed release that frees the stations' claims\n", r.ID[:16])
		}
	}
	return nil
}

func (e *env) finalize(args []string) error {
	fs := e.flags("finalize")
	out := fs.String("out", "", "where to write the raw transaction hex (default: TXID.tx)")
	passFile := e.secretFlags(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("finalize: want one proposal: its id, a unique prefix, or its file")
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
	if f.Again {
		fmt.Fprintf(e.stdout, "proposal %s was finalized before: giving back the stored transaction and threshold proof (nothing new signed)\n", hex.EncodeToString(f.Proof.Proposal[:8]))
	}
	return e.writeFinal(f, *out)
}

// writeFinal writes a finalized proposal's outputs: OUT (the transaction),
// OUT's .proof and, where the chain needs one, .unsigned.json.
func (e *env) writeFinal(f *coordinator.Finalized, out string) error {
	if out == "" {
		out = f.Final.TxID[:16] + ".tx"
	}
	hint := fmt.Sprintf("nothing is lost: 'airlock export %s --out FILE' writes them again", hex.EncodeToString(f.Proof.Proposal[:8]))
	out2 := &out
	if err := workspace.WriteFileAtomic(*out2, []byte(hex.EncodeToString(f.Final.Raw)+"\n"), 0o644); err != nil {
		return withHint(err, hint)
	}
	kind := f.Final.RawKind
	if kind == "" {
		kind = "raw transaction hex"
	}
	if f.Final.Unsigned != nil {
		unsigned := strings.TrimSuffix(*out2, filepath.Ext(*out2)) + ".unsigned.json"
		if err := workspace.WriteFileAtomic(unsigned, append(f.Final.Unsigned, '\n'), 0o644); err != nil {
			return withHint(err, hint)
		}
		kind += "; " + unsigned + ": the unsigned transaction any account may send"
	}
	proofPath := strings.TrimSuffix(*out2, filepath.Ext(*out2)) + ".proof"
	if err := writeEnvelope(proofPath, f.Env); err != nil {
		return withHint(err, hint)
	}
	for _, l := range f.Final.Lines {
		fmt.Fprintln(e.stdout, l)
	}
	var who []string
	for _, a := range f.Proof.Approvals {
		who = append(who, a.Participant+"/"+a.Device)
	}
	if f.Proof.Path == "recovery" {
		fmt.Fprintf(e.stdout, "recovery path taken under policy version %d, approved by the recovery signer %s alone\n", f.Proof.PolicyVersion, strings.Join(who, ", "))
	} else {
		fmt.Fprintf(e.stdout, "threshold %d met under policy version %d by %s\n", f.Proof.Threshold, f.Proof.PolicyVersion, strings.Join(who, ", "))
	}
	fmt.Fprintf(e.stdout, "wrote %s (%s) and %s (threshold proof)\n", *out2, kind, proofPath)
	return nil
}

// proposalBytes reads a proposal from a file, or from the workspace by id
// (proposals imported from media are kept there).
func (e *env) proposalBytes(ws *workspace.Workspace, ref string) ([]byte, error) {
	if fi, err := os.Stat(ref); err == nil && fi.Mode().IsRegular() {
		return readArtifact(ref)
	}
	pe, err := ws.Proposal(ref)
	if err != nil {
		return nil, withHint(fmt.Errorf("%s is neither a file nor a proposal this workspace holds: %w", ref, err), "import it from the media first, or pass the file")
	}
	return pe.Encode()
}
