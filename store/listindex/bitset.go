package listindex

import "math/bits"

// bitset is a set of slots.
type bitset []uint64

func (b bitset) has(i int32) bool { return b[i>>6]&(1<<(uint(i)&63)) != 0 }
func (b bitset) set(i int32)      { b[i>>6] |= 1 << (uint(i) & 63) }
func (b bitset) clear(i int32)    { b[i>>6] &^= 1 << (uint(i) & 63) }

func (b bitset) put(i int32, v bool) {
	if v {
		b.set(i)
	} else {
		b.clear(i)
	}
}

// grow returns b extended to hold n slots.
func (b bitset) grow(n int) bitset {
	words := (n + 63) >> 6
	if words <= len(b) {
		return b
	}
	if words <= cap(b) {
		return b[:words]
	}
	nb := make(bitset, words, words+words/4)
	copy(nb, b)
	return nb
}

func (b bitset) and(o bitset) {
	for i := range b {
		b[i] &= o[i]
	}
}

func (b bitset) andNot(o bitset) {
	for i := range b {
		b[i] &^= o[i]
	}
}

func (b bitset) count() int {
	n := 0
	for _, w := range b {
		n += bits.OnesCount64(w)
	}
	return n
}

// filter clears every set bit i for which keep(i) is false.
func (b bitset) filter(keep func(i int32) bool) {
	for wi, w := range b {
		if w == 0 {
			continue
		}
		out := w
		for w != 0 {
			bit := bits.TrailingZeros64(w)
			w &= w - 1
			if !keep(int32(wi<<6 | bit)) {
				out &^= 1 << uint(bit)
			}
		}
		b[wi] = out
	}
}
