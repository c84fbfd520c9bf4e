// Package evidence is what an outside auditor checks alone: a bundle of a
// coordinator's evidence for a period — the policy chain, every proposal,
// decision and threshold proof, the final transactions, the audit log with
// its signed checkpoints — under a manifest the coordinator signs, and the
// checker that verifies it with nothing else than the genesis policy's
// fingerprint.
//
// A bundle is a folder of plain files (layout below). The same period
// exported twice gives the same bytes: file names and contents depend on
// the period only, the manifest lists files in path order, and Ed25519
// signatures are deterministic.
//
//	manifest.airlock              the signed manifest (airlock.evidence-bundle/v1)
//	policy/v0001.airlock          every policy version, with its signatures
//	proposals/ID.proposal         every proposal created in the period
//	decisions/ID/PARTICIPANT.approval   every decision collected on it
//	proofs/ID.proof               its threshold proof, when finalized
//	final/ID.tx                   the final transaction (hex), as finalize wrote it
//	log/records                   the audit log up to the period's end, one
//	                              record a line (base64), entry 0 first
//	log/checkpoint-NNNN.note      every signed checkpoint within those records
package evidence

import (
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/airlock-vault/airlock/audit"
	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/proposal"
	"github.com/airlock-vault/airlock/store"
	"github.com/airlock-vault/airlock/workspace"
)

// FormatVersion is the bundle format.
const FormatVersion = 1

// Bounds a checker holds a bundle to.
const (
	MaxFiles    = 1 << 20
	MaxFileSize = envelope.MaxSize
	MaxRecords  = 10 << 20
)

// Manifest lists a bundle's files; the coordinator signs it.
type Manifest struct {
	Format      int    `cbor:"1,keyasint"`
	Coordinator string `cbor:"2,keyasint"`
	Origin      string `cbor:"3,keyasint"` // the audit log's origin
	Genesis     []byte `cbor:"4,keyasint"` // the id of policy version 1
	Since       int64  `cbor:"5,keyasint"` // unix seconds, inclusive
	Until       int64  `cbor:"6,keyasint"` // unix seconds, inclusive
	LogSize     int64  `cbor:"7,keyasint"` // records in log/records
	Files       []File `cbor:"8,keyasint"` // in path order, the manifest itself excluded
}

// File is one file of a bundle.
type File struct {
	Path   string `cbor:"1,keyasint"`
	SHA256 []byte `cbor:"2,keyasint"`
	Size   int64  `cbor:"3,keyasint"`
}

// ManifestFile is the manifest's path in a bundle.
const ManifestFile = "manifest.airlock"

// Export gathers a coordinator workspace's evidence for [since, until]
// (proposals created in it; the log up to its end) and returns the
// bundle's files by path, the manifest signed with key.
func Export(ctx context.Context, ws *workspace.Workspace, since, until time.Time, key crypto.Signer) (map[string][]byte, error) {
	if ws.Config.Role != workspace.Coordinator {
		return nil, errors.New("evidence: a bundle is exported from a coordinator's workspace")
	}
	if until.Before(since) {
		return nil, fmt.Errorf("evidence: the period ends (%v) before it starts (%v)", until, since)
	}
	files := map[string][]byte{}
	m := &Manifest{Format: FormatVersion, Coordinator: ws.Config.Name, Origin: ws.Config.LogOrigin(),
		Since: since.UTC().Unix(), Until: until.UTC().Unix()}
	err := ws.View(ctx, func(r store.Reader) error {
		pols, err := r.Policies()
		if err != nil {
			return err
		}
		if len(pols) == 0 {
			return errors.New("evidence: the workspace holds no policy")
		}
		for i, b := range pols {
			e, err := envelope.Decode(b)
			if err != nil {
				return err
			}
			if i == 0 {
				id := e.ID()
				m.Genesis = id[:]
			}
			files[fmt.Sprintf("policy/v%04d.airlock", i+1)] = b
		}
		// The log up to the period's end.
		al := r.Audit()
		size, err := al.Size()
		if err != nil {
			return err
		}
		var recs strings.Builder
		n := int64(0)
		for ; n < size; n++ {
			rec, err := al.Record(n)
			if err != nil {
				return err
			}
			ev, err := audit.Decode(rec)
			if err != nil {
				return fmt.Errorf("%w: entry %d: %v", audit.ErrTampered, n, err)
			}
			if ev.Time.After(until) {
				break
			}
			recs.WriteString(base64.StdEncoding.EncodeToString(rec))
			recs.WriteByte('\n')
		}
		m.LogSize = n
		files["log/records"] = []byte(recs.String())
		cps, err := r.Checkpoints()
		if err != nil {
			return err
		}
		k := 0
		seen := map[string]bool{}
		for _, cp := range cps {
			sz, err := checkpointSize(cp)
			if err != nil || sz > n || seen[string(cp)] {
				continue
			}
			seen[string(cp)] = true
			k++
			files[fmt.Sprintf("log/checkpoint-%04d.note", k)] = cp
		}
		// Proposals created in the period, with what became of them.
		ps, err := r.Proposals()
		if err != nil {
			return err
		}
		for _, sp := range ps {
			pe, err := envelope.Decode(sp.Envelope)
			if err != nil {
				return err
			}
			p, err := proposal.Decode(pe)
			if err != nil {
				return err
			}
			if p.CreatedTime().Before(since) || p.CreatedTime().After(until) {
				continue
			}
			id := hex.EncodeToString(sp.ID[:])
			files["proposals/"+id+".proposal"] = sp.Envelope
			ds, err := r.Decisions(sp.ID)
			if err != nil {
				return err
			}
			for who, d := range ds {
				de, err := envelope.Decode(d.Envelope)
				if err != nil {
					return err
				}
				ap, err := proposal.DecodeApproval(de)
				if err != nil {
					return err
				}
				if time.Unix(ap.Time, 0).After(until) {
					continue
				}
				files["decisions/"+id+"/"+who+".approval"] = d.Envelope
			}
			if b, err := r.Final(sp.ID); err == nil {
				fe, err := envelope.Decode(b)
				if err != nil {
					return err
				}
				pr, err := proposal.DecodeProof(fe)
				if err != nil {
					return err
				}
				if time.Unix(pr.Time, 0).After(until) {
					continue
				}
				files["proofs/"+id+".proof"] = b
				files["final/"+id+".tx"] = []byte(hex.EncodeToString(pr.Transaction) + "\n")
			} else if !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		sum := sha256.Sum256(files[p])
		m.Files = append(m.Files, File{Path: p, SHA256: sum[:], Size: int64(len(files[p]))})
	}
	me, err := Seal(m, key)
	if err != nil {
		return nil, err
	}
	if files[ManifestFile], err = me.Encode(); err != nil {
		return nil, err
	}
	return files, nil
}

// Seal signs a manifest.
func Seal(m *Manifest, key crypto.Signer) (*envelope.Envelope, error) {
	b, err := envelope.Marshal(m)
	if err != nil {
		return nil, err
	}
	e, err := envelope.New(envelope.TypeBundle, b)
	if err != nil {
		return nil, err
	}
	return e, e.Sign(key)
}

// checkpointSize reads the tree size from a checkpoint note's second line.
func checkpointSize(cp []byte) (int64, error) {
	lines := strings.SplitN(string(cp), "\n", 3)
	if len(lines) < 3 {
		return 0, errors.New("evidence: malformed checkpoint")
	}
	n, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || n < 0 {
		return 0, errors.New("evidence: malformed checkpoint size")
	}
	return n, nil
}
