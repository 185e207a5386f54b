package httpapi

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"math"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"

	"customs"
)

// ScanResults reads what scans found and resolves the images a batch scan
// names (implemented by the store).
type ScanResults interface {
	FindVulnerabilities(ctx context.Context, scope customs.Scope, sel customs.ImageSelector, f customs.VulnerabilityFilter) ([]customs.Finding, int, error)
	FindMalware(ctx context.Context, scope customs.Scope, sel customs.ImageSelector, f customs.MalwareFilter) ([]customs.MaliciousFile, int, error)
	FindBaselineChecks(ctx context.Context, scope customs.Scope, sel customs.ImageSelector, f customs.BaselineFilter) ([]customs.BaselineCheck, int, error)
	FindBaselineResults(ctx context.Context, scope customs.Scope, sel customs.ImageSelector, f customs.BaselineFilter) ([]customs.BaselineResult, int, error)
	// FindImageDigests returns the distinct manifest digests of the images
	// in scope that f selects, ignoring f's paging.
	FindImageDigests(ctx context.Context, scope customs.Scope, f customs.ImageFilter) ([]string, error)
	// SelectDigests returns, for each selector, the distinct manifest
	// digests of the rows in scope whose type, namespace, name and tag equal
	// the selector's (and whose registry is its InstanceID, if given).
	SelectDigests(ctx context.Context, scope customs.Scope, sels []customs.ImageSelector) ([][]string, error)
}

// ScanQueue queues scans (implemented by the scan job runner).
type ScanQueue interface {
	// QueueScans marks the manifests as waiting for a scan and queues one job per image manifest.
	QueueScans(ctx context.Context, digests []string) error
}

// Limits of the detail endpoints' parameters (spec §3).
const (
	maxImageIDLen   = 128
	maxVulIDLen     = 128
	maxFilterLen    = 256 // app_name, file_name, check names and ids
	maxInstanceURL  = 256
	maxBatchItems   = 10241
	maxMalwareSize  = math.MaxInt32 // the SDK decodes size as int32
	imageSelectorOr = "the image's image_id, or its namespace, image_name and image_version together (namespace empty for a repository without one)"
)

// Allowed values of the detail endpoints' enums.
var (
	repairNecessities = []string{customs.RepairImmediate, customs.RepairDelay, customs.RepairNotNeeded}
	vulTypes          = []string{customs.VulLinux, customs.VulApp}
	handleStatuses    = []string{"unhandled", "handled"}
	baselineSeverity  = []string{customs.SeveritySecurity, customs.SeverityLow, customs.SeverityMedium, customs.SeverityHigh}
	baselineStandards = []string{"hw_standard", "cn_standard"}
	resultTypes       = []string{"pass", "failed"}
	scanImageTypes    = []customs.ImageType{customs.PrivateImage, customs.SharedImage, customs.InstanceImage}
)

// scanRoutes adds the endpoints of scan results and, with a queue, of scan
// control (spec §3).
func (s *Server) scanRoutes(mux *http.ServeMux) {
	mux.Handle("GET /v5/{project_id}/image/{image_id}/vulnerabilities", s.hss(s.listVulnerabilities))
	mux.Handle("GET /v5/{project_id}/image/{image_id}/malwares", s.hss(s.listMalware))
	mux.Handle("GET /v5/{project_id}/image/baseline/risk-configs", s.hss(s.listRiskConfigs))
	mux.Handle("GET /v5/{project_id}/image/baseline/risk-configs/{check_name}/rules", s.hss(s.listRiskConfigRules))
	mux.Handle("GET /v5/{project_id}/image/baseline/check-rule/detail", s.hss(s.showCheckRule))
	if s.ScanQueue != nil {
		mux.Handle("POST /v5/{project_id}/image/batch-scan", s.hss(s.batchScan))
	}
}

// reqStr returns required text parameter name.
func (q *query) reqStr(name string, min, max int) string {
	v, ok := q.optStr(name, min, max)
	if !ok && q.err == nil {
		q.err = missingParam(name, lengths(min, max))
	}
	return v
}

// pathParam checks the text of path parameter name.
func pathParam(r *http.Request, name string, max int) (string, error) {
	v := r.PathValue(name)
	if err := checkLen(name, v, 1, max); err != nil {
		return "", err
	}
	return v, nil
}

// detailSelector reads the selector of the baseline endpoints: image_id, or
// namespace, image_name and image_version together.
func (q *query) detailSelector() customs.ImageSelector {
	var sel customs.ImageSelector
	sel.Type = enum(q, "image_type", customs.ImageTypes, true)
	ns, hasNS := q.optStr("namespace", 0, maxNamespaceLen)
	name, hasName := q.optStr("image_name", 1, maxImageNameLen)
	tag, hasTag := q.optStr("image_version", 1, maxImageVersionLen)
	id, hasID := q.optStr("image_id", 1, maxImageIDLen)
	sel.InstanceID = q.str("instance_id", 0, maxInstanceLen)
	if q.err == nil && !hasID && !(hasNS && hasName && hasTag) {
		var missing []string
		for _, p := range []struct {
			name string
			has  bool
		}{{"namespace", hasNS}, {"image_name", hasName}, {"image_version", hasTag}} {
			if !p.has {
				missing = append(missing, p.name)
			}
		}
		q.err = customs.Errorf(customs.EINVALID, "Missing parameter image_id, or %s; allowed: %s.", joinNames(missing), imageSelectorOr)
	}
	sel.Namespace, sel.ExactNamespace, sel.Name, sel.Tag, sel.ImageID = ns, hasNS, name, tag, id
	return sel
}

// joinNames joins parameter names with commas and "and".
func joinNames(names []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	out := ""
	for i, n := range names[:len(names)-1] {
		if i > 0 {
			out += ", "
		}
		out += n
	}
	return out + " and " + names[len(names)-1]
}

// readScope returns the scope of a read in the enterprise project asked for.
func readScope(p *customs.Principal, ep string) (customs.Scope, error) {
	return p.Scope(customs.ActionImagesList, ep)
}

// vulnerabilityList is the body of ListImageVulnerabilities.
type vulnerabilityList struct {
	TotalNum int                   `json:"total_num"`
	DataList []vulnerabilityRecord `json:"data_list"`
}

// vulnerabilityRecord is one finding (HSS ImageVulInfo).
type vulnerabilityRecord struct {
	VulID           string `json:"vul_id"`
	RepairNecessity string `json:"repair_necessity"`
	Description     string `json:"description"`
	Position        string `json:"position"`
	AppName         string `json:"app_name"`
	AppPath         string `json:"app_path"`
	Version         string `json:"version"`
	Solution        string `json:"solution"`
	URL             string `json:"url"`
}

func toVulnerabilityRecord(f *customs.Finding) vulnerabilityRecord {
	rec := vulnerabilityRecord{
		VulID:           f.VulnID,
		RepairNecessity: f.RepairNecessity(),
		Description:     f.Summary,
		Position:        f.Package.Layer,
		AppName:         f.Package.Name,
		Version:         f.Package.Version,
		URL:             f.URL,
	}
	if !f.Package.OS {
		rec.AppPath = f.Package.Path
	}
	p := f.Package
	switch {
	case f.FixedVersion != "" && p.SourceName != "" && (p.SourceName != p.Name || p.SourceVersion != "" && p.SourceVersion != p.Version):
		// The advisory names the source package: its fix is a source
		// version, which the binary package's own version may not share.
		rec.Solution = fmt.Sprintf("Upgrade %s to the version built from %s %s or later.", p.Name, p.SourceName, f.FixedVersion)
	case f.FixedVersion != "":
		rec.Solution = fmt.Sprintf("Upgrade %s to %s or later.", p.Name, f.FixedVersion)
	default:
		rec.Solution = fmt.Sprintf("No fixed version of %s is known yet; follow the advisory for mitigations, or replace the package.", f.Package.Name)
	}
	if rec.URL == "" {
		rec.URL = "https://osv.dev/vulnerability/" + url.PathEscape(f.VulnID)
	}
	return rec
}

// listVulnerabilities is ListImageVulnerabilities (spec §3).
func (s *Server) listVulnerabilities(w http.ResponseWriter, r *http.Request, p *customs.Principal) error {
	imageID, err := pathParam(r, "image_id", maxImageIDLen)
	if err != nil {
		return err
	}
	q, err := parseQuery(r)
	if err != nil {
		return err
	}
	ep := q.enterpriseProject()
	sel := customs.ImageSelector{ImageID: imageID}
	sel.Type = enum(q, "image_type", customs.ImageTypes, true)
	sel.Namespace = q.reqStr("namespace", 0, maxNamespaceLen)
	sel.ExactNamespace = true
	sel.Name = q.reqStr("image_name", 1, maxImageNameLen)
	sel.Tag = q.reqStr("tag_name", 1, maxImageVersionLen)
	sel.InstanceID = q.str("instance_id", 0, maxInstanceLen)
	var f customs.VulnerabilityFilter
	f.RepairNecessity = enum(q, "repair_necessity", repairNecessities, false)
	f.VulID = q.str("vul_id", 1, maxVulIDLen)
	f.AppName = q.str("app_name", 1, maxFilterLen)
	f.Type = enum(q, "type", vulTypes, false)
	handle := enum(q, "handle_status", handleStatuses, false)
	f.Offset, f.Limit = q.page()
	if q.err != nil {
		return q.err
	}
	scope, err := readScope(p, ep)
	if err != nil {
		return err
	}
	out := vulnerabilityList{DataList: []vulnerabilityRecord{}}
	if handle == "handled" {
		// Findings cannot be marked handled here: none is.
		writeJSON(w, http.StatusOK, out)
		return nil
	}
	found, total, err := s.Scans.FindVulnerabilities(r.Context(), scope, sel, f)
	if err != nil {
		return fmt.Errorf("list vulnerabilities of image %q: %w", imageID, err)
	}
	out.TotalNum = total
	for i := range found {
		out.DataList = append(out.DataList, toVulnerabilityRecord(&found[i]))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// malwareList is the body of ListImageMalware.
type malwareList struct {
	TotalNum int             `json:"total_num"`
	DataList []malwareRecord `json:"data_list"`
}

// malwareRecord is one malicious file (HSS ImageMalwareInfo).
type malwareRecord struct {
	FileName    string `json:"file_name"`
	FilePath    string `json:"file_path"`
	Size        int64  `json:"size"`
	Description string `json:"description"`
}

func toMalwareRecord(m *customs.MaliciousFile) malwareRecord {
	rec := malwareRecord{FileName: path.Base(m.Path), FilePath: m.Path, Size: min(m.Size, maxMalwareSize), Description: m.Signature}
	if m.Deleted {
		rec.Description += " (deleted by a later layer)"
	}
	return rec
}

// listMalware is ListImageMalware (spec §3).
func (s *Server) listMalware(w http.ResponseWriter, r *http.Request, p *customs.Principal) error {
	imageID, err := pathParam(r, "image_id", maxImageIDLen)
	if err != nil {
		return err
	}
	q, err := parseQuery(r)
	if err != nil {
		return err
	}
	ep := q.enterpriseProject()
	sel := customs.ImageSelector{ImageID: imageID}
	sel.Type = enum(q, "image_type", customs.ImageTypes, true)
	sel.Namespace, sel.ExactNamespace = q.optStr("namespace", 0, maxNamespaceLen)
	sel.Name = q.str("image_name", 1, maxImageNameLen)
	sel.Tag = q.str("tag_name", 1, maxImageVersionLen)
	var f customs.MalwareFilter
	f.FileName = q.str("file_name", 1, maxFilterLen)
	f.Offset, f.Limit = q.page()
	if q.err != nil {
		return q.err
	}
	scope, err := readScope(p, ep)
	if err != nil {
		return err
	}
	found, total, err := s.Scans.FindMalware(r.Context(), scope, sel, f)
	if err != nil {
		return fmt.Errorf("list malware of image %q: %w", imageID, err)
	}
	out := malwareList{TotalNum: total, DataList: []malwareRecord{}}
	for i := range found {
		out.DataList = append(out.DataList, toMalwareRecord(&found[i]))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// riskConfigList is the body of ListImageRiskConfigs.
type riskConfigList struct {
	TotalNum int                `json:"total_num"`
	DataList []riskConfigRecord `json:"data_list"`
}

// riskConfigRecord is one group of baseline rules on an image.
type riskConfigRecord struct {
	Severity      string `json:"severity"`
	CheckName     string `json:"check_name"`
	CheckType     string `json:"check_type"`
	Standard      string `json:"standard"`
	CheckRuleNum  int    `json:"check_rule_num"`
	FailedRuleNum int    `json:"failed_rule_num"`
	CheckTypeDesc string `json:"check_type_desc"`
}

// listRiskConfigs is ListImageRiskConfigs (spec §3).
func (s *Server) listRiskConfigs(w http.ResponseWriter, r *http.Request, p *customs.Principal) error {
	q, err := parseQuery(r)
	if err != nil {
		return err
	}
	ep := q.enterpriseProject()
	sel := q.detailSelector()
	var f customs.BaselineFilter
	f.CheckName = q.str("check_name", 1, maxFilterLen)
	f.Severity = enum(q, "severity", baselineSeverity, false)
	f.Standard = enum(q, "standard", baselineStandards, false)
	f.Offset, f.Limit = q.page()
	if q.err != nil {
		return q.err
	}
	scope, err := readScope(p, ep)
	if err != nil {
		return err
	}
	checks, total, err := s.Scans.FindBaselineChecks(r.Context(), scope, sel, f)
	if err != nil {
		return fmt.Errorf("list baseline checks: %w", err)
	}
	out := riskConfigList{TotalNum: total, DataList: []riskConfigRecord{}}
	for _, c := range checks {
		out.DataList = append(out.DataList, riskConfigRecord{
			Severity: c.Severity, CheckName: c.CheckName, CheckType: c.CheckType, Standard: c.Standard,
			CheckRuleNum: c.RuleNum, FailedRuleNum: c.FailedNum, CheckTypeDesc: cmp.Or(c.Description, s.CheckTypeDescriptions[c.CheckType]),
		})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// riskRuleList is the body of ListImageRiskConfigRules.
type riskRuleList struct {
	TotalNum int              `json:"total_num"`
	DataList []riskRuleRecord `json:"data_list"`
}

// riskRuleRecord is one baseline rule checked on an image.
type riskRuleRecord struct {
	Severity      string `json:"severity"`
	CheckName     string `json:"check_name"`
	CheckType     string `json:"check_type"`
	Standard      string `json:"standard"`
	CheckRuleName string `json:"check_rule_name"`
	CheckRuleID   string `json:"check_rule_id"`
	ScanResult    string `json:"scan_result"`
}

// listRiskConfigRules is ListImageRiskConfigRules (spec §3).
func (s *Server) listRiskConfigRules(w http.ResponseWriter, r *http.Request, p *customs.Principal) error {
	checkName, err := pathParam(r, "check_name", maxFilterLen)
	if err != nil {
		return err
	}
	q, err := parseQuery(r)
	if err != nil {
		return err
	}
	ep := q.enterpriseProject()
	sel := q.detailSelector()
	f := customs.BaselineFilter{CheckName: checkName}
	f.Standard = enum(q, "standard", baselineStandards, true)
	f.Result = enum(q, "result_type", resultTypes, false)
	f.RuleName = q.str("check_rule_name", 1, maxFilterLen)
	f.Severity = enum(q, "severity", baselineSeverity, false)
	f.Offset, f.Limit = q.page()
	if q.err != nil {
		return q.err
	}
	scope, err := readScope(p, ep)
	if err != nil {
		return err
	}
	rules, total, err := s.Scans.FindBaselineResults(r.Context(), scope, sel, f)
	if err != nil {
		return fmt.Errorf("list rules of baseline check %q: %w", checkName, err)
	}
	out := riskRuleList{TotalNum: total, DataList: []riskRuleRecord{}}
	for _, b := range rules {
		out.DataList = append(out.DataList, riskRuleRecord{
			Severity: b.Severity, CheckName: b.CheckName, CheckType: b.CheckType, Standard: b.Standard,
			CheckRuleName: b.RuleName, CheckRuleID: b.RuleID, ScanResult: scanResult(b.Passed),
		})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func scanResult(passed bool) string {
	if passed {
		return "pass"
	}
	return "failed"
}

// checkRuleDetail is the body of ShowImageCheckRuleDetail.
type checkRuleDetail struct {
	Description   string      `json:"description"`
	Reference     string      `json:"reference"`
	Audit         string      `json:"audit"`
	Remediation   string      `json:"remediation"`
	CheckInfoList []checkInfo `json:"check_info_list"`
}

// checkInfo is what the image has against what the rule asks.
type checkInfo struct {
	CheckDescription string `json:"check_description"`
	CurrentValue     string `json:"current_value"`
	SuggestValue     string `json:"suggest_value"`
}

// showCheckRule is ShowImageCheckRuleDetail (spec §3).
func (s *Server) showCheckRule(w http.ResponseWriter, r *http.Request, p *customs.Principal) error {
	q, err := parseQuery(r)
	if err != nil {
		return err
	}
	ep := q.enterpriseProject()
	sel := q.detailSelector()
	f := customs.BaselineFilter{Limit: 1}
	f.CheckName = q.reqStr("check_name", 1, maxFilterLen)
	f.CheckType = q.reqStr("check_type", 1, maxFilterLen)
	f.RuleID = q.reqStr("check_rule_id", 1, maxFilterLen)
	f.Standard = enum(q, "standard", baselineStandards, true)
	if q.err != nil {
		return q.err
	}
	scope, err := readScope(p, ep)
	if err != nil {
		return err
	}
	rules, _, err := s.Scans.FindBaselineResults(r.Context(), scope, sel, f)
	if err != nil {
		return fmt.Errorf("show baseline rule %q: %w", f.RuleID, err)
	}
	if len(rules) == 0 {
		return customs.Errorf(customs.ENOTFOUND, "Rule %q of check %q (check_type %q, standard %q) was not checked on the selected image: check the image selectors, or list the rules with GET .../image/baseline/risk-configs/{check_name}/rules.",
			f.RuleID, f.CheckName, f.CheckType, f.Standard)
	}
	b := rules[0]
	writeJSON(w, http.StatusOK, checkRuleDetail{
		Description: b.Description, Reference: b.Reference, Audit: b.Audit, Remediation: b.Remediation,
		CheckInfoList: []checkInfo{{CheckDescription: b.RuleName, CurrentValue: b.CurrentValue, SuggestValue: b.SuggestValue}},
	})
	return nil
}

// batchScanBody is the body of BatchScanSwrImage.
type batchScanBody struct {
	ImageType     *string          `json:"image_type"`
	ImageInfoList *[]batchScanItem `json:"image_info_list"`
	OperateAll    *bool            `json:"operate_all"`
	// The list's filters, with operate_all.
	Namespace             *string `json:"namespace"`
	ImageName             *string `json:"image_name"`
	ImageVersion          *string `json:"image_version"`
	ScanStatus            *string `json:"scan_status"`
	LatestVersion         *bool   `json:"latest_version"`
	ImageSize             *int64  `json:"image_size"`
	StartLatestUpdateTime *int64  `json:"start_latest_update_time"`
	EndLatestUpdateTime   *int64  `json:"end_latest_update_time"`
	StartLatestScanTime   *int64  `json:"start_latest_scan_time"`
	EndLatestScanTime     *int64  `json:"end_latest_scan_time"`
}

// batchScanItem names one image version exactly.
type batchScanItem struct {
	Namespace    *string `json:"namespace"`
	ImageName    *string `json:"image_name"`
	ImageVersion *string `json:"image_version"`
	InstanceID   *string `json:"instance_id"`
	InstanceURL  *string `json:"instance_url"`
}

// filters returns the list filters given in the body as the list's query
// parameters, so that they are read by the list's own parser.
func (b *batchScanBody) filters() url.Values {
	v := url.Values{}
	str := func(name string, p *string) {
		if p != nil {
			v.Set(name, *p)
		}
	}
	num := func(name string, p *int64) {
		if p != nil {
			v.Set(name, strconv.FormatInt(*p, 10))
		}
	}
	str("namespace", b.Namespace)
	str("image_name", b.ImageName)
	str("image_version", b.ImageVersion)
	str("scan_status", b.ScanStatus)
	if b.LatestVersion != nil {
		v.Set("latest_version", strconv.FormatBool(*b.LatestVersion))
	}
	num("image_size", b.ImageSize)
	num("start_latest_update_time", b.StartLatestUpdateTime)
	num("end_latest_update_time", b.EndLatestUpdateTime)
	num("start_latest_scan_time", b.StartLatestScanTime)
	num("end_latest_scan_time", b.EndLatestScanTime)
	return v
}

// batchScan is BatchScanSwrImage (spec §3): it queues scans of the image
// versions listed, or of every one the list's filters select, and answers
// at once.
func (s *Server) batchScan(w http.ResponseWriter, r *http.Request, p *customs.Principal) error {
	q, err := parseQuery(r)
	if err != nil {
		return err
	}
	ep := q.enterpriseProject()
	if q.err != nil {
		return q.err
	}
	var b batchScanBody
	if err := decodeBody(w, r, &b); err != nil {
		return err
	}
	if b.ImageType == nil {
		return missingParam("image_type", oneOf(scanImageTypes))
	}
	typ := customs.ImageType(*b.ImageType)
	if !slices.Contains(scanImageTypes, typ) {
		return invalidParam("image_type", *b.ImageType, oneOf(scanImageTypes))
	}
	all := b.OperateAll != nil && *b.OperateAll
	filters := b.filters()
	var items []batchScanItem
	if b.ImageInfoList != nil {
		items = *b.ImageInfoList
	}
	switch {
	case all && len(items) > 0:
		return customs.Errorf(customs.EINVALID, "Invalid parameter image_info_list: %d images given with operate_all true; allowed: either image_info_list or operate_all true, not both.", len(items))
	case !all && len(items) == 0:
		return missingParam("image_info_list", fmt.Sprintf("1 to %d images, or operate_all true with the list's filters", maxBatchItems))
	case len(items) > maxBatchItems:
		return customs.Errorf(customs.EINVALID, "Invalid parameter image_info_list: %d images given; allowed: at most %d.", len(items), maxBatchItems)
	case !all && len(filters) > 0:
		name := slices.Sorted(maps.Keys(filters))[0]
		return customs.Errorf(customs.EINVALID, "Invalid parameter %s: a filter given without operate_all; allowed: the list's filters only with operate_all true (image_info_list names images exactly).", name)
	}

	var digests []string
	if all {
		// The list's own parser, so that the filters mean and check what they do there.
		req := &http.Request{URL: &url.URL{RawQuery: filters.Encode() + "&image_type=" + url.QueryEscape(string(typ))}}
		f, _, err := parseImageQuery(req, s.now())
		if err != nil {
			return err
		}
		scope, err := p.Scope(customs.ActionImagesSet, ep)
		if err != nil {
			return err
		}
		if digests, err = s.Scans.FindImageDigests(r.Context(), scope, f); err != nil {
			return fmt.Errorf("select images to scan: %w", err)
		}
	} else {
		sels, err := batchSelectors(typ, items)
		if err != nil {
			return err
		}
		scope, err := p.Scope(customs.ActionImagesSet, ep)
		if err != nil {
			return err
		}
		found, err := s.Scans.SelectDigests(r.Context(), scope, sels)
		if err != nil {
			return fmt.Errorf("select images to scan: %w", err)
		}
		for i, ds := range found {
			if len(ds) == 0 {
				sel := sels[i]
				return invalidParam(fmt.Sprintf("image_info_list[%d]", i), customs.JoinRepository(sel.Namespace, sel.Name)+":"+sel.Tag,
					fmt.Sprintf("an image version of type %s that the image list shows in the enterprise projects you may scan in (namespace, image_name and image_version exactly; instance_id, if given, its registry); nothing was queued", typ))
			}
			digests = append(digests, ds...)
		}
		slices.Sort(digests)
		digests = slices.Compact(digests)
	}
	if len(digests) > 0 {
		if err := s.ScanQueue.QueueScans(r.Context(), digests); err != nil {
			return fmt.Errorf("queue scans of %d images: %w", len(digests), err)
		}
	}
	s.logger().InfoContext(r.Context(), "scans queued", "project_id", p.Project.ID, "image_type", typ, "operate_all", all, "manifests", len(digests))
	writeJSON(w, http.StatusOK, struct{}{})
	return nil
}

// batchSelectors checks the images of a batch scan and returns their selectors.
func batchSelectors(typ customs.ImageType, items []batchScanItem) ([]customs.ImageSelector, error) {
	sels := make([]customs.ImageSelector, len(items))
	for i, it := range items {
		field := func(name string) string { return fmt.Sprintf("image_info_list[%d].%s", i, name) }
		text := func(name string, p *string, min, max int, required bool) (string, error) {
			switch {
			case p == nil && required:
				return "", missingParam(field(name), lengths(min, max))
			case p == nil:
				return "", nil
			}
			return *p, checkLen(field(name), *p, min, max)
		}
		sel := customs.ImageSelector{Type: typ}
		var err error
		if sel.Namespace, err = text("namespace", it.Namespace, 0, maxNamespaceLen, false); err != nil {
			return nil, err
		}
		if sel.Name, err = text("image_name", it.ImageName, 1, maxImageNameLen, true); err != nil {
			return nil, err
		}
		if sel.Tag, err = text("image_version", it.ImageVersion, 1, maxImageVersionLen, true); err != nil {
			return nil, err
		}
		if sel.InstanceID, err = text("instance_id", it.InstanceID, 0, maxInstanceLen, false); err != nil {
			return nil, err
		}
		if _, err = text("instance_url", it.InstanceURL, 0, maxInstanceURL, false); err != nil {
			return nil, err
		}
		sels[i] = sel
	}
	return sels, nil
}
