package listindex

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"customs"
)

// BenchmarkQuery measures the index alone at a million rows (the list API's
// figures, with the database and HTTP, come from cmd/customs BenchmarkListAPI).
func BenchmarkQuery(b *testing.B) {
	const rows = 1_000_000
	r := rand.New(rand.NewPCG(1, 2))
	bld := NewBuilder(rows)
	statuses := []customs.ScanStatus{customs.ScanSuccess, customs.ScanSuccess, customs.ScanSuccess, customs.ScanUnscan, customs.ScanFailed, customs.ScanWaiting}
	for i := range int64(rows) {
		repo := r.IntN(20_000)
		st := statuses[r.IntN(len(statuses))]
		bld.Add(Row{
			ID: i + 1, Type: customs.PrivateImage, EnterpriseProjectID: "0",
			Namespace: fmt.Sprintf("team-%03d", repo%200), Name: fmt.Sprintf("service-%05d", repo),
			Tag: fmt.Sprintf("v%d.%d.%d", r.IntN(5), r.IntN(30), r.IntN(50)), Size: r.Int64N(2 << 30),
			UpdatedAt: 1_700_000_000_000 + r.Int64N(730*86_400_000), ScanStatus: st,
			Latest: i%50 == 0, HasVul: st == customs.ScanSuccess && r.IntN(3) > 0,
		})
	}
	ix := New()
	ix.Replace(bld, 1)
	yes := true
	now := time.UnixMilli(1_700_000_000_000 + 730*86_400_000)
	cases := []struct {
		name string
		f    customs.ImageFilter
	}{
		{"none", customs.ImageFilter{}},
		{"namespace", customs.ImageFilter{Namespace: "team-042"}},
		{"name", customs.ImageFilter{Name: "ice-0042"}},
		{"tag", customs.ImageFilter{Tag: "v1.2"}},
		{"latest", customs.ImageFilter{LatestOnly: true}},
		{"vul+status", customs.ImageFilter{HasVul: &yes, ScanStatus: customs.ScanSuccess}},
		{"updated-30d", customs.ImageFilter{UpdatedAt: customs.TimeRange{From: now.Add(-30 * 24 * time.Hour), To: now}}},
		{"offset-990000", customs.ImageFilter{Offset: 990_000}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			f := c.f
			f.Type, f.Limit = customs.PrivateImage, 200
			scope := customs.Scope{ProjectID: "p", EnterpriseProjectIDs: []string{"0"}}
			for b.Loop() {
				ix.Query(1, scope, &f)
			}
		})
	}
}
