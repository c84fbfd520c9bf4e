// Package deps pins the project's module dependencies while the packages
// that use them are being written. It is removed once every dependency is
// imported by real code.
package deps

import (
	_ "filippo.io/age"
	_ "github.com/btcsuite/btcd/address/v2"
	_ "github.com/btcsuite/btcd/btcec/v2"
	_ "github.com/btcsuite/btcd/btcec/v2/ecdsa"
	_ "github.com/btcsuite/btcd/btcutil/v2"
	_ "github.com/btcsuite/btcd/btcutil/v2/hdkeychain"
	_ "github.com/btcsuite/btcd/chaincfg/v2"
	_ "github.com/btcsuite/btcd/chainhash/v2"
	_ "github.com/btcsuite/btcd/txscript/v2"
	_ "github.com/btcsuite/btcd/wire/v2"
	_ "github.com/cosmos/go-bip39"
	_ "github.com/fxamacker/cbor/v2"
	_ "github.com/rogpeppe/go-internal/testscript"
	_ "github.com/transparency-dev/formats/log"
	_ "go.etcd.io/bbolt"
	_ "golang.org/x/mod/sumdb/note"
	_ "golang.org/x/mod/sumdb/tlog"
	_ "gopkg.in/yaml.v3"
)
