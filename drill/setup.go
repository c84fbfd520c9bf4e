package drill

import (
	"bytes"
	"io"
	"os"

	"github.com/airlock-vault/airlock/workspace"
)

// What "airlock drill run" and "airlock drill tabletop" share: the
// scenario read from its file, and a report written as an HTML page.

// LoadScenario reads and parses the scenario file at path (ParseScenario).
func LoadScenario(path string) (*Scenario, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseScenario(b)
}

// Page is a report that renders itself as an HTML page: a drill's Report
// or a tabletop's AAR.
type Page interface {
	HTML(w io.Writer) error
}

// WritePage writes the report's HTML page to path, atomically: a reader
// sees the old file or the whole new one.
func WritePage(path string, p Page) error {
	var page bytes.Buffer
	if err := p.HTML(&page); err != nil {
		return err
	}
	return workspace.WriteFileAtomic(path, page.Bytes(), 0o644)
}
