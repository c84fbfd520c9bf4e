package station

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/keys"
	"github.com/airlock-vault/airlock/policy"
	"github.com/airlock-vault/airlock/proposal"
	"github.com/airlock-vault/airlock/workspace"
)

// DeviceKeys are the keys a device check proves.
type DeviceKeys struct {
	Identity crypto.Signer
	// Chain is the station's chain key (nil at a coordinator).
	Chain keys.ChainSigner
	// Kind is how the keys are held: policy.KindSoftware or KindPKCS11.
	Kind string
	// Token, for keys on a PKCS#11 token, reads what the token reports and
	// its serial number.
	Token func() (info, serial string, err error)
}

// Check is one line of a device check.
type Check struct {
	Name   string `json:"check"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// HealthReport is a device check's result.
type HealthReport struct {
	Pass   bool     `json:"pass"`
	Checks []Check  `json:"checks"`
	Failed []string `json:"-"`
}

// CheckDevice signs and verifies a fresh challenge with each key, reads
// what a token reports, compares every key with the workspace and the
// policy, and records a signed health entry with the health record a
// passing station's approvals then carry (one transaction). rand supplies
// the challenge.
func CheckDevice(ctx context.Context, ws *workspace.Workspace, reg *chain.Registry, k DeviceKeys, rand io.Reader) (*HealthReport, error) {
	rep := &HealthReport{}
	add := func(name string, ok bool, format string, a ...any) {
		rep.Checks = append(rep.Checks, Check{name, ok, fmt.Sprintf(format, a...)})
	}
	challenge := make([]byte, 32)
	if _, err := io.ReadFull(rand, challenge); err != nil {
		return nil, err
	}
	// The identity key signs a fresh challenge; the signature must verify
	// under the identity the workspace (and the policy) records.
	want, err := policy.DecodeIdentity(ws.Config.Identity)
	if err != nil {
		return nil, err
	}
	msg := append([]byte("airlock device-check identity/v1\x00"), challenge...)
	if sig, err := k.Identity.Sign(nil, msg, crypto.Hash(0)); err != nil {
		add("identity-sign", false, "the identity key did not sign: %v", err)
	} else {
		add("identity-sign", ed25519.Verify(want, msg, sig), "identity %s signed a fresh challenge", envelope.KeyID(want))
	}
	var info string
	switch {
	case k.Token != nil:
		ti, serial, err := k.Token()
		if err != nil {
			add("token", false, "reading the token: %v", err)
		} else {
			info = ti
			rec := ws.Config.Token
			add("token", rec == nil || rec.Serial == "" || rec.Serial == serial, "token %q: %s (recorded serial %s)", tokenLabel(rec), info, tokenSerial(rec))
		}
	case k.Kind == policy.KindSoftware:
		info = "airlock software keystore (age, scrypt)"
		add("keystore", true, "%s", info)
	}
	pol, _, perr := ws.Policy(reg)
	if perr == nil && ws.Config.Role == workspace.Station {
		checkPolicy(ws, pol, want, k.Kind, add)
	}
	var health *proposal.Health
	if ws.Config.Role == workspace.Station {
		if k.Chain == nil {
			add("chain-key", false, "the workspace has no chain key")
		} else if health, err = proveChainKey(ws, reg, k.Chain, challenge, info, add); err != nil {
			return nil, err
		}
	}
	rep.Pass = true
	for _, c := range rep.Checks {
		if !c.OK {
			rep.Pass = false
			rep.Failed = append(rep.Failed, c.Name)
		}
	}
	detail := map[string]string{"result": "pass", "device": ws.Config.Device, "challenge": hex.EncodeToString(challenge), "info": info}
	if !rep.Pass {
		detail["result"], detail["failed"] = "fail", strings.Join(rep.Failed, ",")
	}
	var raw []byte
	if health != nil && rep.Pass {
		detail["key"], detail["signature"] = health.Key, hex.EncodeToString(health.Signature)
		if raw, err = envelope.Marshal(health); err != nil {
			return nil, err
		}
	}
	// The health record and its entry commit together; a failed check is
	// recorded too.
	err = update(ctx, ws, nil, func(tx Tx) error {
		if _, err := tx.Log(ws.Event("device.checked", ws.Config.Device, detail)); err != nil {
			return err
		}
		if raw != nil {
			return tx.PutHealth(ws.Config.Device, raw)
		}
		return nil
	})
	return rep, err
}

func tokenLabel(t *workspace.Token) string {
	if t == nil {
		return ""
	}
	return t.Label
}

func tokenSerial(t *workspace.Token) string {
	if t == nil {
		return ""
	}
	return t.Serial
}

func checkPolicy(ws *workspace.Workspace, pol *policy.Policy, want ed25519.PublicKey, kind string, add func(string, bool, string, ...any)) {
	part, ok := pol.Participant(ws.Config.Name)
	switch {
	case !ok:
		add("policy", false, "participant %q is not in policy %s v%d", ws.Config.Name, pol.Name, pol.Version)
		return
	case !bytes.Equal(part.Identity, want):
		add("policy", false, "the policy records identity %s for %s, this workspace holds %s: identity replaced", policy.EncodeIdentity(part.Identity), part.ID, ws.Config.Identity)
		return
	}
	var dev *policy.Device
	for i := range part.Devices {
		if part.Devices[i].ID == ws.Config.Device {
			dev = &part.Devices[i]
		}
	}
	switch {
	case dev == nil:
		add("policy", false, "policy %s v%d has no device %q for %s", pol.Name, pol.Version, ws.Config.Device, part.ID)
	case dev.Key != ws.Config.Key:
		add("policy", false, "the policy records key %s for %s/%s, this device holds %s: device swapped", dev.Key, part.ID, dev.ID, ws.Config.Key)
	case dev.Kind != kind:
		add("policy", false, "the policy says %s/%s is a %s device, this one is %s", part.ID, dev.ID, dev.Kind, kind)
	default:
		add("policy", true, "identity, key and kind match policy %s v%d (%s/%s, %s %s %s)", pol.Name, pol.Version, part.ID, dev.ID, dev.Kind, dev.Vendor, dev.Model)
	}
}

// proveChainKey asks the device for the vault key the workspace records,
// compares it, signs a fresh challenge with it and verifies the result.
func proveChainKey(ws *workspace.Workspace, reg *chain.Registry, signer keys.ChainSigner, challenge []byte, info string, add func(string, bool, string, ...any)) (*proposal.Health, error) {
	a, err := reg.Lookup("bitcoin")
	if err != nil {
		return nil, err
	}
	kp, ok := a.(chain.KeyProver)
	if !ok {
		return nil, errors.New("station: the bitcoin adapter cannot prove keys")
	}
	path, pub, err := kp.KeyPublic(ws.Config.Network, ws.Config.Key)
	if err != nil {
		add("chain-key", false, "%v", err)
		return nil, nil
	}
	have, err := signer.PublicKey(path)
	if err != nil {
		add("chain-key", false, "the device gives no key at %s: %v", keys.FormatPath(path), err)
		return nil, nil
	}
	if !bytes.Equal(have, pub) {
		add("chain-key", false, "the device's key at %s is %x, the workspace records %x: device swapped", keys.FormatPath(path), have, pub)
		return nil, nil
	}
	if len(info) > proposal.MaxHealthInfo {
		info = info[:proposal.MaxHealthInfo]
	}
	h := &proposal.Health{Device: ws.Config.Device, Key: ws.Config.Key, Time: ws.Now().UTC().Unix(), Challenge: challenge, Info: info}
	sig, err := signer.SignECDSA(path, h.Digest())
	if err != nil {
		add("chain-sign", false, "the chain key did not sign: %v", err)
		return nil, nil
	}
	h.Signature = sig
	if err := kp.VerifyKeyProof(ws.Config.Network, ws.Config.Key, h.Digest(), sig); err != nil {
		add("chain-sign", false, "%v", err)
		return nil, nil
	}
	add("chain-sign", true, "key %x signed a fresh challenge (low S, verified)", pub)
	return h, nil
}

// LastHealth returns the station's latest passed device check, if any.
func LastHealth(ws *workspace.Workspace) (*proposal.Health, error) {
	raw, err := ws.Health(ws.Config.Device)
	if errors.Is(err, workspace.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var h proposal.Health
	if err := envelope.Unmarshal(raw, &h); err != nil {
		return nil, fmt.Errorf("station: the stored device check is unreadable: %v", err)
	}
	return &h, nil
}
