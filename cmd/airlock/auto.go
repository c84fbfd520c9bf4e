package main

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/airlock-vault/airlock/coordinator"
	"github.com/airlock-vault/airlock/station"
	"github.com/airlock-vault/airlock/transport/transfer"
	"github.com/airlock-vault/airlock/workspace"
)

// stationAuto is 'airlock station auto PROPOSAL...': an automated
// station signs what a template allows it, and refuses, says why and logs
// everything else.
func (e *env) stationAuto(args []string) error {
	fs := e.flags("station auto")
	outDir := fs.String("out-dir", ".", "where to write the approvals (NAME.PARTICIPANT.approval for NAME.proposal)")
	passFile := e.secretFlags(fs)
	asJSON := jsonFlag(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("station auto: want one or more proposal files")
	}
	type autoResult struct {
		File     string   `json:"file"`
		Result   string   `json:"result"` // signed, refused
		Template string   `json:"template,omitempty"`
		TxID     string   `json:"txid,omitempty"`
		Approval string   `json:"approval,omitempty"`
		Reasons  []string `json:"reasons"`
	}
	results := []autoResult{}
	ws, err := e.openRole(workspace.Station)
	if err != nil {
		return err
	}
	defer ws.Close()
	ks, err := e.unlock(ws, passFile)
	if err != nil {
		return err
	}
	defer ks.Close()
	if ks.Chain == nil {
		return errors.New("this workspace holds no chain key to sign with")
	}
	st := e.station(ws)
	st.Custody = (&transfer.Gap{WS: ws, Reg: reg}).Custody
	if st.Health, err = station.LastHealth(ws); err != nil {
		return err
	}
	if err := os.MkdirAll(*outDir, 0o755); err != nil {
		return err
	}
	refused := 0
	for _, file := range pos {
		raw, err := e.proposalBytes(ws, file)
		if err != nil {
			return err
		}
		r, err := st.Auto(context.Background(), raw, filepath.Base(file), ks.Identity, ks.Chain)
		if err != nil {
			return err
		}
		if r.Signed == nil {
			refused++
			results = append(results, autoResult{File: file, Result: "refused", Reasons: orEmpty(r.Reasons)})
			if !*asJSON {
				fmt.Fprintf(e.stdout, "%s: REFUSED: %s\n", file, strings.Join(r.Reasons, "; "))
			}
			continue
		}
		out := filepath.Join(*outDir, strings.TrimSuffix(filepath.Base(file), ".proposal")+"."+ws.Config.Name+".approval")
		if err := writeEnvelope(out, r.Signed); err != nil {
			return withHint(err, fmt.Sprintf("the decision is recorded and kept: 'airlock -C %s export %s --out FILE' writes it again", ws.Dir, hex.EncodeToString(r.ID[:8])))
		}
		results = append(results, autoResult{file, "signed", r.Template, r.Result.Review.TxID, out, []string{}})
		if !*asJSON {
			fmt.Fprintf(e.stdout, "%s: signed under template %s (txid %s); wrote %s\n", file, r.Template, r.Result.Review.TxID, out)
		}
	}
	if err := e.checkpoint(ws, ks); err != nil {
		return err
	}
	if *asJSON {
		if err := printJSON(e.stdout, struct {
			Results []autoResult `json:"results"`
			Signed  int          `json:"signed"`
			Refused int          `json:"refused"`
		}{results, len(pos) - refused, refused}); err != nil {
			return err
		}
	}
	if refused > 0 {
		return &refusedError{fmt.Sprintf("station auto: refused %d of %d proposals", refused, len(pos))}
	}
	return nil
}

// templatePay are propose's flags for a Safe payment it builds under a
// template.
type templatePay struct {
	to, amount *string
	nonce      *int64
}

func templateFlags(fs *flag.FlagSet) *templatePay {
	return &templatePay{
		to:     fs.String("to", "", "with --template: the address-book label to pay (a Safe vault)"),
		amount: fs.String("amount", "", "with --template: the amount in whole units, such as 1250.50"),
		nonce:  fs.Int64("nonce", -1, "with --template: the Safe transaction's nonce"),
	}
}

func (p *templatePay) set() bool      { return *p.to != "" || *p.amount != "" || *p.nonce >= 0 }
func (p *templatePay) complete() bool { return *p.to != "" && *p.amount != "" && *p.nonce >= 0 }

// build makes the Safe transaction (coordinator.SafePayment); vault, when
// given, must be the template's.
func (p *templatePay) build(ws *workspace.Workspace, template, vault string) (string, []byte, error) {
	pol, _, err := ws.Policy(reg)
	if err != nil {
		return "", nil, err
	}
	v, payload, err := coordinator.SafePayment(pol, template, *p.to, *p.amount, uint64(*p.nonce))
	if err != nil {
		return "", nil, withHint(err, "the policy's templates (its source's templates:) name each one's vault, destinations and asset")
	}
	if vault != "" && vault != v {
		return "", nil, fmt.Errorf("template %q pays from vault %q, not %q", template, v, vault)
	}
	return v, payload, nil
}
