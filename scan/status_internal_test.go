package scan

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"customs"
)

func TestMergeStatus(t *testing.T) {
	own := []customs.AnalyzerStatus{{Name: "packages", Status: customs.AnalyzerSucceeded}, {Name: "baseline", Status: customs.AnalyzerPartial, Reason: "shadow too large"}}
	got := mergeStatus(own, customs.AnalyzerStatus{Name: "packages", Status: customs.AnalyzerPartial, Reason: "failed on 1 files"})
	got = mergeStatus(got, customs.AnalyzerStatus{Name: "baseline", Status: customs.AnalyzerPartial, Reason: "failed on 2 files"})
	got = mergeStatus(got, customs.AnalyzerStatus{Name: "malware", Status: customs.AnalyzerSucceeded})
	want := []customs.AnalyzerStatus{
		{Name: "packages", Status: customs.AnalyzerPartial, Reason: "failed on 1 files"},
		{Name: "baseline", Status: customs.AnalyzerPartial, Reason: "shadow too large"},
		{Name: "malware", Status: customs.AnalyzerSucceeded},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("merged statuses (-want +got):\n%s", diff)
	}
}
