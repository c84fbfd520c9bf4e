package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"filippo.io/age"

	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/keys"
	"github.com/airlock-vault/airlock/keys/backup"
	"github.com/airlock-vault/airlock/keys/enroll"
	"github.com/airlock-vault/airlock/keys/keystore"
	"github.com/airlock-vault/airlock/keys/shamir"
	"github.com/airlock-vault/airlock/policy"
	"github.com/airlock-vault/airlock/workspace"
)

// multi is a repeatable string flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(s string) error { *m = append(*m, s); return nil }

var _ flag.Value = (*multi)(nil)

// keyBackup splits the station's seed and identity into K-of-N shares,
// each encrypted to its custodian (an age X25519 recipient, or a
// passphrase file for an scrypt recipient) or printed as words.
func (e *env) keyBackup(args []string) error {
	fs := e.flags("key backup")
	n := fs.Int("shares", 0, "number of shares (custodians)")
	k := fs.Int("threshold", 0, "shares needed to restore")
	out := fs.String("out", "", "folder to write the encrypted shares into")
	words := fs.Bool("words", false, "print the shares as words instead (secrets on screen)")
	passFile := e.secretFlags(fs)
	var recipients multi
	fs.Var(&recipients, "recipient", "a custodian: age1… or recipient-file:PATH (X25519), or passphrase-file:PATH (scrypt); one per share, in order")
	asJSON := jsonFlag(fs)
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usagef("key backup: unexpected argument %q", pos[0])
	}
	if *k < 1 || *n < *k || *n > backup.MaxShares {
		return usagef("key backup: want --threshold K --shares N with 1 <= K <= N <= %d", backup.MaxShares)
	}
	if *words == (*out != "") {
		return usagef("key backup: want either --out DIR with --recipient for each share, or --words")
	}
	var rcps []age.Recipient
	if !*words {
		if len(recipients) != *n {
			return usagef("key backup: %d recipients for %d shares: give one --recipient per share", len(recipients), *n)
		}
		for _, r := range recipients {
			rc, err := backup.ParseRecipient(r)
			if err != nil {
				return err
			}
			rcps = append(rcps, rc)
		}
	}
	ws, ks, done, err := e.unlocked(workspace.Station, passFile)
	if err != nil {
		return err
	}
	defer done()
	secret, err := backupSecret(ks)
	if err != nil {
		return err
	}
	defer clear(secret)
	shares, err := backup.Split(secret, *k, *n)
	if err != nil {
		return err
	}
	type shareOut struct {
		Index int    `json:"index"`
		File  string `json:"file,omitempty"`
		Words string `json:"words,omitempty"`
	}
	var listed []shareOut
	if *words {
		for i, s := range shares {
			if *asJSON {
				listed = append(listed, shareOut{Index: i + 1, Words: backup.Words(s)})
				continue
			}
			fmt.Fprintf(e.stdout, "share %d of %d (any %d restore):\n%s\n\n", i+1, *n, *k, backup.Words(s))
		}
	} else {
		if err := os.MkdirAll(*out, 0o700); err != nil {
			return err
		}
		if err := backup.WriteSealed(*out, ws.Config.Name, shares, rcps); err != nil {
			return err
		}
		for i := range shares {
			listed = append(listed, shareOut{Index: i + 1, File: filepath.Join(*out, backup.ShareFile(ws.Config.Name, i+1, *n))})
		}
		if !*asJSON {
			fmt.Fprintf(e.stdout, "wrote %d shares (any %d restore) to %s, each encrypted to its custodian\n", *n, *k, *out)
		}
	}
	if err := e.logger(ws, ks)("key.backup", fmt.Sprintf("%x", shares[0].ID[:]), map[string]string{
		"threshold": fmt.Sprint(*k), "shares": fmt.Sprint(*n), "key": ws.Config.Key}); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e.stdout, struct {
			Threshold int        `json:"threshold"`
			Shares    []shareOut `json:"shares"`
			Key       string     `json:"key"`
		}{*k, listed, ws.Config.Key})
	}
	return nil
}

// readShares decrypts and decodes share files: .age files with the given
// age identity files or share passphrases, other files as words.
func readShares(files, identityFiles, passFiles []string) ([]shamir.Share, error) {
	ids, err := backup.LoadIdentities(identityFiles, passFiles)
	if err != nil {
		return nil, err
	}
	var shares []shamir.Share
	for _, f := range files {
		raw, err := envelope.ReadArtifact(f)
		if err != nil {
			return nil, err
		}
		s, err := backup.ReadShare(f, raw, ids)
		if errors.Is(err, backup.ErrNoIdentity) {
			return nil, withHint(err, "pass --identity FILE or --share-passphrase-file FILE")
		}
		if err != nil {
			return nil, err
		}
		shares = append(shares, *s)
	}
	return shares, nil
}

func shareFlags(fs *flag.FlagSet) (*multi, *multi, *multi) {
	var shares, ids, passes multi
	fs.Var(&shares, "share", "a share file (.age, or words); repeat for each")
	fs.Var(&ids, "identity", "an age identity file to decrypt shares; repeatable")
	fs.Var(&passes, "share-passphrase-file", "a custodian's passphrase file for scrypt shares; repeatable")
	return &shares, &ids, &passes
}

// keyRestore rebuilds a station's keystore from K shares into a new
// workspace.
func (e *env) keyRestore(args []string) error {
	fs := e.flags("key restore")
	shares, ids, passes := shareFlags(fs)
	name := fs.String("name", "", "participant id of the restored station")
	device := fs.String("device", "keystore", "device id in the policy")
	passFile := fs.String("passphrase-file", "", "passphrase for the new keystore")
	wf := fs.Int("work-factor", keystore.DefaultWorkFactor, "scrypt work factor for the new keystore")
	asJSON := jsonFlag(fs)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if len(*shares) == 0 || *name == "" {
		return usagef("key restore: want --share FILE... --name ID")
	}
	if _, err := os.Stat(filepath.Join(e.dir, "airlock.json")); err == nil {
		return fmt.Errorf("%s already holds a workspace; restore into a new folder (nothing was changed)", e.dir)
	}
	ks, err := combine(*shares, *ids, *passes)
	if err != nil {
		return err
	}
	pass, err := e.passphrase(*passFile, true)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(e.dir, 0o700); err != nil {
		return err
	}
	en, err := enroll.Restored(ks, filepath.Join(e.dir, "keystore.age"), pass, *wf, enroll.Params{
		Role: workspace.Station, Name: *name, Device: *device, Created: e.now()})
	if err != nil {
		return err
	}
	ws, err := e.initWS(en.Config)
	if err != nil {
		en.Discard()
		return err
	}
	defer ws.Close()
	if err := e.logger(ws, en.Keys)("key.restored", "", map[string]string{"key": en.Config.Key, "shares": fmt.Sprint(len(*shares))}); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e.stdout, enroll.Info(ws.Config, "restored"))
	}
	fmt.Fprintf(e.stdout, "restored station %q in %s\n", *name, e.dir)
	return e.printKeys(ws, false)
}

// combine reads the share files and rebuilds the keystore from them, in
// memory.
func combine(files, ids, passes []string) (*keystore.Keystore, error) {
	shares, err := readShares(files, ids, passes)
	if err != nil {
		return nil, err
	}
	ks, err := backup.Restore(shares)
	if errors.Is(err, shamir.ErrTooFew) {
		return nil, withHint(err, "collect more custodians' shares")
	}
	return ks, err
}

// keyVerifyBackup is the backup drill: it rebuilds the keys in memory from
// the shares and compares them with this station's recorded keys and the
// policy's; it writes no secret anywhere.
func (e *env) keyVerifyBackup(args []string) error {
	fs := e.flags("key verify-backup")
	shares, ids, passes := shareFlags(fs)
	asJSON := jsonFlag(fs)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if len(*shares) == 0 {
		return usagef("key verify-backup: want --share FILE...")
	}
	ws, err := e.openRole(workspace.Station)
	if err != nil {
		return err
	}
	defer ws.Close()
	log := e.logger(ws, nil)
	ks, err := combine(*shares, *ids, *passes)
	if err != nil {
		log("key.backup-verified", "", map[string]string{"result": "fail", "reason": err.Error()})
		return err
	}
	var pol *policy.Policy
	if p, _, err := ws.Policy(reg); err == nil {
		pol = p
	}
	err = backup.Verify(ks, ws.Config, pol)
	fp := keys.FormatFingerprint(ks.MasterFingerprint())
	var mismatch *backup.MismatchError
	if errors.As(err, &mismatch) {
		log("key.backup-verified", "", map[string]string{"result": "fail", "fingerprint": fp})
		return &refusedError{"verify-backup: FAIL: " + strings.Join(mismatch.Problems, "; ")}
	}
	if err != nil {
		return err
	}
	if err := log("key.backup-verified", "", map[string]string{"result": "pass", "fingerprint": fp}); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e.stdout, struct {
			Passed      bool   `json:"passed"`
			Shares      int    `json:"shares"`
			Fingerprint string `json:"fingerprint"`
		}{true, len(*shares), fp})
	}
	fmt.Fprintf(e.stdout, "backup drill PASSED: %d shares rebuild fingerprint %s, the key and identity this station and its policy record; nothing was written\n", len(*shares), fp)
	return nil
}

// keyCustodian makes an age identity for a backup custodian: the secret
// goes to --out (mode 0600, never overwritten), the recipient to stdout,
// for 'key backup --recipient'.
func (e *env) keyCustodian(args []string) error {
	fs := e.flags("key custodian")
	out := fs.String("out", "", "where to write the custodian's age identity (secret; keep it with the custodian)")
	asJSON := jsonFlag(fs)
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 || *out == "" {
		return usagef("key custodian: want --out FILE")
	}
	if _, err := os.Stat(*out); err == nil {
		return withHint(fmt.Errorf("%s exists; nothing was written", *out), "a custodian's identity is never overwritten: choose another --out")
	}
	file, recipient, err := backup.NewCustodian(e.now())
	if err != nil {
		return err
	}
	if err := workspace.WriteFileAtomic(*out, file, 0o600); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e.stdout, struct {
			Recipient string `json:"recipient"`
			File      string `json:"file"`
		}{recipient, *out})
	}
	fmt.Fprintln(e.stdout, recipient)
	fmt.Fprintf(e.stderr, "airlock: wrote the custodian's secret identity to %s (give it to the custodian, offline); seal shares to the recipient above\n", *out)
	return nil
}
