package setup

import (
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/airlock-vault/airlock/chain/bitcoin/descriptor"
	"github.com/btcsuite/btcd/btcutil/v2/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg/v2"
)

// Coldcard address formats and the descriptor each stands for.
var coldcardFormats = []struct {
	label  string // as Coldcard writes it
	prefix string // the descriptor's text starts so
	build  func(int, []descriptor.KeySpec) (*descriptor.Descriptor, error)
}{
	{"P2WSH", "wsh(sortedmulti(", descriptor.NewSortedMultiWSH},
	{"P2SH-P2WSH", "sh(wsh(sortedmulti(", descriptor.NewSortedMultiShWsh},
	{"P2SH", "sh(sortedmulti(", descriptor.NewSortedMultiSh},
}

// Coldcard's limits: wallet name length and co-signers (MAX_SIGNERS).
const (
	maxColdcardName = 20
	maxColdcardKeys = 15
)

// ExportColdcard writes desc as a Coldcard multisig setup file. desc must
// be a sortedmulti() in wsh(), sh(wsh()) or sh() whose keys are all
// [fingerprint/path]xpub/<0;1>/* with distinct fingerprints and xpubs as
// deep as their paths; name is 1 to 20 printable ASCII characters.
func ExportColdcard(name string, desc *descriptor.Descriptor) (string, error) {
	if err := checkColdcardName(name); err != nil {
		return "", err
	}
	text := desc.String()
	fi := -1
	for i, f := range coldcardFormats {
		if strings.HasPrefix(text, f.prefix) {
			fi = i
			break
		}
	}
	k, n, ok := desc.Threshold()
	if fi < 0 || !ok {
		return "", errors.New("setup: coldcard takes sortedmulti() in wsh(), sh(wsh()) or sh() only")
	}
	if n > maxColdcardKeys {
		return "", fmt.Errorf("setup: %d keys, coldcard allows at most %d", n, maxColdcardKeys)
	}
	keys := desc.Keys()
	paths := make([]string, len(keys))
	seen := map[[4]byte]bool{}
	for i, key := range keys {
		st := key.Steps()
		switch {
		case !key.IsXPub() || key.Origin == nil:
			return "", fmt.Errorf("setup: key %d is not an xpub with an origin", i+1)
		case len(st) != 1 || len(st[0].Alternatives) != 2 || st[0].Alternatives[0] != 0 || st[0].Alternatives[1] != 1 ||
			key.Wildcard() != descriptor.UnhardenedWildcard:
			return "", fmt.Errorf("setup: key %d does not end in /<0;1>/*, which coldcard derives", i+1)
		case seen[key.Origin.Fingerprint]:
			return "", fmt.Errorf("setup: fingerprint %x twice: coldcard needs distinct fingerprints", key.Origin.Fingerprint)
		}
		seen[key.Origin.Fingerprint] = true
		if err := checkDepth(key.ExtendedKey(), key.Origin.Fingerprint, key.Origin.Path); err != nil {
			return "", err
		}
		paths[i] = formatPath(key.Origin.Path)
	}
	common := true
	for _, p := range paths {
		common = common && p == paths[0]
	}
	var b strings.Builder
	b.WriteString("# Coldcard Multisig setup file (exported by airlock)\n#\n")
	fmt.Fprintf(&b, "Name: %s\nPolicy: %d of %d\n", name, k, n)
	if common {
		fmt.Fprintf(&b, "Derivation: %s\n", paths[0])
	}
	fmt.Fprintf(&b, "Format: %s\n", coldcardFormats[fi].label)
	for i, key := range keys {
		b.WriteString("\n")
		if !common {
			// Coldcard reads a Derivation line as the path of the
			// keys after it; its own exports write them so.
			fmt.Fprintf(&b, "Derivation: %s\n", paths[i])
		}
		fmt.Fprintf(&b, "%X: %s\n", key.Origin.Fingerprint[:], key.ExtendedKey())
	}
	return b.String(), nil
}

func checkColdcardName(name string) error {
	if len(name) < 1 || len(name) > maxColdcardName {
		return fmt.Errorf("setup: coldcard wallet name must be 1 to %d characters", maxColdcardName)
	}
	for i := 0; i < len(name); i++ {
		if name[i] < 0x20 || name[i] > 0x7e || name[i] == '#' {
			return errors.New("setup: coldcard wallet name must be printable ASCII without '#'")
		}
	}
	if strings.TrimSpace(name) != name {
		return errors.New("setup: coldcard wallet name has surrounding spaces")
	}
	return nil
}

// checkDepth parses xpub and requires its depth to be the path's length
// and, at depth 1, its parent fingerprint to be fp (Coldcard checks both).
func checkDepth(xpub string, fp [4]byte, path []uint32) error {
	x, err := hdkeychain.NewKeyFromString(xpub)
	if err != nil {
		return fmt.Errorf("setup: xpub %s: %v", short(xpub), err)
	}
	if x.IsPrivate() {
		return errors.New("setup: private extended key")
	}
	if int(x.Depth()) != len(path) {
		return fmt.Errorf("setup: xpub %s has depth %d but its path %s has %d steps", short(xpub), x.Depth(), formatPath(path), len(path))
	}
	if x.Depth() == 1 && x.ParentFingerprint() != uint32(fp[0])<<24|uint32(fp[1])<<16|uint32(fp[2])<<8|uint32(fp[3]) {
		return fmt.Errorf("setup: xpub %s is not a child of fingerprint %x", short(xpub), fp)
	}
	return nil
}

func formatPath(path []uint32) string {
	b := []byte("m")
	for _, v := range path {
		b = append(b, '/')
		b = strconv.AppendUint(b, uint64(v&^(1<<31)), 10)
		if v>>31 == 1 {
			b = append(b, '\'')
		}
	}
	return string(b)
}

// parsePath reads "m/48'/1'/0'/2'" ("h" and "H" also mark hardened steps).
func parsePath(s string) ([]uint32, error) {
	steps := strings.Split(s, "/")
	if steps[0] != "m" || len(steps) > descriptor.MaxPathLength+1 {
		return nil, fmt.Errorf("setup: derivation %q does not start with m/", short(s))
	}
	path := make([]uint32, 0, len(steps)-1)
	for _, st := range steps[1:] {
		v, err := parseIndex(st, true)
		if err != nil {
			return nil, fmt.Errorf("setup: derivation %q: %v", short(s), err)
		}
		path = append(path, v)
	}
	return path, nil
}

var policyRE = regexp.MustCompile(`^(\d{1,2})\s*(?:of|/|,|\s)\s*(\d{1,2})$`)

// ImportColdcard reads a Coldcard multisig setup file for network net and
// returns the vault descriptor, sortedmulti() of the file's format with
// keys [fingerprint/path]xpub/<0;1>/*, and the wallet name. SLIP-132 keys
// are converted to xpub or tpub. A "Derivation:" line sets the path of
// the keys after it, a "# derivation:" comment that of the next key only.
// Refused: a policy that does not match the keys, repeated fingerprints
// or keys, keys that do not parse, are private, are for another network
// or are not as deep as their path, unknown formats or labels.
func ImportColdcard(text string, net *chaincfg.Params) (*descriptor.Descriptor, string, error) {
	if len(text) > MaxInput {
		return nil, "", fmt.Errorf("setup: coldcard file of %d bytes exceeds %d", len(text), MaxInput)
	}
	var (
		name, format      string
		k, n              int
		deriv, next       []uint32
		haveName, havePol bool
		keys              []descriptor.KeySpec
		seenFP            = map[[4]byte]bool{}
		seenKey           = map[string]bool{}
	)
	for i, ln := range strings.Split(text, "\n") {
		lineErr := func(format string, a ...any) error {
			return fmt.Errorf("setup: coldcard line %d: %s", i+1, fmt.Sprintf(format, a...))
		}
		ln = strings.TrimSpace(ln)
		if rest, ok := strings.CutPrefix(ln, "#"); ok {
			label, value, ok := strings.Cut(rest, ":")
			if ok && strings.EqualFold(strings.TrimSpace(label), "derivation") {
				p, err := parsePath(strings.TrimSpace(value))
				if err != nil {
					return nil, "", lineErr("%v", err)
				}
				next = p
			}
			continue
		}
		if c := strings.IndexByte(ln, '#'); c >= 0 {
			ln = strings.TrimSpace(ln[:c])
		}
		if ln == "" {
			continue
		}
		label, value, ok := strings.Cut(ln, ":")
		if !ok {
			return nil, "", lineErr("not \"label: value\"")
		}
		label, value = strings.ToLower(strings.TrimSpace(label)), strings.TrimSpace(value)
		switch label {
		case "name":
			if haveName {
				return nil, "", lineErr("second Name")
			}
			if err := checkColdcardName(value); err != nil {
				return nil, "", lineErr("%v", err)
			}
			name, haveName = value, true
		case "policy":
			m := policyRE.FindStringSubmatch(strings.ToLower(value))
			if havePol || m == nil {
				return nil, "", lineErr("bad or second Policy %q (want \"M of N\")", short(value))
			}
			k, _ = strconv.Atoi(m[1])
			n, _ = strconv.Atoi(m[2])
			havePol = true
		case "derivation":
			p, err := parsePath(value)
			if err != nil {
				return nil, "", lineErr("%v", err)
			}
			deriv = p
		case "format":
			if format != "" {
				return nil, "", lineErr("second Format")
			}
			switch strings.ToLower(value) {
			case "p2wsh":
				format = "P2WSH"
			case "p2sh-p2wsh", "p2wsh-p2sh":
				format = "P2SH-P2WSH"
			case "p2sh":
				format = "P2SH"
			default:
				return nil, "", lineErr("unknown Format %q (want P2WSH, P2SH-P2WSH or P2SH)", short(value))
			}
		default:
			fpb, err := hex.DecodeString(label)
			if len(label) != 8 || err != nil {
				return nil, "", lineErr("unknown label %q", short(label))
			}
			fp := [4]byte(fpb)
			path := deriv
			if next != nil {
				path, next = next, nil
			}
			if path == nil {
				return nil, "", lineErr("key %s has no derivation path", strings.ToUpper(label))
			}
			xpub, err := ConvertSLIP132(value)
			if err != nil {
				return nil, "", lineErr("%v", err)
			}
			if !strings.HasPrefix(xpub, hdPrefix(net.HDPublicKeyID)) {
				return nil, "", lineErr("key %s is not for %s", strings.ToUpper(label), net.Name)
			}
			if err := checkDepth(xpub, fp, path); err != nil {
				return nil, "", lineErr("%v", err)
			}
			if seenFP[fp] {
				return nil, "", lineErr("fingerprint %s twice", strings.ToUpper(label))
			}
			if seenKey[xpub] {
				return nil, "", lineErr("xpub of %s given twice", strings.ToUpper(label))
			}
			seenFP[fp], seenKey[xpub] = true, true
			keys = append(keys, descriptor.KeySpec{Fingerprint: fp, Path: path, XPub: xpub})
		}
	}
	switch {
	case next != nil:
		return nil, "", errors.New("setup: coldcard file ends with a \"# derivation:\" comment and no key")
	case !havePol:
		return nil, "", errors.New("setup: coldcard file has no Policy line")
	case len(keys) == 0:
		return nil, "", errors.New("setup: coldcard file has no keys")
	case n != len(keys):
		return nil, "", fmt.Errorf("setup: coldcard policy %d of %d, but the file has %d keys", k, n, len(keys))
	case k < 1 || k > n:
		return nil, "", fmt.Errorf("setup: coldcard policy %d of %d is not a threshold", k, n)
	}
	if format == "" {
		format = "P2SH" // Coldcard's default
	}
	if !haveName {
		name = fmt.Sprintf("%d-of-%d", k, n)
	}
	for _, f := range coldcardFormats {
		if f.label != format {
			continue
		}
		if n > maxColdcardKeys {
			return nil, "", fmt.Errorf("setup: %d keys, coldcard allows at most %d", n, maxColdcardKeys)
		}
		d, err := f.build(k, keys)
		if err != nil {
			return nil, "", fmt.Errorf("setup: %w", err)
		}
		return d, name, nil
	}
	return nil, "", errors.New("setup: unreachable format")
}

// hdPrefix is the base58 prefix of extended keys with version v: xpub or
// tpub.
func hdPrefix(v [4]byte) string {
	switch v {
	case xpubVersion:
		return "xpub"
	case tpubVersion:
		return "tpub"
	}
	return "\x00" // no key matches
}
