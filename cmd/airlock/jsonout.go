package main

import (
	"encoding/json"
	"flag"
	"io"
)

// The JSON contract (docs/cli.md, "JSON"): every command that prints
// something takes --json and then prints one JSON document on stdout,
// camelCase keys, lists as [] never null, amounts in the chain's smallest
// unit and durations in seconds, as its schema in docs/schemas says; an
// error is then one JSON object on stderr, {"error", "hint", "exitCode"}.

// jsonFlag registers --json on fs.
func jsonFlag(fs *flag.FlagSet) *bool {
	return fs.Bool("json", false, "print JSON (docs/schemas)")
}

// wantsJSON reports whether the command line asks for JSON output.
func wantsJSON(args []string) bool {
	for _, a := range args {
		switch a {
		case "--json", "-json", "--json=true", "-json=true":
			return true
		case "--":
			return false
		}
	}
	return false
}

// reportJSON is report for a command asked for JSON: the error as one
// JSON object on stderr.
func reportJSON(stderr io.Writer, err error) int {
	code, msg, hint := classify(err)
	if code == exitOK {
		return code
	}
	b, _ := json.Marshal(struct {
		Error    string `json:"error"`
		Hint     string `json:"hint,omitempty"`
		ExitCode int    `json:"exitCode"`
	}{msg, hint, code})
	stderr.Write(append(b, '\n'))
	return code
}
