package vulndb

import (
	"encoding/json"
	"testing"
)

func TestSeverity(t *testing.T) {
	tests := []struct {
		name   string
		record string
		want   string
	}{
		{name: "GHSA database_specific", record: `{"database_specific":{"severity":"MODERATE"},"severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]}`, want: SeverityMedium},
		{name: "entry ecosystem_specific first", record: `{"database_specific":{"severity":"LOW"},"affected":[{"ecosystem_specific":{"severity":"CRITICAL"}}]}`, want: SeverityCritical},
		{name: "entry database_specific", record: `{"affected":[{"database_specific":{"severity":"High"}}]}`, want: SeverityHigh},
		{name: "CVSS 3.1 high", record: `{"severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"}]}`, want: SeverityHigh},
		{name: "CVSS 3.0 medium", record: `{"severity":[{"type":"CVSS_V3","score":"CVSS:3.0/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:L/A:N"}]}`, want: SeverityMedium},
		{name: "CVSS 4.0 critical", record: `{"severity":[{"type":"CVSS_V4","score":"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"}]}`, want: SeverityCritical},
		{name: "CVSS 2 caps at high", record: `{"severity":[{"type":"CVSS_V2","score":"AV:N/AC:L/Au:N/C:C/I:C/A:C"}]}`, want: SeverityHigh},
		{name: "highest of several vectors", record: `{"severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N"},{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]}`, want: SeverityCritical},
		{name: "entry vector before record vector", record: `{"severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],"affected":[{"severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N"}]}]}`, want: SeverityLow},
		{name: "Ubuntu priority", record: `{"severity":[{"type":"Ubuntu","score":"negligible"}]}`, want: SeverityLow},
		{name: "broken vector", record: `{"severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:X"}]}`, want: SeverityUnknown},
		{name: "Red Hat summary", record: `{"summary":"Important: openssl security update"}`, want: SeverityHigh},
		{name: "nothing", record: `{"summary":"openssl - security update"}`, want: SeverityUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e Entry
			if err := json.Unmarshal([]byte(tt.record), &e); err != nil {
				t.Fatal(err)
			}
			af := &Affected{}
			if len(e.Affected) > 0 {
				af = &e.Affected[0]
			}
			if got := entrySeverity(&e, af, specificSeverity(e.DatabaseSpecific)); got != tt.want {
				t.Errorf("entrySeverity(%s) = %q, want %q", tt.record, got, tt.want)
			}
		})
	}
}
