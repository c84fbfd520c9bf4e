package drill

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/airlock-vault/airlock/transport/qr"
)

// QRStats are the QR carries of a run: what crossed as animated frames
// while a qr-dropped fault held.
type QRStats struct {
	// Carries are the artifacts carried (proposals to stations,
	// decisions back); Retries the showings that ended before the reader
	// had the artifact, so it was shown again.
	Carries int `json:"carries"`
	Retries int `json:"retries"`
	// FramesShown counts every frame put on the screen, FramesDropped
	// those the camera missed, FramesNeeded the frames each artifact is
	// cut into (the least a reader could do with).
	FramesShown   int `json:"framesShown"`
	FramesDropped int `json:"framesDropped"`
	FramesNeeded  int `json:"framesNeeded"`
}

// qrRetry is how long after a failed showing the animation is shown
// again.
const qrRetry = 10 * time.Minute

// qrFault is the qr-dropped fault holding at t, if any.
func (s *sim) qrFault(t time.Time) *Fault {
	for i := range s.sc.Faults {
		f := &s.sc.Faults[i]
		if f.Kind != QRDropped {
			continue
		}
		from := s.m.start.Add(f.At.D())
		until := s.m.end.Add(time.Second)
		if f.For > 0 {
			until = from.Add(f.For.D())
		}
		if !t.Before(from) && t.Before(until) {
			return f
		}
	}
	return nil
}

// overQR carries raw (an envelope) as QR frames when a qr-dropped fault
// holds: the real encoder cuts it into frames (transport/qr: UR fountain
// parts or BBQr), the camera misses each with the fault's rate, the real
// reader assembles what it saw. A showing is three loops of the n frames:
// a frame missed in one loop is caught in the next. When the reader is not
// done, the showing is retried later (again is scheduled) and ok is false.
// Without the fault raw is returned as is.
func (s *sim) overQR(who string, p *Prop, what string, raw []byte, again func()) ([]byte, bool) {
	f := s.qrFault(s.now())
	if f == nil {
		return raw, true
	}
	st := &s.ext.qr
	st.Carries++
	// The camera's misses come from their own source, one per carry:
	// the frame counts do not move the simulation's other draws.
	r := rand.New(rand.NewPCG(s.seed, 0x7172000000+uint64(st.Carries)))
	format := qr.UR
	if f.Format == "bbqr" {
		format = qr.BBQr
	}
	// A fixed number of fragments per artifact (16 for proposals, 4 for
	// decisions): the frame counts do not depend on the envelope's
	// length, which varies with its fresh keys and signatures.
	n := 4
	if bytes.Equal(raw, p.Raw) {
		n = 16
	}
	frag := (len(raw) + n - 1) / n
	frames, err := qr.Frames(qr.Artifact{Kind: "envelope", Data: raw}, format, max(frag, 10), 0)
	if err != nil {
		s.fail(fmt.Errorf("qr: %s: %w", what, err))
		return nil, false
	}
	need := len(frames)
	// A showing is three loops of the animation. The frames are the
	// encoder's first parts, which carry one fragment each (for UR, the
	// fountain's mixed parts follow them; which fragments those mix
	// depends on the envelope's checksum, and envelopes differ from run
	// to run with their fresh keys: showing them would make a seed's
	// report differ, so the drill shows the loop, as "airlock qr show"
	// does without --extra).
	var show []string
	for range 3 {
		show = append(show, frames...)
	}
	st.FramesNeeded += need
	var rd qr.Reader
	shown := 0
	for _, fr := range show {
		shown++
		if r.Float64() < f.Rate {
			st.FramesDropped++
			continue
		}
		if err := rd.Add(fr); err != nil {
			s.fail(fmt.Errorf("qr: %s: a frame refused: %w", what, err))
			return nil, false
		}
		if rd.Complete() {
			break
		}
	}
	st.FramesShown += shown
	if !rd.Complete() {
		st.Retries++
		s.log("qr-retry", who, p, "%s: %d frames shown, %.0f%% read; shown again in %s", what, shown, rd.Progress()*100, human(qrRetry))
		s.at(s.now().Add(qrRetry), again)
		return nil, false
	}
	a, err := rd.Artifact()
	if err != nil || !bytes.Equal(a.Data, raw) {
		s.fail(fmt.Errorf("qr: %s: the frames assembled into something else (%v)", what, err))
		return nil, false
	}
	return a.Data, true
}
