package drill

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/airlock-vault/airlock/coordinator"
	"github.com/airlock-vault/airlock/station"
	"github.com/airlock-vault/airlock/store"
	"github.com/airlock-vault/airlock/workspace"
)

// backup is a copy of the coordinator's database taken during the run.
type backup struct {
	at    time.Time
	files map[string][]byte
	// dump is the pg_dump of a coordinator on PostgreSQL (pgbackup.go).
	dump string
}

// Restore is what a database-restored fault did and what came back.
type Restore struct {
	At       string `json:"at"`
	BackupAt string `json:"backupAt"`
	// Detected: opening the restored store was refused as rolled back
	// (its head file remembers the longer log), and it was taken only
	// through "store accept" (workspace.Accept), logged and signed.
	Detected bool `json:"detected"`
	// ProposalsLost are proposals made after the backup, which the
	// coordinator no longer knows; FinalsLost those of them already
	// finalized (their proofs were kept outside the store); Readopted
	// those the coordinator took back from a station's kept copy
	// (coordinator.Readopt); ProposedAgain the payments proposed again on
	// the same coin, when no station held the lost proposal.
	ProposalsLost int `json:"proposalsLost"`
	FinalsLost    int `json:"finalsLost"`
	Readopted     int `json:"readopted"`
	ProposedAgain int `json:"proposedAgain"`
	// DecisionsLost are decisions the coordinator had collected and lost;
	// Recollected those handed in again from the stations' exports.
	DecisionsLost int `json:"decisionsLost"`
	Recollected   int `json:"recollected"`
	// GuardHeld counts the stations that refused a payment proposed
	// again because they had approved the lost proposal of the same coin
	// (their double-sign guard).
	GuardHeld int `json:"guardHeld"`
}

var stateFiles = []string{"state.db", "state.db-wal", "state.db-shm"}

// reopen closes the coordinator's workspace, runs fn on its folder and
// opens it again with open.
func (s *sim) reopen(fn func(dir string) error, open func(dir string) (*workspace.Workspace, error)) error {
	c := s.q.Coord
	dir := c.WS.Dir
	if err := c.WS.Close(); err != nil {
		return err
	}
	if err := fn(dir); err != nil {
		return err
	}
	ws, err := open(dir)
	if err != nil {
		return err
	}
	c.WS = ws
	return nil
}

// takeBackup copies the coordinator's database, closed, as a cold backup
// of a SQLite workspace is taken (docs/service.md, "Backup of the
// database", for PostgreSQL).
func (s *sim) takeBackup(i int) {
	b := &backup{at: s.now(), files: map[string][]byte{}}
	err := s.reopen(func(dir string) error {
		if s.database != "" {
			var err error
			b.dump, err = s.pgDump(i)
			return err
		}
		for _, name := range stateFiles {
			data, err := os.ReadFile(filepath.Join(dir, name))
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			if err != nil {
				return err
			}
			b.files[name] = data
		}
		return nil
	}, func(dir string) (*workspace.Workspace, error) { return workspace.Open(dir, s.q.CoordinatorOptions()) })
	if err != nil {
		s.fail(fmt.Errorf("backing up the coordinator: %w", err))
		return
	}
	s.ext.backups[i] = b
	if b.dump != "" {
		s.log("backup", "", nil, "the coordinator's database dumped (pg_dump)")
	} else {
		s.log("backup", "", nil, "the coordinator's database copied")
	}
}

// restore puts the backup back: the coordinator must refuse the rolled
// back store until a person accepts it; proposals and decisions made
// after the backup are lost to it, and the run then recovers what the
// stations still hold.
func (s *sim) restore(i int) {
	if up := s.m.coordinatorUp(s.now()); up.After(s.now()) {
		s.at(up, func() { s.restore(i) })
		return
	}
	b := s.ext.backups[i]
	if b == nil {
		s.fail(errors.New("database-restored: no backup taken"))
		return
	}
	rs := Restore{At: s.now().Format(time.RFC3339), BackupAt: b.at.Format(time.RFC3339)}
	// What the coordinator finalized, with its proofs, before the restore:
	// proofs leave with the transaction, so they are kept outside.
	finals := map[[32]byte]FinalRecord{}
	for _, p := range s.props {
		if p.Tx == nil {
			continue
		}
		if fr, err := s.finalRecord(p); err == nil {
			finals[p.ID] = fr
		} else {
			s.fail(err)
			return
		}
	}
	var before map[string]uint64
	if s.media != nil {
		var err error
		if before, err = s.channels(); err != nil {
			s.fail(err)
			return
		}
	}
	opts := s.q.CoordinatorOptions()
	err := s.reopen(func(dir string) error {
		if b.dump != "" {
			return s.pgRestore(b.dump)
		}
		for _, name := range stateFiles {
			if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
		for name, data := range b.files {
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
				return err
			}
		}
		return nil
	}, func(dir string) (*workspace.Workspace, error) {
		ws, err := workspace.Open(dir, opts)
		if err == nil {
			ws.Close()
			s.log("restore-undetected", "", nil, "the rolled-back store opened without a word")
		} else if errors.Is(err, workspace.ErrRolledBack) {
			rs.Detected = true
			s.log("restore-refused", "", nil, "%v", err)
		} else {
			return nil, err
		}
		return workspace.Accept(dir, "drill: the database restored from the backup of "+b.at.Format(time.RFC3339), s.q.CoordKeys.Identity, opts)
	})
	if err != nil {
		s.fail(fmt.Errorf("restoring the coordinator: %w", err))
		return
	}
	s.hist.Restores = append(s.hist.Restores, RestoreCheck{At: s.now(), Detected: rs.Detected})
	if s.media != nil {
		after, err := s.channels()
		if err != nil {
			s.fail(err)
			return
		}
		s.media.restoredChannels(before, after)
		// The coordinator's operator tells the station holders; from now
		// on each side takes the other's log that no longer extends what
		// it kept (carry_media.go).
		s.media.restored = "drill: the coordinator's database restored from the backup of " + b.at.Format(time.RFC3339) + ", confirmed by its operator"
	}
	s.log("restored", "", nil, "from the backup of %s, accepted (store accept)", b.at.Format(time.RFC3339))
	for _, p := range s.props {
		known, err := s.knows(p)
		if err != nil {
			s.fail(err)
			return
		}
		if !known && !p.Lost {
			if _, final := finals[p.ID]; !final && !p.Attack && p.flow >= 0 && (p.State == "open" || p.State == "approved") {
				// Taken back from a station's kept copy: then its
				// decisions are handed in again, as for a known one.
				if known = s.readopt(p); known {
					rs.ProposalsLost++
					rs.Readopted++
				}
			}
		}
		if !known {
			if p.Lost {
				continue
			}
			p.Lost = true
			rs.ProposalsLost++
			note := "the proposal was lost with it"
			if fr, ok := finals[p.ID]; ok {
				rs.FinalsLost++
				fr.Lost = true
				s.hist.LostFinals = append(s.hist.LostFinals, fr)
				note = "its proposal was finalized before the restore (its proof kept)"
			} else if !p.Attack && p.flow >= 0 && (p.State == "open" || p.State == "approved") {
				// The same payment on the same coin: a station that
				// approved the lost proposal refuses it (its double-sign
				// guard), the others may sign.
				again := s.proposeCoin(p.flow, p.Coin, fmt.Sprintf("#%d was lost in the restore", p.N))
				if again != nil {
					again.again = true
					rs.ProposedAgain++
					note = fmt.Sprintf("its proposal was lost; the payment proposed again as #%d", again.N)
				}
			}
			s.log("proposal-lost", "", p, "made after the backup: %s", note)
			for k := range s.hist.Decisions {
				d := &s.hist.Decisions[k]
				if d.Proposal == p.hex() && d.Collected {
					d.Lost, d.Collected, d.Recovered = true, false, note
					rs.DecisionsLost++
				}
			}
			continue
		}
		aps, err := s.q.Coord.WS.Approvals(p.ID)
		if err != nil {
			s.fail(err)
			return
		}
		for k := range s.hist.Decisions {
			d := &s.hist.Decisions[k]
			if d.Proposal != p.hex() || !d.Collected {
				continue
			}
			if _, ok := aps[d.Station]; ok {
				continue
			}
			d.Lost, d.Collected = true, false
			rs.DecisionsLost++
			who, idx := d.Station, k
			at := s.m.ready(who, s.now(), s.awayOn)
			if at.IsZero() || s.m.lostAt(who, at) {
				continue
			}
			s.at(at, func() { s.rehandin(who, p, idx) })
		}
		st := s.state(p)
		if p.State == "finalized" && st != "finalized" {
			s.log("final-lost", "", p, "finalized after the backup: the coordinator has it %s again", st)
		}
		p.State = st
	}
	s.ext.restores = append(s.ext.restores, rs)
}

// readopt: after a restore, the coordinator takes back a lost proposal
// from the first station (in the quorum's order) that keeps it and still
// has its workspace ("airlock export ID --proposal", then "airlock
// readopt"). It says whether the proposal was taken back.
func (s *sim) readopt(p *Prop) bool {
	for _, who := range s.people {
		m, ok := s.q.Stations[who]
		if !ok || s.m.lostAt(who, s.now()) {
			continue
		}
		kept, err := m.KeptProposal(s.ctx, p.hex())
		if errors.Is(err, workspace.ErrNotFound) || errors.Is(err, station.ErrReleased) {
			continue
		}
		if err != nil {
			s.fail(fmt.Errorf("%s exporting its kept proposal %s: %w", who, p.name(), err))
			return false
		}
		if _, err := s.q.Coord.Readopt(s.ctx, kept, coordinator.ReasonRestore); err != nil {
			s.log("readopt-refused", "", p, "from %s's kept copy: %v", who, err)
			return false
		}
		s.log("readopted", who, p, "the coordinator took back the lost proposal from %s's kept copy", who)
		return true
	}
	return false
}

// rehandin: after a restore, the station exports its kept decision again
// (what "airlock export" does) and it is handed in.
func (s *sim) rehandin(who string, p *Prop, idx int) {
	if s.m.lostAt(who, s.now()) {
		s.log("no-reexport", who, p, "the station's key is lost")
		return
	}
	e, err := s.q.Stations[who].WS.Decision(p.ID)
	if err != nil {
		s.fail(fmt.Errorf("%s exporting its decision on %s again: %w", who, p.name(), err))
		return
	}
	raw, err := e.Encode()
	if err != nil {
		s.fail(err)
		return
	}
	s.log("handed-in-again", who, p, "after the restore")
	s.collect(who, p, raw, idx, false)
	d := &s.hist.Decisions[idx]
	switch {
	case d.Collected:
		d.Recovered = "handed in again from the station's export"
		if n := len(s.ext.restores); n > 0 {
			s.ext.restores[n-1].Recollected++
		}
	case !s.now().Before(p.Expires):
		d.Recovered = "its proposal expired before it was handed in again"
	default:
		if st := s.state(p); st == "finalized" || st == "rejected" {
			d.Recovered = "its proposal was settled (" + st + ") before it was handed in again"
		}
	}
}

// knows says whether the coordinator has the proposal.
func (s *sim) knows(p *Prop) (bool, error) {
	err := s.q.Coord.WS.View(s.ctx, func(r store.Reader) error {
		_, err := r.Proposal(p.ID)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// finalRecord reads a finalized proposal's proof and approvals from the
// coordinator.
func (s *sim) finalRecord(p *Prop) (FinalRecord, error) {
	ws := s.q.Coord.WS
	proof, err := ws.Final(p.ID)
	if err != nil {
		return FinalRecord{}, err
	}
	raw, err := proof.Encode()
	if err != nil {
		return FinalRecord{}, err
	}
	fr := FinalRecord{Proposal: p.hex(), Proof: raw, At: p.FinalAt}
	aps, err := ws.Approvals(p.ID)
	if err != nil {
		return FinalRecord{}, err
	}
	for _, who := range sortedKeys(aps) {
		b, err := aps[who].Encode()
		if err != nil {
			return FinalRecord{}, err
		}
		fr.Approvals = append(fr.Approvals, b)
	}
	return fr, nil
}
