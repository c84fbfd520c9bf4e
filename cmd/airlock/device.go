package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"

	"github.com/airlock-vault/airlock/policy"
	"github.com/airlock-vault/airlock/station"
)

// deviceCheck runs station.CheckDevice and prints what it found. A failed
// check exits 3.
func (e *env) deviceCheck(args []string) error {
	fs := e.flags("device check")
	passFile := e.secretFlags(fs)
	asJSON := jsonFlag(fs)
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usagef("device check: unexpected argument %q", pos[0])
	}
	ws, ks, done, err := e.unlocked("", passFile)
	if err != nil {
		return err
	}
	defer done()
	k := station.DeviceKeys{Identity: ks.Identity, Chain: ks.Chain, Kind: policy.KindSoftware}
	if ks.Token != nil {
		k.Kind = policy.KindPKCS11
		k.Token = func() (string, string, error) {
			ti, err := ks.Token.Info()
			if err != nil {
				return "", "", err
			}
			return fmt.Sprintf("%s %s serial %s firmware %s hardware %s; library %s %s", ti.Manufacturer, ti.Model, ti.Serial, ti.FirmwareVersion, ti.HardwareVersion, ti.LibraryDescription, ti.LibraryVersion), ti.Serial, nil
		}
	}
	rep, err := station.CheckDevice(context.Background(), ws, reg, k, rand.Reader)
	if err != nil {
		return err
	}
	if err := e.checkpoint(ws, ks); err != nil {
		return err
	}
	if *asJSON {
		if err := printJSON(e.stdout, rep); err != nil {
			return err
		}
	} else {
		for _, c := range rep.Checks {
			mark := "ok  "
			if !c.OK {
				mark = "FAIL"
			}
			fmt.Fprintf(e.stdout, "%s  %-14s %s\n", mark, c.Name, c.Detail)
		}
	}
	if !rep.Pass {
		return &refusedError{fmt.Sprintf("device check failed: %s; the failure is recorded in the audit log and this device must not sign", strings.Join(rep.Failed, ", "))}
	}
	if !*asJSON {
		fmt.Fprintf(e.stdout, "device check passed; recorded in the audit log\n")
	}
	return nil
}
