package listindex

import (
	"cmp"
	"math"
	"slices"

	"customs"
)

const (
	flagLatest = iota
	flagVul
	flagUnsafe
	flagMalicious
	numFlags
)

// table holds the rows in slots: one entry per slot in every column. A
// deleted row frees its slot for the next new row; slots never move, so the
// bitsets indexed by slot stay valid while order is rebuilt.
type table struct {
	ids                                 []int64
	upd, scan, size                     []int64
	typ, status                         []uint8
	ep, instID, instName, ns, name, tag []uint32

	eps, instIDs, instNames, nss, names, tags *dict

	live       bitset
	typeBits   [][]uint64 // by index in customs.ImageTypes
	statusBits [][]uint64 // by index in customs.ScanStatuses
	flagBits   [numFlags]bitset
	epBits     []bitset // by enterprise project code

	slotOf map[int64]int32
	free   []int32
	order  []int32 // live slots in list order
}

func newTable(n int) *table {
	t := &table{
		eps: newDict(), instIDs: newDict(), instNames: newDict(), nss: newDict(), names: newDict(), tags: newDict(),
		slotOf:     make(map[int64]int32, n),
		typeBits:   make([][]uint64, len(customs.ImageTypes)),
		statusBits: make([][]uint64, len(customs.ScanStatuses)),
	}
	return t
}

// compare orders slots as the list does: newest update first, then greater id.
func (t *table) compare(a, b int32) int {
	if c := cmp.Compare(t.upd[b], t.upd[a]); c != 0 {
		return c
	}
	return cmp.Compare(t.ids[b], t.ids[a])
}

// upsert stores r in its slot (a new one for a new id) and returns the slot.
// It does not place the slot in order.
func (t *table) upsert(r Row) int32 {
	if s, ok := t.slotOf[r.ID]; ok {
		t.set(s, r)
		return s
	}
	var s int32
	if n := len(t.free); n > 0 {
		s, t.free = t.free[n-1], t.free[:n-1]
	} else {
		s = int32(len(t.ids))
		t.grow()
	}
	t.slotOf[r.ID] = s
	t.live.set(s)
	t.set(s, r)
	return s
}

func (t *table) grow() {
	t.ids = append(t.ids, 0)
	t.upd = append(t.upd, 0)
	t.scan = append(t.scan, 0)
	t.size = append(t.size, 0)
	t.typ = append(t.typ, 0)
	t.status = append(t.status, 0)
	t.ep = append(t.ep, 0)
	t.instID = append(t.instID, 0)
	t.instName = append(t.instName, 0)
	t.ns = append(t.ns, 0)
	t.name = append(t.name, 0)
	t.tag = append(t.tag, 0)
	n := len(t.ids)
	t.live = t.live.grow(n)
	for i := range t.typeBits {
		t.typeBits[i] = bitset(t.typeBits[i]).grow(n)
	}
	for i := range t.statusBits {
		t.statusBits[i] = bitset(t.statusBits[i]).grow(n)
	}
	for i := range t.flagBits {
		t.flagBits[i] = t.flagBits[i].grow(n)
	}
	for i := range t.epBits {
		t.epBits[i] = t.epBits[i].grow(n)
	}
}

// set writes r into live slot s and keeps the bitsets in step.
func (t *table) set(s int32, r Row) {
	t.clearBits(s)
	t.ids[s] = r.ID
	t.upd[s] = r.UpdatedAt
	t.scan[s] = r.ScannedAt
	t.size[s] = r.Size
	t.typ[s] = code8(customs.ImageTypes, r.Type)
	t.status[s] = code8(customs.ScanStatuses, r.ScanStatus)
	t.ep[s] = t.eps.code(r.EnterpriseProjectID)
	t.instID[s] = t.instIDs.code(r.InstanceID)
	t.instName[s] = t.instNames.code(r.InstanceName)
	t.ns[s] = t.nss.code(r.Namespace)
	t.name[s] = t.names.code(r.Name)
	t.tag[s] = t.tags.code(r.Tag)
	t.flagBits[flagLatest].put(s, r.Latest)
	t.flagBits[flagVul].put(s, r.HasVul)
	t.flagBits[flagUnsafe].put(s, r.HasUnsafeSetting)
	t.flagBits[flagMalicious].put(s, r.HasMaliciousFile)
	t.setBits(s)
}

// code8 is v's index in values; an unknown value gets a code past the end,
// which matches no filter.
func code8[T comparable](values []T, v T) uint8 {
	if i := slices.Index(values, v); i >= 0 {
		return uint8(i)
	}
	return uint8(len(values))
}

func (t *table) setBits(s int32) {
	if int(t.typ[s]) < len(t.typeBits) {
		bitset(t.typeBits[t.typ[s]]).set(s)
	}
	if int(t.status[s]) < len(t.statusBits) {
		bitset(t.statusBits[t.status[s]]).set(s)
	}
	for int(t.ep[s]) >= len(t.epBits) {
		t.epBits = append(t.epBits, make(bitset, len(t.live)))
	}
	t.epBits[t.ep[s]].set(s)
}

func (t *table) clearBits(s int32) {
	if int(t.typ[s]) < len(t.typeBits) {
		bitset(t.typeBits[t.typ[s]]).clear(s)
	}
	if int(t.status[s]) < len(t.statusBits) {
		bitset(t.statusBits[t.status[s]]).clear(s)
	}
	if int(t.ep[s]) < len(t.epBits) {
		t.epBits[t.ep[s]].clear(s)
	}
	for i := range t.flagBits {
		t.flagBits[i].clear(s)
	}
}

// remove frees slot s. It does not take s out of order.
func (t *table) remove(s int32) {
	t.clearBits(s)
	t.live.clear(s)
	delete(t.slotOf, t.ids[s])
	t.free = append(t.free, s)
}

// reorder rebuilds order after the slots in moved were added, removed or
// given a new update time: it keeps the others in their order and merges the
// moved ones that are live back in. It costs one pass over order.
func (t *table) reorder(moved []int32) {
	dirty := make(bitset, len(t.live))
	var back []int32
	for _, s := range moved {
		if dirty.has(s) {
			continue
		}
		dirty.set(s)
		if t.live.has(s) {
			back = append(back, s)
		}
	}
	slices.SortFunc(back, t.compare)
	out := make([]int32, 0, len(t.slotOf))
	i := 0
	for _, s := range t.order {
		if dirty.has(s) {
			continue
		}
		for i < len(back) && t.compare(back[i], s) < 0 {
			out = append(out, back[i])
			i++
		}
		out = append(out, s)
	}
	t.order = append(out, back[i:]...)
}

// keepUpdated keeps the slots updated in [from, to]. The order is by update
// time, so they are one run of it: when the run is short, marking it costs
// less than testing every row.
func (t *table) keepUpdated(res bitset, from, to int64) {
	// order runs from the newest: the run starts at the first slot updated
	// at or before to and ends before the first updated before from.
	start, _ := slices.BinarySearchFunc(t.order, to, func(s int32, ms int64) int { return cmp.Compare(ms, t.upd[s]) })
	end, _ := slices.BinarySearchFunc(t.order, from-1, func(s int32, ms int64) int { return cmp.Compare(ms, t.upd[s]) })
	if from == math.MinInt64 {
		end = len(t.order)
	}
	run := t.order[start:end]
	if len(run) > len(t.order)/8 {
		res.keepRange(t.upd, from, to)
		return
	}
	in := getBitset(len(res))
	for _, s := range run {
		in.set(s)
	}
	res.and(*in)
	bitsets.Put(in)
}

// page returns the ids of the matching rows at list positions
// [offset, offset+limit). It walks order from whichever end is nearer.
func (t *table) page(res bitset, total, offset, limit int) []int64 {
	if offset >= total || limit <= 0 {
		return []int64{}
	}
	end := min(offset+limit, total)
	ids := make([]int64, 0, end-offset)
	if offset <= total-end {
		k := 0
		for _, s := range t.order {
			if !res.has(s) {
				continue
			}
			if k >= offset {
				ids = append(ids, t.ids[s])
				if len(ids) == end-offset {
					break
				}
			}
			k++
		}
		return ids
	}
	// From the end: position p from the start is total-1-p from the end.
	k := 0
	first := total - end // positions from the end to collect: [first, total-offset)
	for j := len(t.order) - 1; j >= 0; j-- {
		s := t.order[j]
		if !res.has(s) {
			continue
		}
		if k >= first {
			ids = append(ids, t.ids[s])
			if len(ids) == end-offset {
				break
			}
		}
		k++
	}
	slices.Reverse(ids)
	return ids
}
