package main

import (
	"bytes"
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
)

// TestTabletopScriptRunsTheSample: drill_tabletop.txt exercises the
// sample of docs/drills as it is, not a copy that drifted.
func TestTabletopScriptRunsTheSample(t *testing.T) {
	a, err := txtar.ParseFile("testdata/drill_tabletop.txt")
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("../../docs/drills/tabletop-stolen-station.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range a.Files {
		if f.Name == "tabletop.yaml" {
			if !bytes.Equal(f.Data, want) {
				t.Fatal("testdata/drill_tabletop.txt's tabletop.yaml differs from docs/drills/tabletop-stolen-station.yaml: copy it again")
			}
			return
		}
	}
	t.Fatal("testdata/drill_tabletop.txt has no tabletop.yaml")
}
