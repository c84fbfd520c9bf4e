package evidence

import (
	"fmt"
	"io"

	"github.com/airlock-vault/airlock/chain"
)

// CheckFile reads the bundle at src (Read) and checks it (Check) from the
// genesis policy's id alone.
func CheckFile(src string, genesis [32]byte, reg *chain.Registry) (*Report, error) {
	files, err := Read(src)
	if err != nil {
		return nil, err
	}
	return Check(files, genesis, reg)
}

// Text writes the findings, one line each: ok or FAIL, the check, what
// it found and, where known, the file it concerns.
func (r *Report) Text(w io.Writer) {
	for _, f := range r.Findings {
		mark := "ok  "
		if !f.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(w, "%s  %-13s %s", mark, f.Check, f.Detail)
		if f.Where != "" {
			fmt.Fprintf(w, "  (%s)", f.Where)
		}
		fmt.Fprintln(w)
	}
}

// Summary is the line that closes a verified bundle's check: whose it
// is, its period and what it holds.
func (r *Report) Summary() string {
	return fmt.Sprintf("bundle verified: coordinator %s, %s to %s: %d policy versions, %d log entries, %d checkpoints, %d proposals, %d decisions, %d threshold proofs",
		r.Coordinator, r.Since, r.Until, r.Policies, r.Entries, r.Checkpoints, r.Proposals, r.Decisions, r.Finalized)
}
