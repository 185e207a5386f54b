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

// The keep* filters clear the bits of slots whose column value fails the
// test. They build each word's mask without branches: with half the rows
// passing at random, a branch per row would be mispredicted half the time
// and cost more than the test.

// keepRange keeps slot i only if lo <= col[i] <= hi.
func (b bitset) keepRange(col []int64, lo, hi int64) {
	span := uint64(hi) - uint64(lo)
	for wi, w := range b {
		if w == 0 {
			continue
		}
		var m uint64
		if vals, ok := word(col, wi); ok {
			for j := range vals {
				m |= b2u(uint64(vals[j])-uint64(lo) <= span) << uint(j)
			}
		} else {
			for j, v := range col[wi<<6:] {
				m |= b2u(uint64(v)-uint64(lo) <= span) << uint(j)
			}
		}
		b[wi] = w & m
	}
}

// keepEqual keeps slot i only if col[i] == v.
func (b bitset) keepEqual(col []uint32, v uint32) {
	for wi, w := range b {
		if w == 0 {
			continue
		}
		var m uint64
		if vals, ok := word(col, wi); ok {
			for j := range vals {
				m |= b2u(vals[j] == v) << uint(j)
			}
		} else {
			for j, c := range col[wi<<6:] {
				m |= b2u(c == v) << uint(j)
			}
		}
		b[wi] = w & m
	}
}

// keepIn keeps slot i only if col[i] is in set (a set of codes covering
// every code in col).
func (b bitset) keepIn(col []uint32, set bitset) {
	for wi, w := range b {
		if w == 0 {
			continue
		}
		var m uint64
		if vals, ok := word(col, wi); ok {
			for j := range vals {
				c := vals[j]
				m |= (set[c>>6] >> (c & 63) & 1) << uint(j)
			}
		} else {
			for j, c := range col[wi<<6:] {
				m |= (set[c>>6] >> (c & 63) & 1) << uint(j)
			}
		}
		b[wi] = w & m
	}
}

// word returns the 64 values of word wi as an array, so that loops over
// them need no bounds checks; ok is false for the last, partial word.
func word[T any](col []T, wi int) (*[64]T, bool) {
	base := wi << 6
	if base+64 > len(col) {
		return nil, false
	}
	return (*[64]T)(col[base : base+64]), true
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}
