package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/airlock-vault/airlock/drill"
)

// drillRun is "airlock drill run SCENARIO.yaml": the scenario simulated on
// a throwaway quorum of drill workspaces (package drill). Exit 3: an
// invariant was violated; the seed that reproduces it is printed.
func (e *env) drillRun(args []string) error {
	fs := e.flags("drill run")
	seed := fs.String("seed", "", "the seed (default: the scenario's)")
	out := fs.String("out", "", "write the HTML report to this file")
	workdir := fs.String("workdir", "", "where the throwaway drill workspaces go (default /dev/shm, else the temporary folder)")
	database := fs.String("database", "", "keep the drill coordinator's store in this EMPTY PostgreSQL database (postgres:// URL), as the service does; a restore then uses pg_dump and pg_restore")
	asJSON := jsonFlag(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("drill run: want SCENARIO.yaml")
	}
	o := drill.Options{Dir: *workdir, Database: *database}
	if *seed != "" {
		n, err := strconv.ParseUint(*seed, 10, 64)
		if err != nil {
			return usagef("drill run: --seed %q is not a number 0..2^64-1", *seed)
		}
		o.Seed = &n
	}
	sc, err := drill.LoadScenario(pos[0])
	if err != nil {
		return err
	}
	rep, err := drill.Run(context.Background(), sc, o)
	if err != nil {
		return err
	}
	if err := e.printDrillReport(rep, *out, *asJSON); err != nil {
		return err
	}
	if !rep.Passed {
		return withHint(&refusedError{fmt.Sprintf("drill run: invariant violated: %s (seed %d)", strings.Join(rep.Failed(), ", "), rep.Seed)},
			fmt.Sprintf("reproduce it with: airlock drill run %s --seed %d", pos[0], rep.Seed))
	}
	return nil
}

// drillReport is a drill's report or a tabletop's after-action report.
type drillReport interface {
	drill.Page
	Text(w io.Writer) error
}

// printDrillReport writes the report's HTML page to out (if given) and
// prints the report: as JSON, or as text and the page's name.
func (e *env) printDrillReport(rep drillReport, out string, asJSON bool) error {
	if out != "" {
		if err := drill.WritePage(out, rep); err != nil {
			return err
		}
	}
	if asJSON {
		return printJSON(e.stdout, rep)
	}
	err := rep.Text(e.stdout)
	if err == nil && out != "" {
		_, err = fmt.Fprintf(e.stdout, "wrote %s\n", out)
	}
	return err
}
