package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/airlock-vault/airlock/drill"
	"github.com/airlock-vault/airlock/workspace"
)

// drillRun is "airlock drill run SCENARIO.yaml": the scenario simulated on
// a throwaway quorum of drill workspaces (package drill). Exit 3: an
// invariant was violated; the seed that reproduces it is printed.
func (e *env) drillRun(args []string) error {
	fs := e.flags("drill run")
	seed := fs.String("seed", "", "the seed (default: the scenario's)")
	out := fs.String("out", "", "write the HTML report to this file")
	workdir := fs.String("workdir", "", "where the throwaway drill workspaces go (default /dev/shm, else the temporary folder)")
	asJSON := jsonFlag(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("drill run: want SCENARIO.yaml")
	}
	o := drill.Options{Dir: *workdir}
	if *seed != "" {
		n, err := strconv.ParseUint(*seed, 10, 64)
		if err != nil {
			return usagef("drill run: --seed %q is not a number 0..2^64-1", *seed)
		}
		o.Seed = &n
	}
	b, err := os.ReadFile(pos[0])
	if err != nil {
		return err
	}
	sc, err := drill.ParseScenario(b)
	if err != nil {
		return err
	}
	rep, err := drill.Run(context.Background(), sc, o)
	if err != nil {
		return err
	}
	if *out != "" {
		var page bytes.Buffer
		if err := rep.HTML(&page); err != nil {
			return err
		}
		if err := workspace.WriteFileAtomic(*out, page.Bytes(), 0o644); err != nil {
			return err
		}
	}
	if *asJSON {
		err = printJSON(e.stdout, rep)
	} else {
		err = rep.Text(e.stdout)
		if err == nil && *out != "" {
			_, err = fmt.Fprintf(e.stdout, "wrote %s\n", *out)
		}
	}
	if err != nil {
		return err
	}
	if !rep.Passed {
		return withHint(&refusedError{fmt.Sprintf("drill run: invariant violated: %s (seed %d)", strings.Join(rep.Failed(), ", "), rep.Seed)},
			fmt.Sprintf("reproduce it with: airlock drill run %s --seed %d", pos[0], rep.Seed))
	}
	return nil
}
