package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

var (
	schemaOnce sync.Once
	schemas    map[string]*jsonschema.Schema
	schemaErr  error
)

// loadSchemas compiles every schema under docs/schemas.
func loadSchemas() (map[string]*jsonschema.Schema, error) {
	schemaOnce.Do(func() {
		dir, err := filepath.Abs("../../docs/schemas")
		if err != nil {
			schemaErr = err
			return
		}
		files, err := filepath.Glob(filepath.Join(dir, "*.schema.json"))
		if err != nil || len(files) == 0 {
			schemaErr = err
			if err == nil {
				schemaErr = os.ErrNotExist
			}
			return
		}
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		schemas = map[string]*jsonschema.Schema{}
		for _, f := range files {
			s, err := c.Compile(f)
			if err != nil {
				schemaErr = err
				return
			}
			schemas[strings.TrimSuffix(filepath.Base(f), ".schema.json")] = s
		}
	})
	return schemas, schemaErr
}

// jsonschema NAME [stdout|stderr] validates the last command's output
// (stdout by default) against docs/schemas/NAME.schema.json.
func cmdJSONSchema(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: jsonschema NAME [stdout|stderr]")
	}
	ss, err := loadSchemas()
	ts.Check(err)
	s, ok := ss[args[0]]
	if !ok {
		ts.Fatalf("no schema docs/schemas/%s.schema.json", args[0])
	}
	stream := "stdout"
	if len(args) == 2 {
		stream = args[1]
	}
	text := ts.ReadFile(stream)
	v, err := jsonschema.UnmarshalJSON(strings.NewReader(text))
	if err == nil {
		err = s.Validate(v)
	}
	if neg {
		if err == nil {
			ts.Fatalf("%s validates against %s, want a failure", stream, args[0])
		}
		return
	}
	if err != nil {
		ts.Fatalf("%s does not validate against docs/schemas/%s.schema.json: %v\n%s", stream, args[0], err, text)
	}
}

// TestSchemasAreValidAndNullFree: every schema compiles, and a list given
// as null is refused by the schemas that hold lists (the contract is []).
func TestSchemasAreValidAndNullFree(t *testing.T) {
	ss, err := loadSchemas()
	if err != nil {
		t.Fatal(err)
	}
	if len(ss) < 10 {
		t.Fatalf("%d schemas", len(ss))
	}
	var doc map[string]any
	b := []byte(`{"origin":"airlock/station/alice","entries":null}`)
	if err := json.NewDecoder(bytes.NewReader(b)).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if err := ss["audit-log"].Validate(doc); err == nil {
		t.Fatal(`"entries": null validates; the contract is []`)
	}
}
