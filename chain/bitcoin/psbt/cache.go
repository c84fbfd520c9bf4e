package psbt

import (
	"crypto/sha256"
	"encoding/binary"
	"sync"
	"sync/atomic"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// maxCacheEntries bounds each of a Packet's caches. A standard transaction
// has at most 2,439 inputs, each with at most 20 multisig keys and as
// many signatures; past the bound a cache stops growing and the work is
// simply redone.
const maxCacheEntries = 1 << 16

// verifyCache is what a Packet remembers between the checks made on it:
// the signatures verified and the script engine runs passed (the public
// keys found valid are the process's, validKeys).
// Entries are keyed by the full bytes they stand for (a signature by the
// SHA-256 of public key, digest and signature), so a changed input never
// finds a stale entry. It is safe for concurrent use.
type verifyCache struct {
	mu      sync.Mutex
	sigs    map[[32]byte]struct{}
	scripts map[[32]byte]struct{} // script engine runs passed, by scriptRunID
}

// cacheInit guards the lazy creation of Packet.cache.
var cacheInit sync.Mutex

func (p *Packet) verified() *verifyCache {
	cacheInit.Lock()
	defer cacheInit.Unlock()
	if p.cache == nil {
		p.cache = &verifyCache{}
	}
	return p.cache
}

// valid is validPubKey, remembering the compressed keys it accepts (a
// point decompression is most of the cost of a check). A nil cache checks
// every time.
func (c *verifyCache) valid(b []byte) bool {
	if len(b) != 33 {
		return validPubKey(b)
	}
	k := [33]byte(b)
	validKeys.Lock()
	_, ok := validKeys.m[k]
	validKeys.Unlock()
	if ok {
		return true
	}
	if !validPubKey(b) {
		return false
	}
	validKeys.Lock()
	if validKeys.m == nil || len(validKeys.m) >= maxCacheEntries {
		validKeys.m = make(map[[33]byte]struct{})
	}
	validKeys.m[k] = struct{}{}
	validKeys.Unlock()
	return true
}

// validKeys is the process's set of compressed public keys found valid
// (on the curve). Validity is a property of the 33 bytes alone, so every
// packet shares it: a station decodes the same PSBT for its review and
// its signature, a coordinator for each approval's check and the
// assembly, and each decode would otherwise decompress every key again.
// Bounded, and emptied when full.
var validKeys struct {
	sync.Mutex
	m map[[33]byte]struct{}
}

// PurgeKeyCache empties the process's set of keys found valid and its
// signature cache, so that a benchmark measures decoding from cold.
func PurgeKeyCache() {
	validKeys.Lock()
	validKeys.m = nil
	validKeys.Unlock()
	sigs.Store(txscript.NewSigCache(maxCacheEntries))
	verifiedSigs.purge()
	passedRuns.purge()
}

// verifiedSigs is the process's set of ECDSA signatures verified, as
// Bitcoin Core keeps one: a (public key, digest, signature) triple that
// verified once verifies again, so a coordinator checking an approval
// when it is handed in and again when it assembles the transaction
// verifies each signature once. Only triples that verified are entered,
// each named by sigID over all its bytes (btcd's txscript.SigCache is
// keyed by the digest alone, so the signatures of a multisig input,
// which share their digest, would evict each other). Bounded; a random
// entry is evicted when full.
var verifiedSigs = &sigSet{}

// passedRuns is the process's set of script engine runs that passed, by
// scriptRunID (which names every byte a run reads): a coordinator that
// finalized a transaction, then a checker or a later extraction of the
// same transaction, run the engine once.
var passedRuns = &sigSet{}

// sigs is the script engine's signature cache, shared by every engine
// run in the process (a finalizer's check and a later extraction's).
var sigs atomic.Pointer[txscript.SigCache]

func init() { sigs.Store(txscript.NewSigCache(maxCacheEntries)) }

// sigCache is the script engine's signature cache.
func sigCache() *txscript.SigCache { return sigs.Load() }

// sigSet is a bounded set of signature triples, safe for concurrent use.
type sigSet struct {
	sync.Mutex
	m map[[32]byte]struct{}
}

func (s *sigSet) has(id [32]byte) bool {
	s.Lock()
	defer s.Unlock()
	_, ok := s.m[id]
	return ok
}

func (s *sigSet) add(id [32]byte) {
	s.Lock()
	defer s.Unlock()
	if s.m == nil {
		s.m = make(map[[32]byte]struct{})
	}
	if len(s.m) >= maxCacheEntries {
		for k := range s.m {
			delete(s.m, k)
			break
		}
	}
	s.m[id] = struct{}{}
}

func (s *sigSet) purge() {
	s.Lock()
	s.m = nil
	s.Unlock()
}

// sigID names a (public key, digest, signature) triple. Each part is
// length-prefixed, so no two triples share an encoding.
func sigID(pub, digest, sig []byte) [32]byte {
	h := sha256.New()
	for _, b := range [][]byte{pub, digest, sig} {
		h.Write([]byte{byte(len(b))})
		h.Write(b)
	}
	return [32]byte(h.Sum(nil))
}

// seen reports whether the signature triple id was verified on this
// packet before.
func (c *verifyCache) seen(id [32]byte) bool { return c.has(&c.sigs, id) }

// add records that the signature triple id verified.
func (c *verifyCache) add(id [32]byte) { c.put(&c.sigs, id) }

// ran reports whether the script engine run id passed on this packet,
// or anywhere in the process (passedRuns).
func (c *verifyCache) ran(id [32]byte) bool { return c.has(&c.scripts, id) || passedRuns.has(id) }

// passed records that the script engine run id passed.
func (c *verifyCache) passed(id [32]byte) {
	c.put(&c.scripts, id)
	passedRuns.add(id)
}

func (c *verifyCache) has(m *map[[32]byte]struct{}, id [32]byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := (*m)[id]
	return ok
}

func (c *verifyCache) put(m *map[[32]byte]struct{}, id [32]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if *m == nil {
		*m = make(map[[32]byte]struct{})
	}
	if len(*m) < maxCacheEntries {
		(*m)[id] = struct{}{}
	}
}

// spentID names the outputs a transaction's inputs spend, in order.
func spentID(prevOuts []*wire.TxOut) [32]byte {
	h := sha256.New()
	var b [8]byte
	for _, o := range prevOuts {
		binary.LittleEndian.PutUint64(b[:], uint64(o.Value))
		h.Write(b[:])
		binary.LittleEndian.PutUint64(b[:], uint64(len(o.PkScript)))
		h.Write(b[:])
		h.Write(o.PkScript)
	}
	return [32]byte(h.Sum(nil))
}

// scriptRunID names one run of btcd's script engine with
// txscript.StandardVerifyFlags on input i: of the transaction whose
// unsigned form has txid, spending the outputs spent names, with the
// given scriptSig and serialized witness. The run's result depends on
// nothing else: no sighash algorithm covers another input's scriptSig or
// witness, and the engine reads only input i's.
func scriptRunID(txid chainhash.Hash, spent [32]byte, i int, scriptSig, witness []byte) [32]byte {
	h := sha256.New()
	h.Write(txid[:])
	h.Write(spent[:])
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(i))
	h.Write(b[:])
	for _, s := range [][]byte{scriptSig, witness} {
		binary.LittleEndian.PutUint64(b[:], uint64(len(s)))
		h.Write(b[:])
		h.Write(s)
	}
	return [32]byte(h.Sum(nil))
}

// runLog records, for Extract, the script engine runs that pass on a
// packet as it is now: its unsigned transaction and the outputs spent.
type runLog struct {
	c     *verifyCache
	txid  chainhash.Hash
	spent [32]byte
}

// runLog returns p's log, or nil when an input's spent output is unknown
// (such a packet cannot be extracted anyway).
func (p *Packet) runLog() *runLog {
	prevOuts := make([]*wire.TxOut, len(p.Inputs))
	for i := range p.Inputs {
		prev, err := p.PrevOut(i)
		if err != nil {
			return nil
		}
		prevOuts[i] = prev
	}
	return &runLog{c: p.verified(), txid: p.UnsignedTx.TxHash(), spent: spentID(prevOuts)}
}

func (l *runLog) passed(i int, scriptSig, witness []byte) {
	if l != nil {
		l.c.passed(scriptRunID(l.txid, l.spent, i, scriptSig, witness))
	}
}

// ran reports whether the process ran these scripts on input i of the
// packet as it is now, and they passed. A nil log (an unknown spent
// output) never has.
func (l *runLog) ran(i int, scriptSig, witness []byte) bool {
	return l != nil && l.c.ran(scriptRunID(l.txid, l.spent, i, scriptSig, witness))
}
