package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/airlock-vault/airlock/drill"
)

// drillTabletop is "airlock drill tabletop SCENARIO.yaml": the scenario's
// tabletop exercise, module by module, on drill workspaces the team acts
// in with the real commands; its after-action report rates each
// capability from what the workspaces recorded. Exit 3: a capability was
// unable to be performed.
func (e *env) drillTabletop(args []string) error {
	fs := e.flags("drill tabletop")
	dir := fs.String("workspace", "", "the drill folder to build the exercise's workspaces in (absent or empty; default a new airlock-tabletop-* folder here); kept afterwards")
	answers := fs.String("answers", "", "the facilitator's answers, ratings and corrective actions, and the scripted team's commands (YAML): no prompts")
	out := fs.String("out", "", "write the after-action report as HTML to this file")
	asJSON := jsonFlag(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("drill tabletop: want SCENARIO.yaml")
	}
	sc, err := drill.LoadScenario(pos[0])
	if err != nil {
		return err
	}
	if sc.Tabletop == nil {
		return withHint(fmt.Errorf("drill tabletop: %s has no tabletop section", pos[0]), "docs/drills.md, \"Tabletop\", says how to write one; docs/drills/tabletop-stolen-station.yaml is a sample")
	}
	// The narration goes to stdout, or to stderr when stdout is JSON.
	narr := e.stdout
	if *asJSON {
		narr = e.stderr
	}
	var fac drill.Facilitator
	if *answers != "" {
		ab, err := os.ReadFile(*answers)
		if err != nil {
			return err
		}
		a, err := drill.ParseAnswers(ab, sc.Tabletop)
		if err != nil {
			return err
		}
		fac = &drill.Scripted{A: a, Run: func(ctx context.Context, m int, commands []string, dir string) error {
			return drill.RunTeamCommands(ctx, narr, commands, dir)
		}}
	} else {
		f, ok := e.stdin.(*os.File)
		if !ok || !term.IsTerminal(int(f.Fd())) {
			return usagef("drill tabletop: the input is not a terminal: pass --answers FILE for a run without prompts")
		}
		fac = drill.NewTerminalFacilitator(e.stdin, narr)
	}
	if *dir == "" {
		d, err := os.MkdirTemp(".", "airlock-tabletop-")
		if err != nil {
			return err
		}
		*dir = d
	}
	aar, err := drill.RunTabletop(context.Background(), sc, drill.TabletopOptions{Dir: *dir, Now: e.now, Out: narr, Facilitator: fac})
	if err != nil {
		return err
	}
	if err := e.printDrillReport(aar, *out, *asJSON); err != nil {
		return err
	}
	if !aar.Ready {
		var unable []string
		for _, c := range aar.Capabilities {
			if c.Rating == drill.RatingU {
				unable = append(unable, c.ID)
			}
		}
		return withHint(&refusedError{fmt.Sprintf("drill tabletop: not ready: unable to be performed: %s", strings.Join(unable, ", "))},
			"the after-action report lists what was not done; give each gap a corrective action with an owner and a due date")
	}
	return nil
}
