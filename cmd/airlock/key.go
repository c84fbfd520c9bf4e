package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/term"

	"github.com/airlock-vault/airlock/keys/enroll"
	"github.com/airlock-vault/airlock/keys/keystore"
	"github.com/airlock-vault/airlock/workspace"
)

// passphrase reads the keystore passphrase from a file, the environment or
// the terminal (without echo), in that order.
func (e *env) passphrase(file string, confirm bool) ([]byte, error) {
	return e.secret("passphrase", "Passphrase", file, "AIRLOCK_PASSPHRASE", "--passphrase-file", confirm)
}

// pin reads a token PIN from a file, AIRLOCK_PIN or the terminal (without
// echo), in that order.
func (e *env) pin(file string) ([]byte, error) {
	return e.secret("PIN", "Token PIN", file, "AIRLOCK_PIN", "--pin-file", false)
}

// secret reads a secret's first line from file, else the variable env,
// else the terminal without echo (twice when confirm).
func (e *env) secret(what, prompt, file, env, flag string, confirm bool) ([]byte, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %v", what, err)
		}
		line, _, _ := bytes.Cut(b, []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			return nil, fmt.Errorf("%s file %s is empty", what, file)
		}
		return line, nil
	}
	if p := os.Getenv(env); p != "" {
		return []byte(p), nil
	}
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil || !term.IsTerminal(int(tty.Fd())) {
		return nil, withHint(fmt.Errorf("no %s given and no terminal to ask on", what), fmt.Sprintf("use %s FILE or set %s", flag, env))
	}
	defer tty.Close()
	ask := func(prompt string) ([]byte, error) {
		fmt.Fprint(tty, prompt+": ")
		defer fmt.Fprintln(tty)
		return term.ReadPassword(int(tty.Fd()))
	}
	p, err := ask(prompt)
	if err != nil {
		return nil, err
	}
	if confirm {
		q, err := ask("Again")
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(p, q) {
			return nil, fmt.Errorf("the %ss differ", what)
		}
	}
	if len(p) == 0 {
		return nil, fmt.Errorf("empty %s", what)
	}
	return p, nil
}

// unlocked opens the workspace (of role, when not "") and unlocks its
// keys: the preamble of every command that signs. done closes both.
func (e *env) unlocked(role string, sec *secrets) (ws *workspace.Workspace, ks *keyring, done func(), err error) {
	if role == "" {
		ws, err = e.open()
	} else {
		ws, err = e.openRole(role)
	}
	if err != nil {
		return nil, nil, nil, err
	}
	if ks, err = e.unlock(ws, sec); err != nil {
		ws.Close()
		return nil, nil, nil, err
	}
	return ws, ks, func() { ks.Close(); ws.Close() }, nil
}

// open opens the workspace the command runs in.
func (e *env) open() (*workspace.Workspace, error) {
	ws, err := workspace.Open(e.dir, e.wsOptions())
	if errors.Is(err, workspace.ErrNotWorkspace) {
		return nil, withHint(err, "run 'airlock key new' to create one, or pass -C DIR")
	}
	if err != nil {
		return nil, err
	}
	if e.clockSet && !ws.Config.Drill {
		ws.Close()
		return nil, errClockOverride()
	}
	if e.database != "" && ws.Config.Role != workspace.Coordinator {
		ws.Close()
		return nil, errStationDatabase(e.dir)
	}
	return ws, nil
}

func (e *env) wsOptions() workspace.Options {
	return workspace.Options{Now: e.now, LockWait: e.lockWait, Warn: e.warn, Database: e.database}
}

// errStationDatabase: a station's store is its own file, never a server's.
func errStationDatabase(dir string) error {
	return withHint(fmt.Errorf("AIRLOCK_DATABASE keeps a coordinator's store in PostgreSQL; %s is a station, whose store is its own file and never on a network", dir),
		"unset AIRLOCK_DATABASE for station commands")
}

// initWS creates the workspace the command runs in.
func (e *env) initWS(cfg workspace.Config) (*workspace.Workspace, error) {
	if e.clockSet && !cfg.Drill {
		return nil, errClockOverride()
	}
	if e.database != "" && cfg.Role != workspace.Coordinator {
		return nil, errStationDatabase(e.dir)
	}
	return workspace.Init(e.dir, cfg, e.wsOptions())
}

func errClockOverride() error {
	return withHint(errors.New("AIRLOCK_NOW is honoured only in drill workspaces: a station or coordinator never dates its log by an overridden clock"),
		"unset AIRLOCK_NOW, or rehearse in workspaces made with 'airlock key new --drill'")
}

// openRole opens the workspace and checks its role.
func (e *env) openRole(role string) (*workspace.Workspace, error) {
	ws, err := e.open()
	if err != nil {
		return nil, err
	}
	if ws.Config.Role != role {
		ws.Close()
		return nil, withHint(fmt.Errorf("%s is a %s workspace; this command runs at a %s", e.dir, ws.Config.Role, role), "pass -C DIR for the right workspace")
	}
	return ws, nil
}

// logger returns an audit logger for ws, for events that change no state.
// A checkpoint is signed when the identity key is at hand (ks not nil).
func (e *env) logger(ws *workspace.Workspace, ks *keyring) func(kind, subject string, detail map[string]string) error {
	return func(kind, subject string, detail map[string]string) error {
		if err := ws.Log(context.Background(), kind, subject, detail); err != nil {
			return err
		}
		return e.checkpoint(ws, ks)
	}
}

// checkpoint signs a checkpoint of ws's log when the identity key is at
// hand. It runs after a command's change has committed, so a checkpoint
// that cannot be stored (a full disk) is a warning: the change stands,
// and the next command that unlocks the key signs one.
func (e *env) checkpoint(ws *workspace.Workspace, ks *keyring) error {
	if ks == nil {
		return nil
	}
	if _, err := ws.Checkpoint(context.Background(), ks.Identity); err != nil {
		e.warn(fmt.Errorf("the change is committed, but no checkpoint was signed (%v); the next command that unlocks the key signs one", err))
	}
	return nil
}

// warn tells the person something went wrong that undid nothing.
func (e *env) warn(err error) { fmt.Fprintf(e.stderr, "airlock: warning: %v\n", err) }

func origin(ws *workspace.Workspace) string { return ws.Config.LogOrigin() }

func (e *env) keyNew(args []string) error {
	fs := e.flags("key new")
	role := fs.String("role", workspace.Station, "station, coordinator, or client (an online key for 'airlock --coordinator URL', delegated by a participant)")
	name := fs.String("name", "", "participant or coordinator id (default: the folder's name)")
	device := fs.String("device", "", "device id in the policy (default keystore, or hsm with --pkcs11)")
	module := fs.String("pkcs11", "", "keep the keys on a PKCS#11 token: the module (.so) to load")
	token := fs.String("token", "", "with --pkcs11: the token's label")
	pinFile := fs.String("pin-file", "", "with --pkcs11: read the token PIN from this file")
	network := fs.String("network", "regtest", "mainnet, testnet3, testnet4, signet or regtest")
	passFile := fs.String("passphrase-file", "", "read the passphrase from this file")
	wf := fs.Int("work-factor", keystore.DefaultWorkFactor, "scrypt work factor (log2 N)")
	drill := fs.Bool("drill", false, "a rehearsal workspace: AIRLOCK_NOW may set its clock")
	asJSON := jsonFlag(fs)
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usagef("key new: unexpected argument %q", pos[0])
	}
	if *role != workspace.Station && *role != workspace.Coordinator && *role != workspace.Client {
		return usagef("key new: --role %q: want station, coordinator or client", *role)
	}
	if *role == workspace.Client && *module != "" {
		return usagef("key new --role client: a client's key is a keystore's (it is online and delegated, not a signer)")
	}
	if *name == "" {
		*name = strings.ToLower(filepath.Base(e.dir))
	}
	net, err := keystore.NetworkByName(*network)
	if err != nil {
		return usagef("key new: %v", err)
	}
	if _, err := os.Stat(filepath.Join(e.dir, "airlock.json")); err == nil {
		return withHint(fmt.Errorf("%s already holds a workspace; nothing was changed", e.dir), "each station and coordinator has its own folder")
	}
	if (*module == "") != (*token == "") {
		return usagef("key new: --pkcs11 and --token go together")
	}
	if *device == "" {
		*device = "keystore"
		if *module != "" {
			*device = "hsm"
		}
	}
	p := enroll.Params{Role: *role, Name: *name, Device: *device, Network: net, Created: e.now(), Drill: *drill}
	if *module != "" {
		return e.keyNewToken(*module, *token, *pinFile, p, *asJSON)
	}
	pass, err := e.passphrase(*passFile, true)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(e.dir, 0o700); err != nil {
		return err
	}
	en, err := enroll.Keystore(filepath.Join(e.dir, "keystore.age"), pass, *wf, p)
	if err != nil {
		return err
	}
	ws, err := e.initWS(en.Config)
	if err != nil {
		en.Discard()
		return err
	}
	defer ws.Close()
	if err := e.logger(ws, en.Keys)("key.created", "", en.Detail); err != nil {
		return err
	}
	if *asJSON {
		if err := printJSON(e.stdout, enroll.Info(ws.Config, "keystore")); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(e.stdout, "created %s %q in %s (%s)\n", *role, *name, e.dir, net.Name)
		if err := e.printKeys(ws, false); err != nil {
			return err
		}
	}
	if *role == workspace.Station && !e.rehearsal {
		fmt.Fprintf(e.stderr, "airlock: note: back up the seed now, nothing else restores these keys: airlock -C %s key backup --threshold K --shares N ... (custodians' keys from 'airlock key custodian')\n", shellJoin([]string{e.dir}))
	}
	return nil
}

func (e *env) keyShow(args []string) error {
	fs := e.flags("key show")
	yaml := fs.Bool("yaml", false, "print only the policy entry")
	asJSON := jsonFlag(fs)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	ws, err := e.open()
	if err != nil {
		return err
	}
	defer ws.Close()
	if *asJSON {
		return printJSON(e.stdout, enroll.Info(ws.Config, ""))
	}
	return e.printKeys(ws, *yaml)
}

func (e *env) printKeys(ws *workspace.Workspace, onlyYAML bool) error {
	c := ws.Config
	w := bufio.NewWriter(e.stdout)
	defer w.Flush()
	if !onlyYAML {
		fmt.Fprintf(w, "identity  %s\n", c.Identity)
		if c.Token != nil {
			fmt.Fprintf(w, "token     %q (%s %s, serial %s) via %s\n", c.Token.Label, c.Token.Vendor, c.Token.Model, c.Token.Serial, c.Token.Module)
		}
		if c.Token != nil && c.Key != "" {
			fmt.Fprintf(w, "key       %s\n", c.Key)
			fmt.Fprintf(w, "origin    static key (a token has no BIP-32): fingerprint %s = HASH160(key)[:4]\n", strings.Trim(strings.SplitN(c.Key, "]", 2)[0], "["))
		} else if c.Key != "" {
			fmt.Fprintf(w, "key       %s\n", c.Key)
			fp, path, _ := strings.Cut(strings.TrimPrefix(c.Key, "["), "/")
			path, _, _ = strings.Cut(path, "]")
			fmt.Fprintf(w, "origin    fingerprint %s, path m/%s\n", fp, path)
		}
		if c.Ethereum != "" {
			fmt.Fprintf(w, "ethereum  %s (Safe owner)\n", c.Ethereum)
		}
		if c.Role == workspace.Client {
			fmt.Fprintf(w, "a client is in no policy: the participant it acts for delegates to it at their station,\n  airlock -C STATION key delegate --to %s --out FILE\nthen 'airlock -C %s key delegate FILE' here\n", c.Identity, shellJoin([]string{ws.Dir}))
			return nil
		}
		fmt.Fprintf(w, "policy entry (paste under %s):\n", map[string]string{workspace.Station: "participants:", workspace.Coordinator: "coordinators:"}[c.Role])
	}
	fmt.Fprint(w, enroll.PolicyEntry(c))
	return nil
}
