package listindex

import "strings"

// dict interns strings as dense codes. Codes are never reused, so a cached
// substring match over the first n codes stays valid as the dictionary grows.
type dict struct {
	codes   map[string]uint32
	strs    []string
	matches map[string]*match // substring → codes containing it
}

type match struct {
	upto int    // codes [0, upto) have been tested
	hits bitset // over codes
}

func newDict() *dict {
	return &dict{codes: map[string]uint32{}}
}

func (d *dict) code(s string) uint32 {
	if c, ok := d.codes[s]; ok {
		return c
	}
	c := uint32(len(d.strs))
	d.codes[s] = c
	d.strs = append(d.strs, s)
	return c
}

func (d *dict) lookup(s string) (uint32, bool) {
	c, ok := d.codes[s]
	return c, ok
}

// containing returns the set of codes whose string contains sub. Results are
// cached; the cache is small and cleared when it fills.
//
// It mutates the cache and so runs under the index's write lock, or under a
// read lock with matchMu held.
func (d *dict) containing(sub string) bitset {
	if d.matches == nil || len(d.matches) > 64 {
		d.matches = map[string]*match{}
	}
	m := d.matches[sub]
	if m == nil {
		m = &match{}
		d.matches[sub] = m
	}
	if m.upto < len(d.strs) {
		m.hits = m.hits.grow(len(d.strs))
		for c := m.upto; c < len(d.strs); c++ {
			if strings.Contains(d.strs[c], sub) {
				m.hits.set(int32(c))
			}
		}
		m.upto = len(d.strs)
	}
	return m.hits
}
