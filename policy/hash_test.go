package policy_test

import "github.com/btcsuite/btcd/address/v2"

func hash160(b []byte) []byte { return address.Hash160(b) }
