// Package listindex keeps an in-memory column index of a project's image rows
// so that the image list (spec §1) answers any combination of its filters,
// with an exact total and offset paging, in a few milliseconds at millions of
// rows. SQL cannot: counting a million index entries alone takes tens of
// milliseconds, and a deep OFFSET walks the rows it skips.
//
// The index is a cache, never the truth. A store feeds it from its database
// through a change sequence (Replace for a full load, Apply for the rows
// changed since the sequence it holds) and asks it for the ids of one page,
// then reads those rows from the database in the same snapshot. Any number of
// processes can each keep their own index over one database.
//
// It is not a general query engine: it knows exactly the filters of
// customs.ImageFilter, and customs.ImageFilter.Match is its reference.
package listindex

import (
	"math"
	"slices"
	"sync"

	"customs"
)

// Row is the part of an image row that the index filters and orders on.
type Row struct {
	ID                  int64
	Type                customs.ImageType
	EnterpriseProjectID string
	InstanceID          string
	InstanceName        string
	Namespace           string
	Name                string
	Tag                 string
	Size                int64
	UpdatedAt           int64 // Unix ms
	ScannedAt           int64 // Unix ms, 0 if never
	ScanStatus          customs.ScanStatus
	Latest              bool
	HasVul              bool
	HasUnsafeSetting    bool
	HasMaliciousFile    bool
}

// Index is the column index of one project's rows. Its methods are safe for
// concurrent use.
type Index struct {
	mu      sync.RWMutex
	matchMu sync.Mutex // guards the dictionaries' match caches under mu.RLock
	seq     int64
	loaded  bool
	t       *table
}

// New returns an empty index that has loaded nothing.
func New() *Index { return &Index{t: newTable(0)} }

// Seq returns the change sequence the index reflects, and whether it has been
// loaded at all.
func (ix *Index) Seq() (seq int64, loaded bool) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.seq, ix.loaded
}

// Len returns the number of rows in the index.
func (ix *Index) Len() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return len(ix.t.slotOf)
}

// Builder collects rows for a full load.
type Builder struct{ t *table }

// NewBuilder returns a builder with room for about n rows.
func NewBuilder(n int) *Builder { return &Builder{t: newTable(n)} }

// Add adds a row. A row whose ID was added before replaces it.
func (b *Builder) Add(r Row) { b.t.upsert(r) }

// Replace makes the index hold exactly the rows of b, at sequence seq. b must
// not be used afterwards.
func (ix *Index) Replace(b *Builder, seq int64) {
	b.t.order = b.t.order[:0]
	for s := range b.t.ids {
		if b.t.live.has(int32(s)) {
			b.t.order = append(b.t.order, int32(s))
		}
	}
	slices.SortFunc(b.t.order, b.t.compare)
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.t, ix.seq, ix.loaded = b.t, seq, true
}

// Apply brings a loaded index from its sequence to seq: upserts are the rows
// changed since (whole rows, as they are now), deletes the ids removed since.
func (ix *Index) Apply(upserts []Row, deletes []int64, seq int64) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	t := ix.t
	var moved []int32
	for _, id := range deletes {
		if s, ok := t.slotOf[id]; ok {
			t.remove(s)
			moved = append(moved, s)
		}
	}
	for _, r := range upserts {
		if s, ok := t.slotOf[r.ID]; ok && t.upd[s] == r.UpdatedAt {
			t.set(s, r) // same place in the order
			continue
		}
		moved = append(moved, t.upsert(r))
	}
	if len(moved) > 0 {
		t.reorder(moved)
	}
	ix.seq = seq
}

// Query returns the ids of the rows in scope that match f, in list order,
// from f.Offset for at most f.Limit rows, and the exact number of matching
// rows. It answers ok=false, and nothing else, when the index is not at
// sequence seq: the caller's snapshot and the index disagree.
func (ix *Index) Query(seq int64, scope customs.Scope, f *customs.ImageFilter) (ids []int64, total int, ok bool) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if !ix.loaded || ix.seq != seq {
		return nil, 0, false
	}
	res := ix.match(scope, f)
	defer bitsets.Put(res)
	total = res.count()
	return ix.t.page(*res, total, f.Offset, f.Limit), total, true
}

// bitsets recycles the result sets of queries: at a million rows each is
// 125 KB, and allocating two per query keeps the collector busy.
var bitsets sync.Pool

// getBitset returns a cleared set of n words.
func getBitset(n int) *bitset {
	b, _ := bitsets.Get().(*bitset)
	if b == nil || cap(*b) < n {
		nb := make(bitset, n)
		return &nb
	}
	*b = (*b)[:n]
	clear(*b)
	return b
}

// match returns the slots of the rows in scope that match f, in a set the
// caller puts back in bitsets.
func (ix *Index) match(scope customs.Scope, f *customs.ImageFilter) *bitset {
	t := ix.t
	out := getBitset(len(t.live))
	res := *out
	tc := slices.Index(customs.ImageTypes, f.Type)
	if tc < 0 {
		return out
	}
	copy(res, t.live)
	res.and(t.typeBits[tc])
	if !scope.AllEnterpriseProjects {
		eps := getBitset(len(res))
		for _, ep := range scope.EnterpriseProjectIDs {
			if c, ok := t.eps.lookup(ep); ok {
				for i, w := range t.epBits[c] {
					(*eps)[i] |= w
				}
			}
		}
		res.and(*eps)
		bitsets.Put(eps)
	}
	if f.ScanStatus != "" {
		sc := slices.Index(customs.ScanStatuses, f.ScanStatus)
		if sc < 0 {
			clear(res)
			return out
		}
		res.and(t.statusBits[sc])
	}
	if f.LatestOnly {
		res.and(t.flagBits[flagLatest])
	}
	for _, h := range []struct {
		flag int
		want *bool
	}{{flagVul, f.HasVul}, {flagUnsafe, f.HasUnsafeSetting}, {flagMalicious, f.HasMaliciousFile}} {
		switch {
		case h.want == nil:
		case *h.want:
			res.and(t.flagBits[h.flag])
		default:
			res.andNot(t.flagBits[h.flag])
		}
	}
	exact := func(d *dict, col []uint32, want string) {
		c, ok := d.lookup(want)
		if !ok {
			clear(res)
			return
		}
		res.keepEqual(col, c)
	}
	if f.Namespace != "" {
		exact(t.nss, t.ns, f.Namespace)
	}
	if f.InstanceID != "" {
		exact(t.instIDs, t.instID, f.InstanceID)
	}
	substring := func(d *dict, col []uint32, sub string) {
		ix.matchMu.Lock()
		hits := d.containing(sub)
		ix.matchMu.Unlock()
		res.keepIn(col, hits)
	}
	if f.Name != "" {
		substring(t.names, t.name, f.Name)
	}
	if f.Tag != "" {
		substring(t.tags, t.tag, f.Tag)
	}
	if f.InstanceName != "" {
		substring(t.instNames, t.instName, f.InstanceName)
	}
	if f.MinSize > 0 {
		res.keepRange(t.size, f.MinSize, math.MaxInt64)
	}
	if !f.UpdatedAt.IsZero() {
		from, to := bounds(f.UpdatedAt)
		t.keepUpdated(res, from, to)
	}
	if !f.ScannedAt.IsZero() {
		from, to := bounds(f.ScannedAt)
		res.keepRange(t.scan, from, to)
	}
	return out
}

func bounds(r customs.TimeRange) (from, to int64) {
	from, to = math.MinInt64, math.MaxInt64
	if !r.From.IsZero() {
		from = customs.UnixMilli(r.From)
	}
	if !r.To.IsZero() {
		to = customs.UnixMilli(r.To)
	}
	return from, to
}
