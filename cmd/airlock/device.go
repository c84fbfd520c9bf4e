package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/keys"
	"github.com/airlock-vault/airlock/policy"
	"github.com/airlock-vault/airlock/proposal"
	"github.com/airlock-vault/airlock/store"
	"github.com/airlock-vault/airlock/workspace"
)

func (e *env) device(args []string) error {
	if len(args) == 0 || args[0] != "check" {
		return usagef("device: want check")
	}
	return e.deviceCheck(args[1:])
}

// healthCheck is one line of a device check.
type healthCheck struct {
	Name   string `json:"check"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// deviceCheck signs and verifies a fresh challenge with each key, reads
// what the token reports, compares every key with the workspace and the
// policy, and records a signed health entry. A failed check exits 3.
func (e *env) deviceCheck(args []string) error {
	fs := e.flags("device check")
	passFile := e.secretFlags(fs)
	asJSON := fs.Bool("json", false, "print the checks as JSON")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usagef("device check: unexpected argument %q", pos[0])
	}
	ws, err := e.open()
	if err != nil {
		return err
	}
	defer ws.Close()
	ks, err := e.unlock(ws, passFile)
	if err != nil {
		return err
	}
	defer ks.Close()
	var checks []healthCheck
	add := func(name string, ok bool, format string, a ...any) {
		checks = append(checks, healthCheck{name, ok, fmt.Sprintf(format, a...)})
	}
	challenge := make([]byte, 32)
	if _, err := rand.Read(challenge); err != nil {
		return err
	}

	// The identity key signs a fresh challenge; the signature must verify
	// under the identity the workspace (and the policy) records.
	want, err := policy.DecodeIdentity(ws.Config.Identity)
	if err != nil {
		return err
	}
	msg := append([]byte("airlock device-check identity/v1\x00"), challenge...)
	if sig, err := ks.identity.Sign(nil, msg, crypto.Hash(0)); err != nil {
		add("identity-sign", false, "the identity key did not sign: %v", err)
	} else {
		add("identity-sign", ed25519.Verify(want, msg, sig), "identity %s signed a fresh challenge", envelope.KeyID(want))
	}

	var info string
	if ks.token != nil {
		ti, err := ks.token.Info()
		if err != nil {
			add("token", false, "reading the token: %v", err)
		} else {
			info = fmt.Sprintf("%s %s serial %s firmware %s hardware %s; library %s %s", ti.Manufacturer, ti.Model, ti.Serial, ti.FirmwareVersion, ti.HardwareVersion, ti.LibraryDescription, ti.LibraryVersion)
			rec := ws.Config.Token
			add("token", rec.Serial == "" || rec.Serial == ti.Serial, "token %q: %s (recorded serial %s)", rec.Label, info, rec.Serial)
		}
	} else if ks.soft != nil {
		info = "airlock software keystore (age, scrypt)"
		add("keystore", true, "%s", info)
	}

	pol, _, perr := ws.Policy(e.reg)
	if perr == nil && ws.Config.Role == workspace.Station {
		part, ok := pol.Participant(ws.Config.Name)
		switch {
		case !ok:
			add("policy", false, "participant %q is not in policy %s v%d", ws.Config.Name, pol.Name, pol.Version)
		case !bytes.Equal(part.Identity, want):
			add("policy", false, "the policy records identity %s for %s, this workspace holds %s: identity replaced", policy.EncodeIdentity(part.Identity), part.ID, ws.Config.Identity)
		default:
			dev := deviceOf(part, ws.Config.Device)
			kind := policy.KindSoftware
			if ks.token != nil {
				kind = policy.KindPKCS11
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
	}

	var health *proposal.Health
	if ws.Config.Role == workspace.Station {
		if ks.chain == nil {
			add("chain-key", false, "the workspace has no chain key")
		} else {
			health, err = e.proveChainKey(ws, ks, challenge, info, add)
			if err != nil {
				return err
			}
		}
	}

	pass := true
	var failed []string
	for _, c := range checks {
		if !c.OK {
			pass = false
			failed = append(failed, c.Name)
		}
	}
	detail := map[string]string{"result": "pass", "device": ws.Config.Device, "challenge": hex.EncodeToString(challenge), "info": info}
	if !pass {
		detail["result"], detail["failed"] = "fail", strings.Join(failed, ",")
	}
	var raw []byte
	if health != nil && pass {
		detail["key"], detail["signature"] = health.Key, hex.EncodeToString(health.Signature)
		if raw, err = envelope.Marshal(health); err != nil {
			return err
		}
	}
	// The health record and its entry commit together.
	err = ws.Update(context.Background(), func(tx store.Tx) error {
		if _, err := tx.Log(ws.Event("device.checked", ws.Config.Device, detail)); err != nil {
			return err
		}
		if raw != nil {
			return tx.PutHealth(ws.Config.Device, raw)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := e.checkpoint(ws, ks); err != nil {
		return err
	}
	if *asJSON {
		if err := printJSON(e.stdout, struct {
			Pass   bool          `json:"pass"`
			Checks []healthCheck `json:"checks"`
		}{pass, checks}); err != nil {
			return err
		}
	} else {
		for _, c := range checks {
			mark := "ok  "
			if !c.OK {
				mark = "FAIL"
			}
			fmt.Fprintf(e.stdout, "%s  %-14s %s\n", mark, c.Name, c.Detail)
		}
	}
	if !pass {
		return &refusedError{fmt.Sprintf("device check failed: %s; the failure is recorded in the audit log and this device must not sign", strings.Join(failed, ", "))}
	}
	fmt.Fprintf(e.stdout, "device check passed; recorded in the audit log\n")
	return nil
}

// proveChainKey asks the device for the vault key the workspace records,
// compares it, signs a fresh challenge with it and verifies the result.
func (e *env) proveChainKey(ws *workspace.Workspace, ks *keyring, challenge []byte, info string, add func(string, bool, string, ...any)) (*proposal.Health, error) {
	a, err := e.reg.Lookup("bitcoin")
	if err != nil {
		return nil, err
	}
	kp, ok := a.(chain.KeyProver)
	if !ok {
		return nil, errors.New("the bitcoin adapter cannot prove keys")
	}
	path, pub, err := kp.KeyPublic(ws.Config.Network, ws.Config.Key)
	if err != nil {
		add("chain-key", false, "%v", err)
		return nil, nil
	}
	have, err := ks.chain.PublicKey(path)
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
	h := &proposal.Health{Device: ws.Config.Device, Key: ws.Config.Key, Time: e.now().UTC().Unix(), Challenge: challenge, Info: info}
	sig, err := ks.chain.SignECDSA(path, h.Digest())
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

func deviceOf(p *policy.Participant, id string) *policy.Device {
	for i := range p.Devices {
		if p.Devices[i].ID == id {
			return &p.Devices[i]
		}
	}
	return nil
}

// lastHealth returns the station's latest passed device check, if any.
func (e *env) lastHealth(ws *workspace.Workspace) (*proposal.Health, error) {
	raw, err := ws.Health(ws.Config.Device)
	if errors.Is(err, workspace.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var h proposal.Health
	if err := envelope.Unmarshal(raw, &h); err != nil {
		return nil, fmt.Errorf("the stored device check is unreadable: %v", err)
	}
	return &h, nil
}
