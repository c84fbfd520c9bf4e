package drill

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
)

// The tabletop's team and facilitator: the scripted team's commands run
// as typed, and the facilitator asked on a terminal.

// RunTeamCommands runs the scripted team's commands in the drill folder,
// as the participants would type them: the airlock program (TeamProgram),
// no shell. It writes each command and what it printed to w. A command
// that fails is shown and the exercise goes on: the checks judge what was
// done.
func RunTeamCommands(ctx context.Context, w io.Writer, commands []string, dir string) error {
	prog, err := TeamProgram()
	if err != nil {
		return err
	}
	for _, c := range commands {
		args, err := SplitCommand(c)
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

// TeamProgram is the airlock the scripted team runs: this program when
// it is called airlock, else the airlock on the PATH.
func TeamProgram() (string, error) {
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

// SplitCommand splits a command line into words, with single and double
// quotes as a shell has them (no variables, no escapes but \" in double
// quotes).
func SplitCommand(s string) ([]string, error) {
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

// TerminalFacilitator asks the facilitator on the terminal: a Facilitator
// for a tabletop run by hand.
type TerminalFacilitator struct {
	in  *bufio.Reader
	out io.Writer
}

// NewTerminalFacilitator asks on out and reads the facilitator's lines
// from in.
func NewTerminalFacilitator(in io.Reader, out io.Writer) *TerminalFacilitator {
	return &TerminalFacilitator{in: bufio.NewReader(in), out: out}
}

func (f *TerminalFacilitator) ask(prompt string) (string, error) {
	fmt.Fprintf(f.out, "%s> ", prompt)
	line, err := f.in.ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		return "", fmt.Errorf("drill tabletop: reading the facilitator's input: %w", err)
	}
	return strings.TrimSpace(line), nil
}

// Answer asks for the team's answer to a question.
func (f *TerminalFacilitator) Answer(_ context.Context, _, _ int, _ string) (string, error) {
	return f.ask("the team's answer (Enter: none)")
}

// Act waits for the team to act on module m in dir.
func (f *TerminalFacilitator) Act(_ context.Context, m int, mod *Module, dir string) error {
	if len(mod.Tasks) == 0 {
		return nil
	}
	_, err := f.ask(fmt.Sprintf("module %d: the team acts now in %s; press Enter when it is done, the checks run then", m+1, dir))
	return err
}

// Notes asks for the facilitator's notes on module m.
func (f *TerminalFacilitator) Notes(_ context.Context, m int) (string, error) {
	return f.ask(fmt.Sprintf("notes on module %d (Enter: none)", m+1))
}

// Rate asks for a capability's rating; Enter keeps the checks'.
func (f *TerminalFacilitator) Rate(_ context.Context, c Capability, checked string) (string, error) {
	for {
		s, err := f.ask(fmt.Sprintf("rate %q: the checks show %s (%s); P, S, M or U, Enter keeps it", c.Name, checked, RatingText(checked)))
		if err != nil || s == "" {
			return "", err
		}
		if r, err := ParseRating(s); err == nil {
			return r, nil
		} else {
			fmt.Fprintln(f.out, err)
		}
	}
}

// Corrective asks, capability by capability, for corrective actions,
// each with an owner and a due date.
func (f *TerminalFacilitator) Corrective(_ context.Context, rs []CapabilityRating) ([]CorrectiveAction, error) {
	var out []CorrectiveAction
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
			out = append(out, CorrectiveAction{Capability: r.ID, Action: what, Owner: owner, Due: due})
		}
	}
	return out, nil
}
