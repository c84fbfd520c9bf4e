package descriptor

import (
	"encoding/hex"
	"fmt"
	"strconv"
)

// KeySpec is one signer's account key with its origin, for
// NewSortedMultiWSH.
type KeySpec struct {
	Fingerprint [4]byte  // the signer's master key fingerprint
	Path        []uint32 // from the master to the account key, e.g. 48'/0'/0'/2'
	XPub        string   // the account key, an xpub or tpub
}

// NewSortedMultiWSH builds a vault descriptor,
//
//	wsh(sortedmulti(k,[fp/path]xpub/<0;1>/*,...))
//
// with hardened steps written "'": branch 0 receives, branch 1 is change
// (BIP-389), keys are sorted in each script (BIP-383). Every key must be an
// extended public key; all of Parse's rules apply.
func NewSortedMultiWSH(k int, keys []KeySpec) (*Descriptor, error) {
	if k < 1 || k > len(keys) {
		return nil, fmt.Errorf("descriptor: threshold %d outside 1..%d", k, len(keys))
	}
	b := []byte("wsh(sortedmulti(")
	b = strconv.AppendInt(b, int64(k), 10)
	for _, ks := range keys {
		b = append(b, ",["...)
		b = hex.AppendEncode(b, ks.Fingerprint[:])
		b = appendPath(b, ks.Path)
		b = append(b, ']')
		b = append(b, ks.XPub...)
		b = append(b, "/<0;1>/*"...)
	}
	b = append(b, "))"...)
	d, err := Parse(string(b))
	if err != nil {
		return nil, err
	}
	for i, key := range d.keys {
		if !key.IsXPub() {
			return nil, fmt.Errorf("descriptor: key %d is not an extended public key", i+1)
		}
	}
	return d, nil
}
