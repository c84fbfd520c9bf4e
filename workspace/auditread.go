package workspace

import (
	"context"
	"strconv"
	"strings"

	"github.com/airlock-vault/airlock/audit"
)

// AuditEntries reads every entry of the workspace's audit log, read-only.
func (w *Workspace) AuditEntries(ctx context.Context) ([]audit.Entry, error) {
	var out []audit.Entry
	err := w.AuditLog(ctx, func(l *audit.Log) (err error) {
		out, err = l.Entries()
		return err
	})
	return out, err
}

// Witnessed is a checkpoint of the coordinator's log and the stations
// that witnessed it (each signed its size inside an approval).
type Witnessed struct {
	Size     int64    `json:"size"`
	Stations []string `json:"stations"`
}

// CheckpointWitnesses lists the checkpoints stations witnessed, by size
// (in the order of the sizes' decimal text), each with its stations.
func (w *Workspace) CheckpointWitnesses() []Witnessed {
	bySize := map[string][]string{}
	for k := range w.Witnesses("size:") {
		parts := strings.SplitN(k, ":", 3)
		bySize[parts[1]] = append(bySize[parts[1]], parts[2])
	}
	out := []Witnessed{}
	for _, size := range SortedKeys(bySize) {
		n, _ := strconv.ParseInt(size, 10, 64)
		out = append(out, Witnessed{n, bySize[size]})
	}
	return out
}

// AuditProof is the proof that entry index is in the workspace's log
// (audit.Log.Prove): checked anywhere with the log owner's identity.
func (w *Workspace) AuditProof(ctx context.Context, index int64) ([]byte, error) {
	var proof []byte
	err := w.AuditLog(ctx, func(l *audit.Log) (err error) {
		proof, err = l.Prove(index)
		return err
	})
	return proof, err
}
