package ur

import (
	"crypto/sha256"
	"encoding/binary"
	"math"
	"math/bits"
)

// xoshiro is xoshiro256** as BCR-2020-005 specifies it: seeded from the
// SHA-256 of a byte string, the digest read as four big-endian words.
type xoshiro struct{ s [4]uint64 }

func newXoshiro(seed []byte) *xoshiro {
	d := sha256.Sum256(seed)
	x := &xoshiro{}
	for i := range x.s {
		x.s[i] = binary.BigEndian.Uint64(d[i*8:])
	}
	return x
}

func (x *xoshiro) next() uint64 {
	s := &x.s
	result := bits.RotateLeft64(s[1]*5, 7) * 9
	t := s[1] << 17
	s[2] ^= s[0]
	s[3] ^= s[1]
	s[1] ^= s[2]
	s[0] ^= s[3]
	s[2] ^= t
	s[3] = bits.RotateLeft64(s[3], 45)
	return result
}

func (x *xoshiro) nextDouble() float64 {
	return float64(x.next()) / (float64(math.MaxUint64) + 1)
}

func (x *xoshiro) nextInt(low, high int) int {
	return int(x.nextDouble()*float64(high-low+1)) + low
}

func (x *xoshiro) nextData(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(x.nextInt(0, 255))
	}
	return b
}

// sampler is Vose's alias method, built exactly as the reference does so
// that encoder and decoder agree on every draw.
type sampler struct {
	prob  []float64
	alias []int
}

func newSampler(probs []float64) *sampler {
	n := len(probs)
	sum := 0.0
	for _, p := range probs {
		sum += p
	}
	P := make([]float64, n)
	for i, p := range probs {
		P[i] = p * float64(n) / sum
	}
	var S, L []int
	for i := n - 1; i >= 0; i-- {
		if P[i] < 1 {
			S = append(S, i)
		} else {
			L = append(L, i)
		}
	}
	sm := &sampler{prob: make([]float64, n), alias: make([]int, n)}
	for len(S) > 0 && len(L) > 0 {
		a := S[len(S)-1]
		S = S[:len(S)-1]
		g := L[len(L)-1]
		L = L[:len(L)-1]
		sm.prob[a] = P[a]
		sm.alias[a] = g
		P[g] += P[a] - 1
		if P[g] < 1 {
			S = append(S, g)
		} else {
			L = append(L, g)
		}
	}
	for len(L) > 0 {
		sm.prob[L[len(L)-1]] = 1
		L = L[:len(L)-1]
	}
	for len(S) > 0 {
		sm.prob[S[len(S)-1]] = 1
		S = S[:len(S)-1]
	}
	return sm
}

func (sm *sampler) next(x *xoshiro) int {
	r1, r2 := x.nextDouble(), x.nextDouble()
	i := int(float64(len(sm.prob)) * r1)
	if r2 < sm.prob[i] {
		return i
	}
	return sm.alias[i]
}

func shuffled(items []int, x *xoshiro) []int { return shuffledPrefix(items, x, len(items)) }

// shuffledPrefix is the first n items of shuffled(items, x): the same draws
// in the same order, stopped early, so choosing a few fragments out of
// many costs O(n·len(items)), not O(len(items)²).
func shuffledPrefix(items []int, x *xoshiro, n int) []int {
	remaining := append([]int{}, items...)
	var out []int
	for len(remaining) > 0 && len(out) < n {
		i := x.nextInt(0, len(remaining)-1)
		out = append(out, remaining[i])
		remaining = append(remaining[:i], remaining[i+1:]...)
	}
	return out
}

func chooseDegree(seqLen int, x *xoshiro) int {
	probs := make([]float64, seqLen)
	for i := range probs {
		probs[i] = 1 / float64(i+1)
	}
	return newSampler(probs).next(x) + 1
}

// chooseFragments says which fragments part seqNum mixes: the first
// seqLen parts are the fragments themselves; later ones a pseudorandom
// set, seeded by seqNum and the message checksum.
func chooseFragments(seqNum, seqLen int, checksum uint32) []int {
	if seqNum <= seqLen {
		return []int{seqNum - 1}
	}
	var seed [8]byte
	binary.BigEndian.PutUint32(seed[:], uint32(seqNum))
	binary.BigEndian.PutUint32(seed[4:], checksum)
	x := newXoshiro(seed[:])
	degree := chooseDegree(seqLen, x)
	idx := make([]int, seqLen)
	for i := range idx {
		idx[i] = i
	}
	return shuffledPrefix(idx, x, degree)
}
