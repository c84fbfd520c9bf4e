package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/airlock-vault/airlock/drill"
	"github.com/airlock-vault/airlock/workspace"
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
	b, err := os.ReadFile(pos[0])
	if err != nil {
		return err
	}
	sc, err := drill.ParseScenario(b)
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
			return e.runTeamCommands(ctx, narr, commands, dir)
		}}
	} else {
		f, ok := e.stdin.(*os.File)
		if !ok || !term.IsTerminal(int(f.Fd())) {
			return usagef("drill tabletop: the input is not a terminal: pass --answers FILE for a run without prompts")
		}
		fac = &terminalFacilitator{in: bufio.NewReader(e.stdin), out: narr}
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
	if *out != "" {
		var page bytes.Buffer
		if err := aar.HTML(&page); err != nil {
			return err
		}
		if err := workspace.WriteFileAtomic(*out, page.Bytes(), 0o644); err != nil {
			return err
		}
	}
	if *asJSON {
		err = printJSON(e.stdout, aar)
	} else {
		err = aar.Text(e.stdout)
		if err == nil && *out != "" {
			_, err = fmt.Fprintf(e.stdout, "wrote %s\n", *out)
		}
	}
	if err != nil {
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

// runTeamCommands runs the scripted team's commands in the drill folder,
// as the participants would type them: the airlock program, no shell. A
// command that fails is shown and the exercise goes on: the checks judge
// what was done.
func (e *env) runTeamCommands(ctx context.Context, w io.Writer, commands []string, dir string) error {
	prog, err := airlockProgram()
	if err != nil {
		return err
	}
	for _, c := range commands {
		args, err := splitCommand(c)
		if err != nil {
			return fmt.Errorf("drill tabletop: %q: %v", c, err)
		}
		if len(args) == 0 || args[0] != "airlock" {
			return fmt.Errorf("drill tabletop: %q: the team runs airlock commands only", c)
		}
		fmt.Fprintf(w, "team$ %s\n", c)
		cmd := exec.CommandContext(ctx, prog, args[1:]...)
		cmd.Dir = dir
		cmd.Stdin = nil
		var got bytes.Buffer
		cmd.Stdout, cmd.Stderr = &got, &got
		err = cmd.Run()
		for _, line := range strings.Split(strings.TrimRight(got.String(), "\n"), "\n") {
			if line != "" {
				fmt.Fprintf(w, "     %s\n", line)
			}
		}
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			fmt.Fprintf(w, "     (exit %d)\n", exit.ExitCode())
		} else if err != nil {
			return err
		}
	}
	return nil
}

// airlockProgram is the airlock the scripted team runs: this program when
// it is called airlock, else the airlock on the PATH.
func airlockProgram() (string, error) {
	self, err := os.Executable()
	if err == nil && filepath.Base(self) == "airlock" {
		return self, nil
	}
	if p, err := exec.LookPath("airlock"); err == nil {
		return p, nil
	}
	if err != nil {
		return "", err
	}
	return self, nil
}

// splitCommand splits a command line into words, with single and double
// quotes as a shell has them (no variables, no escapes but \" in double
// quotes).
func splitCommand(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	in := false
	var quote rune
	for i := 0; i < len(s); i++ {
		c := rune(s[i])
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else if c == '\\' && quote == '"' && i+1 < len(s) && s[i+1] == '"' {
				cur.WriteByte('"')
				i++
			} else {
				cur.WriteRune(c)
			}
		case c == '\'' || c == '"':
			quote, in = c, true
		case c == ' ' || c == '\t':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		case strings.ContainsRune("|&;<>$`\\*?(){}", c):
			return nil, fmt.Errorf("%q: no shell here; write the command's words plainly", string(c))
		default:
			cur.WriteRune(c)
			in = true
		}
	}
	if quote != 0 {
		return nil, errors.New("an unclosed quote")
	}
	if in {
		words = append(words, cur.String())
	}
	return words, nil
}

// terminalFacilitator asks the facilitator on the terminal.
type terminalFacilitator struct {
	in  *bufio.Reader
	out io.Writer
}

func (f *terminalFacilitator) ask(prompt string) (string, error) {
	fmt.Fprintf(f.out, "%s> ", prompt)
	line, err := f.in.ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		return "", fmt.Errorf("drill tabletop: reading the facilitator's input: %w", err)
	}
	return strings.TrimSpace(line), nil
}

func (f *terminalFacilitator) Answer(_ context.Context, _, _ int, _ string) (string, error) {
	return f.ask("the team's answer (Enter: none)")
}

func (f *terminalFacilitator) Act(_ context.Context, m int, mod *drill.Module, dir string) error {
	if len(mod.Tasks) == 0 {
		return nil
	}
	_, err := f.ask(fmt.Sprintf("module %d: the team acts now in %s; press Enter when it is done, the checks run then", m+1, dir))
	return err
}

func (f *terminalFacilitator) Notes(_ context.Context, m int) (string, error) {
	return f.ask(fmt.Sprintf("notes on module %d (Enter: none)", m+1))
}

func (f *terminalFacilitator) Rate(_ context.Context, c drill.Capability, checked string) (string, error) {
	for {
		s, err := f.ask(fmt.Sprintf("rate %q: the checks show %s (%s); P, S, M or U, Enter keeps it", c.Name, checked, drill.RatingText(checked)))
		if err != nil || s == "" {
			return "", err
		}
		if r, err := drill.ParseRating(s); err == nil {
			return r, nil
		} else {
			fmt.Fprintln(f.out, err)
		}
	}
}

func (f *terminalFacilitator) Corrective(_ context.Context, rs []drill.CapabilityRating) ([]drill.CorrectiveAction, error) {
	var out []drill.CorrectiveAction
	for _, r := range rs {
		fmt.Fprintf(f.out, "%s: %s (%s)\n", r.Rating, r.Name, r.Text)
		for {
			what, err := f.ask(fmt.Sprintf("a corrective action for %s (Enter: no more)", r.ID))
			if err != nil || what == "" {
				if err != nil {
					return nil, err
				}
				break
			}
			var owner, due string
			for owner == "" {
				if owner, err = f.ask("its owner"); err != nil {
					return nil, err
				}
			}
			for {
				if due, err = f.ask("due (YYYY-MM-DD)"); err != nil {
					return nil, err
				}
				if _, perr := time.Parse(time.DateOnly, due); perr == nil {
					break
				}
			}
			out = append(out, drill.CorrectiveAction{Capability: r.ID, Action: what, Owner: owner, Due: due})
		}
	}
	return out, nil
}
