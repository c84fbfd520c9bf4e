package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/airlock-vault/airlock/audit"
	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/policy"
	"github.com/airlock-vault/airlock/workspace"
)

func (e *env) auditVerify(args []string) error {
	fs := e.flags("audit verify")
	asJSON := jsonFlag(fs)
	watch := fs.Duration("watch", 0, "verify again every D (scheduled self-verification; a failure halts new proposals until 'audit acknowledge')")
	times := fs.Int("times", 0, "with --watch: stop after N verifications (0: until interrupted)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *watch == 0 {
		return e.verifyOnce(*asJSON)
	}
	if *watch < time.Second || *times < 0 {
		return usagef("audit verify: --watch wants a period of at least 1s, --times 0 or more")
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(stop)
	failed := 0
	for i := 0; *times == 0 || i < *times; i++ {
		if i > 0 {
			select {
			case <-stop:
				i = *times // done
				continue
			case <-time.After(*watch):
			}
		}
		// The workspace is opened for each run only: other commands run
		// between them.
		ws, err := e.open()
		if err != nil {
			return err
		}
		v, err := ws.SelfCheck(context.Background())
		ws.Close()
		if err != nil {
			return err
		}
		if v.Err != nil {
			failed++
		}
		if *asJSON {
			msg := ""
			if v.Err != nil {
				msg = v.Err.Error()
			}
			b, _ := json.Marshal(struct {
				Time     string `json:"time"`
				OK       bool   `json:"ok"`
				Error    string `json:"error,omitempty"`
				Entries  int64  `json:"entries"`
				Failures int    `json:"failures"`
				Halted   string `json:"halted,omitempty"`
			}{v.VerifiedAt.Format(time.RFC3339), v.Err == nil, msg, v.Report.Entries, v.Failures, v.Halted})
			fmt.Fprintf(e.stdout, "%s\n", b)
		} else if v.Err != nil {
			fmt.Fprintf(e.stdout, "%s  FAIL  %v; new proposals are refused until 'airlock audit acknowledge --reason R'\n", v.VerifiedAt.Format(time.RFC3339), v.Err)
		} else {
			fmt.Fprintf(e.stdout, "%s  ok    %d entries, checkpoint of %d; %d failures so far\n", v.VerifiedAt.Format(time.RFC3339), v.Report.Entries, v.Report.CheckpointSize, v.Failures)
		}
	}
	if failed > 0 {
		return fmt.Errorf("audit verify: %d self-verifications failed", failed)
	}
	return nil
}

// verifyOnce is 'audit verify': the workspace's self-verification, with
// what it checked.
func (e *env) verifyOnce(asJSON bool) error {
	ws, err := e.open()
	if err != nil {
		return err
	}
	defer ws.Close()
	v, err := ws.Verify(context.Background())
	if err != nil {
		return err
	}
	if v.Err != nil {
		return v.Err
	}
	rep := v.Report
	witnesses := []workspace.Witnessed{}
	if ws.Config.Role == workspace.Coordinator {
		witnesses = ws.CheckpointWitnesses()
	}
	if asJSON {
		return printJSON(e.stdout, struct {
			Verified        bool                  `json:"verified"`
			Origin          string                `json:"origin"`
			Entries         int64                 `json:"entries"`
			CheckpointSize  int64                 `json:"checkpointSize"`
			Root            string                `json:"root"`
			Identity        string                `json:"identity"`
			StateAgrees     bool                  `json:"stateAgrees"`
			Witnessed       []workspace.Witnessed `json:"witnessed"`
			AfterCheckpoint int64                 `json:"entriesAfterCheckpoint"`
			Failures        int                   `json:"failures"`
			Halted          string                `json:"halted,omitempty"`
		}{true, origin(ws), rep.Entries, rep.CheckpointSize, fmt.Sprintf("%x", rep.Root[:]), ws.Config.Identity, true, witnesses, rep.Entries - rep.CheckpointSize, v.Failures, v.Halted})
	}
	fmt.Fprintf(e.stdout, "audit log of %s verified: %d entries, tree recomputed from the entries\n", origin(ws), rep.Entries)
	fmt.Fprintf(e.stdout, "latest checkpoint: size %d, root %x, signature by %s verifies\n", rep.CheckpointSize, rep.Root[:], ws.Config.Identity)
	fmt.Fprintln(e.stdout, "state and log agree: every proposal, decision, claim and finalization has its entry, and every such entry its row")
	if ws.Config.Role == workspace.Coordinator {
		for _, w := range witnesses {
			fmt.Fprintf(e.stdout, "checkpoint of %d entries witnessed by %d stations: %s\n", w.Size, len(w.Stations), strings.Join(w.Stations, ", "))
		}
		if len(witnesses) == 0 {
			fmt.Fprintln(e.stdout, "no checkpoint witnessed by a station yet")
		}
	}
	if n := rep.Entries - rep.CheckpointSize; n > 0 {
		fmt.Fprintf(e.stdout, "%d entries after the latest checkpoint (the next command that unlocks the key signs a new one)\n", n)
	}
	return nil
}

func (e *env) auditLog(args []string) error {
	fs := e.flags("audit log")
	asJSON := jsonFlag(fs)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	ws, err := e.open()
	if err != nil {
		return err
	}
	defer ws.Close()
	entries, err := ws.AuditEntries(context.Background())
	if err != nil {
		return err
	}
	if *asJSON {
		type entry struct {
			Index   int64             `json:"index"`
			Time    string            `json:"time"`
			Kind    string            `json:"kind"`
			Subject string            `json:"subject"`
			Detail  map[string]string `json:"detail"`
		}
		out := []entry{}
		for _, en := range entries {
			d := en.Event.Detail
			if d == nil {
				d = map[string]string{}
			}
			out = append(out, entry{en.Index, en.Event.Time.UTC().Format(time.RFC3339), en.Event.Kind, en.Event.Subject, d})
		}
		return printJSON(e.stdout, struct {
			Origin  string  `json:"origin"`
			Entries []entry `json:"entries"`
		}{origin(ws), out})
	}
	for _, en := range entries {
		subject := en.Event.Subject
		if len(subject) > 16 {
			subject = subject[:16]
		}
		fmt.Fprintf(e.stdout, "%4d  %s  %-20s %s", en.Index, en.Event.Time.Format(time.RFC3339), en.Event.Kind, subject)
		for _, k := range workspace.SortedKeys(en.Event.Detail) {
			fmt.Fprintf(e.stdout, "  %s=%q", k, en.Event.Detail[k])
		}
		fmt.Fprintln(e.stdout)
	}
	return nil
}

func (e *env) auditCheckpoint(args []string) error {
	fs := e.flags("audit checkpoint")
	passFile := e.secretFlags(fs)
	asJSON := jsonFlag(fs)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	ws, ks, done, err := e.unlocked("", passFile)
	if err != nil {
		return err
	}
	defer done()
	cp, err := ws.Checkpoint(context.Background(), ks.Identity)
	if err != nil {
		return err
	}
	if *asJSON {
		lines := strings.SplitN(string(cp), "\n", 4)
		size := int64(0)
		if len(lines) > 1 {
			size, _ = strconv.ParseInt(lines[1], 10, 64)
		}
		return printJSON(e.stdout, struct {
			Origin     string `json:"origin"`
			Size       int64  `json:"size"`
			Checkpoint string `json:"checkpoint"`
		}{lines[0], size, string(cp)})
	}
	_, err = e.stdout.Write(cp)
	return err
}

func (e *env) auditProve(args []string) error {
	fs := e.flags("audit prove")
	out := fs.String("out", "", "write the proof to this file")
	asJSON := jsonFlag(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("audit prove: want one entry index")
	}
	n, err := strconv.ParseInt(pos[0], 10, 64)
	if err != nil || n < 0 {
		return usagef("audit prove: %q is not an entry index", pos[0])
	}
	ws, err := e.open()
	if err != nil {
		return err
	}
	defer ws.Close()
	proof, err := ws.AuditProof(context.Background(), n)
	if err != nil {
		return err
	}
	if *out != "" {
		if err := workspace.WriteFileAtomic(*out, proof, 0o644); err != nil {
			return err
		}
	}
	if *asJSON {
		return printJSON(e.stdout, struct {
			Index    int64  `json:"index"`
			Identity string `json:"identity"`
			File     string `json:"file,omitempty"`
			Proof    string `json:"proof"`
		}{n, ws.Config.Identity, *out, string(proof)})
	}
	if *out != "" {
		fmt.Fprintf(e.stdout, "wrote %s: check it anywhere with 'airlock audit check-proof %s --identity %s'\n", *out, *out, ws.Config.Identity)
		return nil
	}
	_, err = e.stdout.Write(proof)
	return err
}

func (e *env) auditCheckProof(args []string) error {
	fs := e.flags("audit check-proof")
	identity := fs.String("identity", "", "the log owner's identity key, ed25519:<base64>")
	identityFile := fs.String("identity-file", "", "read the identity key from this file (e.g. a workspace's airlock.json)")
	asJSON := jsonFlag(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if *identityFile != "" {
		b, err := envelope.ReadArtifact(*identityFile)
		if err != nil {
			return err
		}
		*identity = policy.FindIdentity(b)
		if *identity == "" {
			return fmt.Errorf("%s holds no ed25519 identity key", *identityFile)
		}
	}
	if len(pos) != 1 || *identity == "" {
		return usagef("audit check-proof: want FILE --identity KEY (or --identity-file FILE)")
	}
	pub, err := policy.DecodeIdentity(*identity)
	if err != nil {
		return err
	}
	proof, err := envelope.ReadArtifact(pos[0])
	if err != nil {
		return err
	}
	en, err := audit.VerifyProof(proof, pub)
	if err != nil {
		return err
	}
	if en.Event.Kind == "" {
		return errors.New("proof verified but carries an empty event")
	}
	if *asJSON {
		d := en.Event.Detail
		if d == nil {
			d = map[string]string{}
		}
		return printJSON(e.stdout, struct {
			Verified bool              `json:"verified"`
			Index    int64             `json:"index"`
			Time     string            `json:"time"`
			Kind     string            `json:"kind"`
			Subject  string            `json:"subject"`
			Detail   map[string]string `json:"detail"`
			Identity string            `json:"identity"`
		}{true, en.Index, en.Event.Time.UTC().Format(time.RFC3339), en.Event.Kind, en.Event.Subject, d, *identity})
	}
	fmt.Fprintf(e.stdout, "proof verified: entry %d (%s %s at %s) is in the log signed by %s\n", en.Index, en.Event.Kind, en.Event.Subject, en.Event.Time.Format(time.RFC3339), *identity)
	return nil
}

// auditAcknowledge lifts the halt a failed self-verification set, once
// the workspace verifies again: logged with the operator's reason.
func (e *env) auditAcknowledge(args []string) error {
	fs := e.flags("audit acknowledge")
	reason := fs.String("reason", "", "what was found and done (recorded in the log)")
	passFile := e.secretFlags(fs)
	asJSON := jsonFlag(fs)
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 || strings.TrimSpace(*reason) == "" {
		return usagef("audit acknowledge: want --reason R")
	}
	ws, ks, done, err := e.unlocked("", passFile)
	if err != nil {
		return err
	}
	defer done()
	why, err := ws.Halted(context.Background())
	if err != nil {
		return err
	}
	if err := ws.AcknowledgeHalt(context.Background(), *reason); err != nil {
		return err
	}
	if err := e.checkpoint(ws, ks); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e.stdout, struct {
			Acknowledged string `json:"acknowledged"`
			Reason       string `json:"reason"`
		}{why, *reason})
	}
	fmt.Fprintf(e.stdout, "acknowledged the failed self-verification (%s); new proposals are accepted again; logged with the reason %q\n", why, *reason)
	return nil
}
