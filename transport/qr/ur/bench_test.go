package ur

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkFountainLoss25 feeds a decoder parts of a 10 KB message in
// 200-byte fragments with 25% of them lost at random, and reports how many
// parts it read before completing, as a ratio to the minimum (the fragment
// count): the figure issue 5 asks for.
func BenchmarkFountainLoss25(b *testing.B) {
	msg := WrapBytes(makeMessage(10_000))
	r := rand.New(rand.NewPCG(1, 2))
	var ratio float64
	for i := 0; i < b.N; i++ {
		e, err := NewEncoder(msg, 200, 10, 0)
		if err != nil {
			b.Fatal(err)
		}
		var d Decoder
		read := 0
		for !d.Complete() {
			p := e.NextPart()
			if r.IntN(4) == 0 {
				continue
			}
			read++
			if err := d.Receive(p); err != nil {
				b.Fatal(err)
			}
		}
		ratio += float64(read) / float64(e.SeqLen())
	}
	b.ReportMetric(ratio/float64(b.N), "read/min")
}
