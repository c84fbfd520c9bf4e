package policy

import "regexp"

var identityPattern = regexp.MustCompile(`ed25519:[A-Za-z0-9+/]{43}=`)

// FindIdentity finds the first identity key, as EncodeIdentity writes
// it, in text such as a workspace's airlock.json ("" when there is none).
// It is found, not checked: DecodeIdentity checks it.
func FindIdentity(text []byte) string {
	return string(identityPattern.Find(text))
}
