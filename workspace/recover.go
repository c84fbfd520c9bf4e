package workspace

import (
	"context"
	"crypto"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/airlock-vault/airlock/store"
	"github.com/airlock-vault/airlock/store/sqlstore"
)

// Stub returns the workspace in dir without opening its store: enough to
// unlock its keys for Reinit or Accept.
func Stub(dir string) (*Workspace, error) {
	cfg, err := readConfig(dir)
	if err != nil {
		return nil, err
	}
	return &Workspace{Dir: dir, Config: cfg, Now: time.Now}, nil
}

func (w *Workspace) oldHead() map[string]string {
	d := map[string]string{}
	if b, err := os.ReadFile(w.path("head")); err == nil {
		if h, err := parseHead(b); err == nil {
			d["previous_size"] = strconv.FormatInt(h.Size, 10)
			d["previous_root"] = base64.StdEncoding.EncodeToString(h.Root[:])
		}
	}
	return d
}

// Reinit replaces a missing (or unreadable) store with a new, empty one,
// after a person acknowledged what is lost: a station forgets every coin
// and nonce it approved, so it could sign a conflicting spend. The new
// log's first entry records the reason and the head the workspace had, and
// a checkpoint signed with key seals it. An unreadable state.db is kept
// beside it, never deleted.
func Reinit(dir, reason string, key crypto.Signer, o Options) (*Workspace, error) {
	if reason == "" {
		return nil, errors.New("workspace: re-initialising a store needs a reason")
	}
	w, err := Stub(dir)
	if err != nil {
		return nil, err
	}
	if w.Config.Format != Format {
		return nil, fmt.Errorf("workspace: %s is a first-release workspace; open it to migrate it instead", dir)
	}
	if db, err := sqlstore.Open(context.Background(), w.path("state.db"), sqlstore.Options{}); err == nil {
		db.Close()
		return nil, fmt.Errorf("workspace: %s has a readable store; nothing to re-initialise (if it was rolled back, 'airlock store accept' records that)", dir)
	}
	if w.lock, err = acquire(dir, o.LockWait); err != nil {
		return nil, err
	}
	w.Now = o.now()
	if _, err := os.Stat(w.path("state.db")); err == nil {
		kept := w.path("state.db.unreadable-" + w.Now().UTC().Format("20060102T150405Z"))
		if err := os.Rename(w.path("state.db"), kept); err != nil {
			w.Close()
			return nil, err
		}
		for _, sfx := range []string{"-wal", "-shm"} {
			os.Rename(w.path("state.db"+sfx), kept+sfx)
		}
	}
	db, err := sqlstore.Open(context.Background(), w.path("state.db"), sqlstore.Options{Create: true})
	if err != nil {
		w.Close()
		return nil, err
	}
	w.Store = db
	detail := w.oldHead()
	detail["reason"] = reason
	detail["role"] = w.Config.Role
	if w.Config.Role == Station {
		detail["warning"] = "this station's record of what it approved is gone: it cannot refuse a conflicting spend of a coin or nonce it approved before"
	}
	err = w.Update(context.Background(), func(tx store.Tx) error {
		if _, err := tx.Log(w.Event("store.reinitialised", "", detail)); err != nil {
			return err
		}
		if w.Config.Drill {
			return tx.SetMeta("clock", "drill")
		}
		return nil
	})
	if err == nil {
		_, err = w.Checkpoint(context.Background(), key)
	}
	if err != nil {
		w.Close()
		return nil, err
	}
	return w, nil
}

// Accept takes the store as it is after a person acknowledged that it may
// have been rolled back (a backup restored on purpose): the entry records
// the reason, the head the workspace had and the one it has now, and a
// checkpoint signed with key seals it.
func Accept(dir, reason string, key crypto.Signer, o Options) (*Workspace, error) {
	if reason == "" {
		return nil, errors.New("workspace: accepting a store needs a reason")
	}
	w, err := Stub(dir)
	if err != nil {
		return nil, err
	}
	if w.lock, err = acquire(dir, o.LockWait); err != nil {
		return nil, err
	}
	w.Now = o.now()
	db, err := w.openStore(o, false)
	if err != nil {
		w.Close()
		return nil, err
	}
	w.Store = db
	detail := w.oldHead()
	detail["reason"] = reason
	err = w.Update(context.Background(), func(tx store.Tx) error {
		if err := CrossCheck(tx); err != nil {
			return fmt.Errorf("%w; accepting a rolled-back store cannot mend a store whose state and log disagree", err)
		}
		h, err := headOf(tx, -1)
		if err != nil {
			return err
		}
		detail["size"] = strconv.FormatInt(h.Size, 10)
		detail["root"] = base64.StdEncoding.EncodeToString(h.Root[:])
		_, err = tx.Log(w.Event("store.accepted", "", detail))
		return err
	})
	if err == nil {
		_, err = w.Checkpoint(context.Background(), key)
	}
	if err != nil {
		w.Close()
		return nil, err
	}
	return w, nil
}
