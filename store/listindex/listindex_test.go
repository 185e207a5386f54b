package listindex

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"customs"
)

// model is the brute-force reference: the rows as a map, filtered with
// customs.ImageFilter.Match and sorted with customs.ImageLess.
type model map[int64]Row

func (m model) query(scope customs.Scope, f *customs.ImageFilter) ([]int64, int) {
	var imgs []*customs.Image
	for _, r := range m {
		img := toImage(r)
		if scope.Allows(r.EnterpriseProjectID) && f.Match(img) {
			imgs = append(imgs, img)
		}
	}
	slices.SortFunc(imgs, func(a, b *customs.Image) int {
		if customs.ImageLess(a, b) {
			return -1
		}
		return 1
	})
	ids := []int64{}
	for i := f.Offset; i < len(imgs) && i < f.Offset+f.Limit; i++ {
		ids = append(ids, imgs[i].ID)
	}
	return ids, len(imgs)
}

func toImage(r Row) *customs.Image {
	n := func(b bool) int {
		if b {
			return 3
		}
		return 0
	}
	return &customs.Image{
		ID: r.ID, Type: r.Type, EnterpriseProjectID: r.EnterpriseProjectID,
		InstanceID: r.InstanceID, InstanceName: r.InstanceName,
		Namespace: r.Namespace, Name: r.Name, Tag: r.Tag, Size: r.Size,
		UpdatedAt: customs.FromUnixMilli(r.UpdatedAt), ScannedAt: customs.FromUnixMilli(r.ScannedAt),
		ScanStatus: r.ScanStatus, Latest: r.Latest,
		VulNum: n(r.HasVul), UnsafeSettingNum: n(r.HasUnsafeSetting), MaliciousFileNum: n(r.HasMaliciousFile),
	}
}

type gen struct {
	r      *rand.Rand
	nextID int64
}

func (g *gen) pick(vs ...string) string { return vs[g.r.IntN(len(vs))] }

func (g *gen) row(id int64) Row {
	if id == 0 {
		g.nextID++
		id = g.nextID
	}
	types := []customs.ImageType{customs.PrivateImage, customs.InstanceImage, customs.SharedImage}
	r := Row{
		ID:                  id,
		Type:                types[g.r.IntN(len(types))],
		EnterpriseProjectID: g.pick("0", "0", "ep-a", "ep-b"),
		Namespace:           g.pick("library", "team-a", "team-b", "ops"),
		Name:                g.pick("nginx", "api-gateway", "payments/api", "worker", "ngx"),
		Tag:                 g.pick("latest", "v1.0.0", "v1.2.3", "1.25-alpine", "sha-abc"),
		Size:                g.r.Int64N(1000),
		UpdatedAt:           1_700_000_000_000 + g.r.Int64N(20)*1000, // many ties
		ScanStatus:          customs.ScanStatuses[g.r.IntN(len(customs.ScanStatuses))],
		Latest:              g.r.IntN(3) == 0,
		HasVul:              g.r.IntN(2) == 0,
		HasUnsafeSetting:    g.r.IntN(2) == 0,
		HasMaliciousFile:    g.r.IntN(4) == 0,
	}
	if g.r.IntN(3) > 0 {
		r.ScannedAt = 1_700_000_000_000 + g.r.Int64N(20)*1000
	}
	if r.Type == customs.InstanceImage {
		r.InstanceID = g.pick("reg-1", "reg-2")
		r.InstanceName = "harbor-" + r.InstanceID
	}
	return r
}

func (g *gen) filter() (customs.Scope, *customs.ImageFilter) {
	scope := customs.Scope{ProjectID: "p", AllEnterpriseProjects: g.r.IntN(3) == 0}
	if !scope.AllEnterpriseProjects {
		scope.EnterpriseProjectIDs = []string{g.pick("0", "ep-a", "ep-b", "nope")}
		if g.r.IntN(2) == 0 {
			scope.EnterpriseProjectIDs = append(scope.EnterpriseProjectIDs, "ep-b")
		}
	}
	f := &customs.ImageFilter{Type: []customs.ImageType{customs.PrivateImage, customs.InstanceImage, customs.SharedImage}[g.r.IntN(3)]}
	maybe := func() bool { return g.r.IntN(4) == 0 }
	b := func() *bool { v := g.r.IntN(2) == 0; return &v }
	if maybe() {
		f.Namespace = g.pick("library", "team-a", "missing")
	}
	if maybe() {
		f.Name = g.pick("ng", "api", "/", "zzz")
	}
	if maybe() {
		f.Tag = g.pick("v1", "1.2", "alpine", "q")
	}
	if maybe() {
		f.InstanceName = g.pick("harbor", "reg-2", "x")
	}
	if maybe() {
		f.InstanceID = g.pick("reg-1", "reg-3")
	}
	f.LatestOnly = maybe()
	if maybe() {
		f.ScanStatus = customs.ScanStatuses[g.r.IntN(len(customs.ScanStatuses))]
	}
	if maybe() {
		f.MinSize = g.r.Int64N(1000)
	}
	if maybe() {
		from := customs.FromUnixMilli(1_700_000_000_000 + g.r.Int64N(20)*1000)
		f.UpdatedAt = customs.TimeRange{From: from, To: from.Add(time.Duration(g.r.IntN(8)) * time.Second)}
	}
	if maybe() {
		f.ScannedAt = customs.TimeRange{From: time.UnixMilli(0), To: customs.FromUnixMilli(1_700_000_000_000 + g.r.Int64N(20)*1000)}
	}
	if maybe() {
		f.HasVul = b()
	}
	if maybe() {
		f.HasUnsafeSetting = b()
	}
	if maybe() {
		f.HasMaliciousFile = b()
	}
	f.Limit = 1 + g.r.IntN(30)
	f.Offset = g.r.IntN(60)
	return scope, f
}

// TestQueryMatchesModel drives an index through random loads, updates and
// deletes and checks every query against the brute-force model.
func TestQueryMatchesModel(t *testing.T) {
	for seed := range uint64(20) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			g := &gen{r: rand.New(rand.NewPCG(seed, 7))}
			m := model{}
			b := NewBuilder(0)
			for range 150 {
				r := g.row(0)
				m[r.ID] = r
				b.Add(r)
			}
			ix := New()
			seq := int64(1)
			ix.Replace(b, seq)
			for step := range 30 {
				var ups []Row
				var dels []int64
				for range g.r.IntN(12) {
					switch op := g.r.IntN(4); {
					case op == 0 && len(m) > 0: // delete
						id := anyKey(g, m)
						delete(m, id)
						dels = append(dels, id)
					case op == 1 && len(m) > 0: // update in place or moved
						r := g.row(anyKey(g, m))
						m[r.ID] = r
						ups = append(ups, r)
					default: // insert
						r := g.row(0)
						m[r.ID] = r
						ups = append(ups, r)
					}
				}
				// A row updated and then deleted in one batch is only deleted.
				ups = slices.DeleteFunc(ups, func(r Row) bool { _, ok := m[r.ID]; return !ok })
				seq++
				ix.Apply(ups, dels, seq)
				if ix.Len() != len(m) {
					t.Fatalf("step %d: Len() = %d, want %d", step, ix.Len(), len(m))
				}
				for range 25 {
					scope, f := g.filter()
					wantIDs, wantTotal := m.query(scope, f)
					ids, total, ok := ix.Query(seq, scope, f)
					if !ok {
						t.Fatal("Query refused the current sequence")
					}
					if total != wantTotal {
						t.Errorf("step %d: total = %d, want %d for %+v scope %+v", step, total, wantTotal, f, scope)
					}
					if diff := cmp.Diff(wantIDs, ids); diff != "" {
						t.Fatalf("step %d: Query(%+v) ids mismatch (-want +got):\n%s", step, f, diff)
					}
				}
			}
		})
	}
}

func anyKey(g *gen, m model) int64 {
	keys := make([]int64, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys[g.r.IntN(len(keys))]
}

func TestQueryRefusesOtherSequence(t *testing.T) {
	ix := New()
	f := &customs.ImageFilter{Type: customs.PrivateImage, Limit: 10}
	scope := customs.ProjectScope("p")
	if _, _, ok := ix.Query(0, scope, f); ok {
		t.Error("an index that loaded nothing answered a query")
	}
	ix.Replace(NewBuilder(0), 5)
	if _, _, ok := ix.Query(4, scope, f); ok {
		t.Error("Query(4) answered at sequence 5")
	}
	if ids, total, ok := ix.Query(5, scope, f); !ok || total != 0 || len(ids) != 0 {
		t.Errorf("Query(5) = %v, %d, %v; want [], 0, true", ids, total, ok)
	}
}

func TestDeepOffsetFromEitherEnd(t *testing.T) {
	b := NewBuilder(0)
	for i := range int64(1000) {
		b.Add(Row{ID: i + 1, Type: customs.PrivateImage, EnterpriseProjectID: "0", UpdatedAt: 1000 + i/3, ScanStatus: customs.ScanUnscan})
	}
	ix := New()
	ix.Replace(b, 1)
	scope := customs.ProjectScope("p")
	for _, offset := range []int{0, 1, 499, 500, 501, 990, 995, 999, 1000} {
		ids, total, _ := ix.Query(1, scope, &customs.ImageFilter{Type: customs.PrivateImage, Offset: offset, Limit: 10})
		var want []int64
		for id := int64(1000) - int64(offset); id > 0 && len(want) < 10; id-- {
			want = append(want, id) // ids grow with update time, so list order is id descending
		}
		if total != 1000 {
			t.Errorf("offset %d: total = %d, want 1000", offset, total)
		}
		if diff := cmp.Diff(want, ids, cmp.Comparer(func(a, b []int64) bool { return slices.Equal(a, b) })); diff != "" && !(len(want) == 0 && len(ids) == 0) {
			t.Errorf("offset %d: ids mismatch (-want +got):\n%s", offset, diff)
		}
	}
}
