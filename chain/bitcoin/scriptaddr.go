package bitcoin

import (
	"errors"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/txscript/v2"
)

// ScriptAddress renders an output script as its address on net, when it
// has exactly one.
func ScriptAddress(script []byte, net *chaincfg.Params) (string, error) {
	_, as, _, err := txscript.ExtractPkScriptAddrs(script, net)
	if err != nil {
		return "", err
	}
	if len(as) != 1 {
		return "", errors.New("bitcoin: the script has no single address")
	}
	return as[0].EncodeAddress(), nil
}
