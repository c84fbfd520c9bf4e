package main

import (
	"errors"
	"flag"
	"fmt"

	"github.com/airlock-vault/airlock/coordinator"
	"github.com/airlock-vault/airlock/keys/pkcs11"
)

// executorFlags name the account that executes Safe transactions: an
// Ethereum V3 keystore file, or a secp256k1 key on a PKCS#11 token.
type executorFlags struct {
	keystore, passFile    *string
	module, token, keyLbl *string
	pinFile               *string
}

func addExecutorFlags(fs *flag.FlagSet) *executorFlags {
	return &executorFlags{
		keystore: fs.String("executor-keystore", "", "Safe: the executor's Ethereum V3 JSON keystore file; the executor sends execTransaction and pays its gas"),
		passFile: fs.String("executor-passphrase-file", "", "Safe: the executor keystore's passphrase (first line; or $AIRLOCK_EXECUTOR_PASSPHRASE, or asked on the terminal)"),
		module:   fs.String("executor-pkcs11", "", "Safe: the executor's key is on a PKCS#11 token: the module (.so) to load (with --executor-token, --executor-key)"),
		token:    fs.String("executor-token", "", "with --executor-pkcs11: the token's label"),
		keyLbl:   fs.String("executor-key", "", "with --executor-pkcs11: the executor key's label on the token ('airlock key executor' makes one)"),
		pinFile:  fs.String("executor-pin-file", "", "with --executor-pkcs11: read the token PIN from this file (or $AIRLOCK_PIN)"),
	}
}

// given says whether any executor flag was set.
func (f *executorFlags) given() bool {
	return *f.keystore != "" || *f.passFile != "" || *f.module != "" || *f.token != "" || *f.keyLbl != "" || *f.pinFile != ""
}

// open returns the executor and what closes it; none given is a usage
// error naming both ways.
func (e *env) openExecutor(cmd string, f *executorFlags) (coordinator.Executor, func(), error) {
	token := *f.module != "" || *f.token != "" || *f.keyLbl != ""
	switch {
	case *f.keystore != "" && token:
		return nil, nil, usagef("%s: --executor-keystore or --executor-pkcs11, not both", cmd)
	case *f.keystore != "":
		k, err := e.executorKey(*f.keystore, *f.passFile)
		if err != nil {
			return nil, nil, err
		}
		return coordinator.KeyExecutor{Key: k}, func() {}, nil
	case token:
		if *f.module == "" || *f.token == "" || *f.keyLbl == "" {
			return nil, nil, usagef("%s: --executor-pkcs11, --executor-token and --executor-key go together", cmd)
		}
		pin, err := e.pin(*f.pinFile)
		if err != nil {
			return nil, nil, err
		}
		tok, err := pkcs11.Open(*f.module, *f.token, pin)
		clear(pin)
		if err != nil {
			return nil, nil, tokenHint(err)
		}
		k, err := tok.Secp256k1(*f.keyLbl)
		if err != nil {
			tok.Close()
			return nil, nil, withHint(err, "'airlock key executor --pkcs11 MODULE --token LABEL --label KEY --new' makes the executor's key on the token")
		}
		x, err := coordinator.TokenExecutor(k)
		if err != nil {
			tok.Close()
			return nil, nil, err
		}
		return x, func() { tok.Close() }, nil
	}
	return nil, nil, usagef("%s: a Safe proposal: want --executor-keystore FILE or --executor-pkcs11 MODULE --executor-token LABEL --executor-key LABEL, the account that sends execTransaction and pays its gas", cmd)
}

// keyExecutor shows, or makes with --new, the secp256k1 key on a PKCS#11
// token that executes Safe transactions, and its address (to fund).
func (e *env) keyExecutor(args []string) error {
	fs := e.flags("key executor")
	module := fs.String("pkcs11", "", "the PKCS#11 module (.so) to load")
	token := fs.String("token", "", "the token's label")
	label := fs.String("label", "airlock/executor", "the key's label on the token")
	create := fs.Bool("new", false, "generate the key on the token (refused when one with the label exists)")
	pinFile := fs.String("pin-file", "", "read the token PIN from this file (or $AIRLOCK_PIN)")
	asJSON := jsonFlag(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 || *module == "" || *token == "" || *label == "" {
		return usagef("key executor: want --pkcs11 MODULE --token LABEL [--label KEY] [--new]")
	}
	pin, err := e.pin(*pinFile)
	if err != nil {
		return err
	}
	tok, err := pkcs11.Open(*module, *token, pin)
	clear(pin)
	if err != nil {
		return tokenHint(err)
	}
	defer tok.Close()
	var k *pkcs11.ECKey
	if *create {
		k, err = tok.GenerateSecp256k1(*label)
		if errors.Is(err, pkcs11.ErrKeyExists) {
			return withHint(err, "the token holds a key with that label: drop --new to show it, or pick another --label")
		}
	} else {
		k, err = tok.Secp256k1(*label)
	}
	if err != nil {
		return tokenHint(err)
	}
	x, err := coordinator.TokenExecutor(k)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e.stdout, struct {
			Address string `json:"address"`
			Token   string `json:"token"`
			Label   string `json:"label"`
			Created bool   `json:"created"`
		}{x.Address().Hex(), *token, *label, *create})
	}
	verb := "executor key"
	if *create {
		verb = "generated executor key"
	}
	fmt.Fprintf(e.stdout, "%s %q on token %q: address %s\n", verb, *label, *token, x.Address().Hex())
	fmt.Fprintf(e.stdout, "fund it with ether for gas; it moves no funds of any Safe\n")
	return nil
}
