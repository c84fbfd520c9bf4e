package transfer

import (
	"crypto/ed25519"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/airlock-vault/airlock/audit"
	"github.com/airlock-vault/airlock/policy"
	"github.com/airlock-vault/airlock/store"
	"github.com/airlock-vault/airlock/transport/media"
	"golang.org/x/mod/sumdb/tlog"
)

// A peer whose store was restored from a backup (its "store accept")
// sends media whose checkpoints no longer extend the one this workspace
// kept, and whose sequence numbers start again below the last received:
// each is refused, as a rewritten log must be. Once its operator has
// confirmed the restore out of band, a person takes the peer's new log on
// purpose: Gap.AcceptRestored names why, and only a transfer that is
//
//   - made after the medium that brought the kept checkpoint (the
//     manifest's time is later: an old medium of the old log is not),
//   - signed by the peer, with an artifact matching its manifest, and
//   - carrying a checkpoint that does NOT extend the kept one (a log that
//     does extend it needs no acceptance: its sequence numbers go on)
//
// is taken. Its transfer.imported entry records the acceptance
// (restored_log: the reason; the old and new checkpoints' sizes and roots
// and the old sequence number) in the transaction that imports it; from
// then on the new log's checkpoints and sequence numbers are checked as
// usual.

// seenAt names the witness that keeps the time of the manifest that
// brought "seen:"+origin.
func seenAt(origin string) string { return "seen-at:" + origin }

// restoreCheck says whether m may be taken as the first transfer of a
// restored peer's log, reading the kept checkpoint and its time.
func restoreCheck(r store.Reader, pol *policy.Policy, m *media.Manifest) (*restoreInfo, error) {
	if len(m.Checkpoint) == 0 {
		return nil, errors.New("transfer: the transfer carries no checkpoint of its sender's log; a restore cannot be accepted from it")
	}
	pub, err := media.SenderKey(pol, m.Origin)
	if err != nil {
		return nil, err
	}
	origin := "airlock/" + m.Origin
	cp, err := audit.OpenCheckpoint(m.Checkpoint, origin, ed25519.PublicKey(pub))
	if err != nil {
		return nil, err
	}
	prev, err := r.Witness("seen:" + m.Origin)
	if err != nil {
		return nil, err
	}
	if prev == nil {
		return nil, fmt.Errorf("transfer: no checkpoint of %s kept: nothing to accept a restore against", m.Origin)
	}
	old, err := audit.OpenCheckpoint(prev, origin, ed25519.PublicKey(pub))
	if err != nil {
		return nil, fmt.Errorf("transfer: the checkpoint of %s this workspace kept does not verify: %w", m.Origin, err)
	}
	at, err := r.Witness(seenAt(m.Origin))
	if err != nil {
		return nil, err
	}
	if len(at) != 8 {
		return nil, fmt.Errorf("transfer: the time of %s's kept checkpoint is not recorded (kept before this release): a restore cannot be told from an old medium", m.Origin)
	}
	keptAt := int64(binary.BigEndian.Uint64(at))
	if m.Time <= keptAt {
		return nil, fmt.Errorf("%w: the transfer was made at %s, not after the medium this workspace last took from %s (%s): an old medium, not the restored log's", media.ErrReplay, m.TimeOf().Format("2006-01-02T15:04:05Z"), m.Origin, unixUTC(keptAt))
	}
	if extends(old, cp, m) {
		return nil, fmt.Errorf("transfer: %s's log extends the checkpoint this workspace kept: it was not restored; import without accepting a restore", m.Origin)
	}
	return &restoreInfo{old: old, cp: cp}, nil
}

type restoreInfo struct{ old, cp *audit.Checkpoint }

// extends reports whether cp provably extends old with m's proofs.
func extends(old, cp *audit.Checkpoint, m *media.Manifest) bool {
	if cp.Size < old.Size {
		return false
	}
	proof, found, err := proofFrom(m, old.Size)
	if err != nil || (!found && cp.Size > old.Size) {
		return false
	}
	return audit.CheckConsistency(old, cp, proof) == nil
}

// proofFrom is the manifest's consistency proof from a checkpoint of size
// from, if it carries one.
func proofFrom(m *media.Manifest, from int64) (tlog.TreeProof, bool, error) {
	var proof tlog.TreeProof
	found := false
	for _, p := range m.Proofs {
		if p.From != from {
			continue
		}
		for _, h := range p.Hashes {
			if len(h) != tlog.HashSize {
				return nil, false, errors.New("transfer: malformed consistency proof")
			}
			proof = append(proof, tlog.Hash(h))
		}
		found = true
	}
	return proof, found, nil
}

// restoreDetail is what the transfer.imported entry of a transfer taken
// with a restored log records beside the usual: why, and the old and new
// checkpoints and sequence numbers.
func restoreDetail(detail map[string]string, ri *restoreInfo, reason string, last uint64) {
	detail["restored_log"] = reason
	detail["old_size"] = strconv.FormatInt(ri.old.Size, 10)
	detail["old_root"] = hex.EncodeToString(ri.old.Root[:])
	detail["size"] = strconv.FormatInt(ri.cp.Size, 10)
	detail["root"] = hex.EncodeToString(ri.cp.Root[:])
	detail["old_sequence"] = strconv.FormatUint(last, 10)
}

// acceptRestored moves, in tx, the kept checkpoint, its time and the
// sequence number to m's, once restoreCheck found the same kept
// checkpoint the entry's detail names.
func acceptRestored(tx store.Tx, pol *policy.Policy, m *media.Manifest, was *restoreInfo) error {
	ri, err := restoreCheck(tx, pol, m)
	if err != nil {
		return err
	}
	if ri.old.Size != was.old.Size || ri.old.Root != was.old.Root {
		return fmt.Errorf("transfer: the checkpoint of %s kept here changed during the import; import again", m.Origin)
	}
	if err := tx.SetSequence("in:"+m.Origin, m.Sequence); err != nil {
		return err
	}
	if err := tx.PutWitness("seen:"+m.Origin, m.Checkpoint); err != nil {
		return err
	}
	return putSeenAt(tx, m)
}

func putSeenAt(tx store.Tx, m *media.Manifest) error {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(m.Time))
	return tx.PutWitness(seenAt(m.Origin), b[:])
}

func unixUTC(t int64) string { return time.Unix(t, 0).UTC().Format("2006-01-02T15:04:05Z") }
