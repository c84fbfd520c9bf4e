package main

import (
	_ "embed"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
	"sort"
	"strings"
)

// commandHelp is each command's help: a section per command, "## NAME",
// then its usage, what it does, an example and what its exit codes mean
// (help/commands.txt). A test holds it to the command table.
//
//go:embed help/commands.txt
var commandHelp string

// helpSections parses commandHelp into its sections by command name.
func helpSections() map[string]string {
	out := map[string]string{}
	for _, sec := range strings.Split("\n"+commandHelp, "\n## ")[1:] {
		name, body, _ := strings.Cut(sec, "\n")
		out[strings.TrimSpace(name)] = strings.TrimRight(body, "\n") + "\n"
	}
	return out
}

// helpRequested is -h or --help on a command: its help goes to stdout
// and the exit code is 0.
type helpRequested struct{ fs *flag.FlagSet }

func (h *helpRequested) Error() string { return h.fs.Name() + ": help requested" }

// printHelp writes a command's help: its section, then its flags with
// their defaults.
func printHelp(w io.Writer, fs *flag.FlagSet) {
	name := fs.Name()
	secs := helpSections()
	sec, ok := secs[name]
	if !ok {
		// "store reinit" is described under "store".
		sec, ok = secs[strings.Fields(name + " x")[0]]
	}
	if ok {
		fmt.Fprint(w, sec)
	} else {
		fmt.Fprintf(w, "usage: airlock %s\n", name)
	}
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		fmt.Fprintln(w, "flags:")
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	fmt.Fprintln(w, "exit codes: 0 done (review: may sign), 1 error, 2 usage, 3 refused (docs/cli.md)")
}

// help is "airlock help [COMMAND [SUB]]": the summary, or one command's
// help.
func (e *env) help(args []string) error {
	fs := e.flags("help")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		_, err := fmt.Fprint(e.stdout, usage)
		return err
	}
	if pos[0] == "help" {
		return &helpRequested{fs}
	}
	return dispatch(e, pos[0], append(pos[1:len(pos):len(pos)], "--help"))
}

// versionCmd is "airlock version".
func (e *env) versionCmd(args []string) error {
	fs := e.flags("version")
	asJSON := jsonFlag(fs)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *asJSON {
		bi, _ := debug.ReadBuildInfo()
		out := map[string]string{"version": "(devel)", "go": "", "revision": "", "time": "", "modified": "false"}
		if bi != nil {
			if bi.Main.Version != "" {
				out["version"] = bi.Main.Version
			}
			out["go"] = bi.GoVersion
			for _, kv := range bi.Settings {
				switch kv.Key {
				case "vcs.revision":
					out["revision"] = kv.Value
				case "vcs.time":
					out["time"] = kv.Value
				case "vcs.modified":
					out["modified"] = kv.Value
				}
			}
		}
		return printJSON(e.stdout, out)
	}
	_, err := fmt.Fprint(e.stdout, version())
	return err
}

// flagHint names the closest flag to a mistyped one.
func flagHint(fs *flag.FlagSet, err error) string {
	msg := err.Error()
	bad, ok := strings.CutPrefix(msg, "flag provided but not defined: ")
	if !ok {
		return ""
	}
	bad = strings.TrimLeft(bad, "-")
	best, dist := "", 4
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	sort.Strings(names)
	for _, n := range names {
		if d := editDistance(bad, n); d < dist || (strings.HasPrefix(n, bad) && d <= dist) {
			best, dist = n, d
		}
	}
	if best == "" {
		return fmt.Sprintf("run 'airlock help %s' for its flags", fs.Name())
	}
	return fmt.Sprintf("did you mean --%s? (run 'airlock help %s' for its flags)", best, fs.Name())
}

// editDistance is the Levenshtein distance of two short strings.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// version is the module version and the VCS revision the binary was built
// from (runtime/debug.ReadBuildInfo).
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "airlock (no build information)\n"
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	s := map[string]string{}
	for _, kv := range bi.Settings {
		s[kv.Key] = kv.Value
	}
	out := fmt.Sprintf("airlock %s %s", v, bi.GoVersion)
	if rev := s["vcs.revision"]; rev != "" {
		out += " revision " + rev
		if s["vcs.modified"] == "true" {
			out += " (modified)"
		}
		if t := s["vcs.time"]; t != "" {
			out += " of " + t
		}
	}
	return out + "\n"
}
