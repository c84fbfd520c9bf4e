package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/term"

	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/transport/qr"
	"github.com/airlock-vault/airlock/workspace"
)

// artifact loads what to send: a file (an envelope or a PSBT) or the id of
// a proposal in the workspace.
func (e *env) artifact(ref string) (qr.Artifact, error) {
	if fi, err := os.Stat(ref); err == nil && fi.Mode().IsRegular() {
		b, err := envelope.ReadArtifact(ref)
		if err != nil {
			return qr.Artifact{}, err
		}
		return qr.FileArtifact(b), nil
	}
	ws, err := e.open()
	if err != nil {
		return qr.Artifact{}, err
	}
	defer ws.Close()
	env, err := ws.Proposal(ref)
	if err != nil {
		return qr.Artifact{}, err
	}
	b, err := env.Encode()
	return qr.Artifact{Kind: "envelope", Data: b}, err
}

// ethSignRequest is the eth-sign-request for an external wallet to sign a
// Safe proposal.
func (e *env) ethSignRequest(ref, signer string) (qr.Artifact, error) {
	ws, err := e.openRole(workspace.Coordinator)
	if err != nil {
		return qr.Artifact{}, err
	}
	defer ws.Close()
	req, err := e.coordinator(ws).EthSignRequest(ref, signer)
	if err != nil {
		return qr.Artifact{}, err
	}
	b, err := req.CBOR()
	return qr.Artifact{Kind: "eth-sign-request", Data: b}, err
}

func (e *env) qrOut(verb string, args []string) error {
	fs := e.flags("qr " + verb)
	format := fs.String("format", "ur", "ur (BC-UR) or bbqr")
	fragment := fs.Int("fragment", 200, "UR fragment length in bytes")
	extra := fs.Int("extra", 0, "UR parts beyond the fragment count, for lossy cameras")
	out := fs.String("out", "", "write: a folder for PNG frames, or a .gif file")
	scale := fs.Int("scale", 4, "write: pixels a QR module")
	fps := fs.Float64("fps", 4, "show: frames a second when playing on a terminal")
	loops := fs.Int("loops", 0, "show: times to play the frames on a terminal (0: until interrupted)")
	ethReq := fs.String("eth-sign-request", "", "PARTICIPANT/DEVICE: instead of the proposal, the ur:eth-sign-request asking that external wallet to sign its SafeTx (EIP-4527)")
	asJSON := jsonFlag(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("qr %s: want one artifact (a file or a proposal id)", verb)
	}
	if *format != string(qr.UR) && *format != string(qr.BBQr) {
		return usagef("qr %s: --format %q: want ur or bbqr", verb, *format)
	}
	if *fragment < 10 || *fragment > 2000 || *extra < 0 || *extra > 10000 || *scale < 1 || *scale > 40 {
		return usagef("qr %s: --fragment 10..2000, --extra 0..10000, --scale 1..40", verb)
	}
	var a qr.Artifact
	if *ethReq != "" {
		if *format != string(qr.UR) {
			return usagef("qr %s: an eth-sign-request is a UR (--format ur)", verb)
		}
		a, err = e.ethSignRequest(pos[0], *ethReq)
	} else {
		a, err = e.artifact(pos[0])
	}
	if err != nil {
		return err
	}
	frames, err := qr.Frames(a, qr.Format(*format), *fragment, *extra)
	if err != nil {
		return err
	}
	codes, version, err := qr.Codes(frames)
	if err != nil {
		return err
	}
	frameJSON := func(out string) error {
		if err := printJSON(e.stdout, struct {
			Kind        string   `json:"kind"`
			Format      string   `json:"format"`
			Bytes       int      `json:"bytes"`
			QRVersion   int      `json:"qrVersion"`
			Frames      []string `json:"frames"`
			Destination string   `json:"out,omitempty"`
		}{a.Kind, *format, len(a.Data), version, frames, out}); err != nil {
			return err
		}
		return e.logQR("transfer.qr-out", a, *format, len(frames))
	}
	if verb == "show" && *asJSON {
		// For a script: the frames' text, to render elsewhere.
		return frameJSON("")
	}
	if verb == "show" {
		// A frame wider than the terminal wraps and no camera reads it.
		if f, ok := e.stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) && len(codes) > 0 {
			first, _, _ := strings.Cut(codes[0].ToSmallString(false), "\n")
			if cols, _, err := term.GetSize(int(f.Fd())); err == nil && utf8.RuneCountInString(first) > cols {
				return withHint(fmt.Errorf("qr show: a QR version %d frame is %d columns wide; this terminal has %d", version, utf8.RuneCountInString(first), cols),
					fmt.Sprintf("widen the terminal, use a smaller --fragment (now %d bytes), or write image frames with 'airlock qr write'", *fragment))
			}
		}
		if f, ok := e.stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) && len(codes) > 1 && *fps > 0 {
			// Play: redraw in place, frame after frame.
			for n := 0; *loops == 0 || n < *loops; n++ {
				for i, c := range codes {
					fmt.Fprintf(e.stdout, "\x1b[H\x1b[2J%s frame %d/%d, QR version %d (Ctrl-C to stop)\n%s", a.Kind, i+1, len(codes), version, c.ToSmallString(false))
					time.Sleep(time.Duration(float64(time.Second) / *fps))
				}
			}
			return e.logQR("transfer.qr-out", a, *format, len(codes))
		}
		for i, c := range codes {
			fmt.Fprintf(e.stdout, "frame %d of %d (%s %s, QR version %d)\n%s", i+1, len(codes), a.Kind, *format, version, c.ToSmallString(false))
		}
		return e.logQR("transfer.qr-out", a, *format, len(codes))
	}
	if *out == "" {
		return usagef("qr write: want --out DIR or --out FILE.gif")
	}
	if strings.HasSuffix(strings.ToLower(*out), ".gif") {
		var gif bytes.Buffer
		if err := qr.WriteGIF(&gif, frames, *scale, 25); err != nil {
			return err
		}
		if err := workspace.WriteFileAtomic(*out, gif.Bytes(), 0o644); err != nil {
			return err
		}
	} else if _, err := qr.WritePNGs(*out, frames, *scale); err != nil {
		return err
	}
	if *asJSON {
		return frameJSON(*out)
	}
	fmt.Fprintf(e.stdout, "wrote %d %s frames of the %s (%d bytes) at QR version %d to %s\n", len(frames), *format, a.Kind, len(a.Data), version, *out)
	return e.logQR("transfer.qr-out", a, *format, len(frames))
}

func (e *env) qrRead(args []string) error {
	fs := e.flags("qr read")
	out := fs.String("out", "", "where to write the artifact once complete")
	asJSON := jsonFlag(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 || *out == "" {
		return usagef("qr read: want IMAGES or FOLDERS... --out FILE")
	}
	files, err := qr.ImageFiles(pos)
	if err != nil {
		return err
	}
	var r qr.Reader
	for _, p := range files {
		if err := r.AddFile(p); err != nil {
			return err
		}
		if !*asJSON {
			fmt.Fprintf(e.stderr, "airlock: %s read, %3.0f%% of the artifact known\n", filepath.Base(p), r.Progress()*100)
		}
		if r.Complete() {
			break
		}
	}
	a, err := r.Artifact()
	if err != nil {
		return withHint(err, "scan more frames: any frames, in any order, complete it")
	}
	what, id := "psbt", ""
	if a.Kind == "envelope" {
		env, err := envelope.Decode(a.Data)
		if err != nil {
			return err
		}
		what, id = env.Type, env.IDHex()
	}
	if err := workspace.WriteFileAtomic(*out, a.Data, 0o644); err != nil {
		return err
	}
	switch {
	case *asJSON:
		if err := printJSON(e.stdout, struct {
			Kind   string `json:"kind"`
			ID     string `json:"id,omitempty"`
			Bytes  int    `json:"bytes"`
			Format string `json:"format"`
			Frames int    `json:"frames"`
			File   string `json:"file"`
		}{what, id, len(a.Data), string(r.Format()), r.Frames(), *out}); err != nil {
			return err
		}
		return e.logQR("transfer.qr-in", a, string(r.Format()), r.Frames())
	case id != "":
		fmt.Fprintf(e.stdout, "read %s %s\n", what, id)
	default:
		fmt.Fprintf(e.stdout, "read a PSBT of %d bytes\n", len(a.Data))
	}
	fmt.Fprintf(e.stdout, "wrote %s\n", *out)
	return e.logQR("transfer.qr-in", a, string(r.Format()), r.Frames())
}

// logQR records a transfer by camera in the workspace's audit log, as
// media transfers are: kind transfer.qr-out (frames shown or written) or
// transfer.qr-in (an artifact read back), the artifact's id (an envelope's
// id, a PSBT's SHA-256), its format and frame count. Outside a workspace
// there is no log to write.
func (e *env) logQR(kind string, a qr.Artifact, format string, frames int) error {
	if _, err := os.Stat(filepath.Join(e.dir, "airlock.json")); err != nil {
		return nil
	}
	ws, err := e.open()
	if err != nil {
		return err
	}
	defer ws.Close()
	id := a.ID()
	return ws.Log(context.Background(), kind, hex.EncodeToString(id[:]), map[string]string{
		"kind": a.Kind, "format": format, "frames": fmt.Sprint(frames), "bytes": fmt.Sprint(len(a.Data)),
	})
}
