package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"

	"customs"
)

// Scans are keyed by manifest digest across projects (the same content is
// scanned once), so the writes here are the service's own and take no scope.
// Every write that changes what a list row shows (status, counters) stamps the
// rows of the manifests it touched, and of the indexes holding them, with the
// transaction's change sequence, so the list indexes follow.

// QueueScans marks the stored manifests among digests as waiting for a scan,
// with the image manifests of those that are indexes, unless they are being
// scanned now; with rescan false, only those never scanned. It returns the
// digests of the image manifests it marked (an index is scanned through its
// children), without duplicates; those being scanned now are neither marked
// nor returned. Unscannable manifests (other platforms,
// schema 1, artifacts) are left as they are.
func (db *DB) QueueScans(ctx context.Context, digests []string, rescan bool) ([]string, error) {
	var out []string
	err := db.update(ctx, func(tx *Tx) error {
		ids, err := tx.scannableImages(ctx, digests, rescan)
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		if err := tx.setStatus(ctx, ids, `scan_status = 'waiting_for_scan', scan_failed_desc = '', scan_queued_at = ?`,
			`scan_status <> 'scanning'`, ms(tx.now)); err != nil {
			return err
		}
		out, err = tx.digestsOf(ctx, ids, `scan_status = 'waiting_for_scan'`)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("queue scans: %w", err)
	}
	return out, nil
}

// PendingScans returns the image manifests waiting for a scan or being
// scanned, oldest queued first: after a restart, their jobs are queued again.
func (db *DB) PendingScans(ctx context.Context) ([]string, error) {
	var out []string
	err := db.view(ctx, func(tx *Tx) error {
		return tx.each(ctx, `SELECT digest FROM manifests WHERE kind = 'image' AND scan_status IN ('waiting_for_scan', 'scanning')
			ORDER BY scan_queued_at, digest`, nil, func(r *sql.Rows) error {
			var d string
			err := r.Scan(&d)
			out = append(out, d)
			return err
		})
	})
	if err != nil {
		return nil, fmt.Errorf("find pending scans: %w", err)
	}
	return out, nil
}

// StartScan marks an image manifest as being scanned.
func (db *DB) StartScan(ctx context.Context, digest string) error {
	err := db.update(ctx, func(tx *Tx) error {
		id, err := tx.imageManifestID(ctx, digest)
		if err != nil {
			return err
		}
		return tx.setStatus(ctx, []int64{id}, `scan_status = 'scanning', scan_failed_desc = ''`, "")
	})
	if err != nil {
		return fmt.Errorf("start scan of %s: %w", digest, err)
	}
	return nil
}

// RequeueScan marks an image manifest whose scan failed for a reason that
// may pass as waiting for a scan again (its job is tried again).
func (db *DB) RequeueScan(ctx context.Context, digest string) error {
	err := db.update(ctx, func(tx *Tx) error {
		id, err := tx.imageManifestID(ctx, digest)
		if err != nil {
			return err
		}
		return tx.setStatus(ctx, []int64{id}, `scan_status = 'waiting_for_scan', scan_failed_desc = '', scan_queued_at = ?`, "", ms(tx.now))
	})
	if err != nil {
		return fmt.Errorf("requeue scan of %s: %w", digest, err)
	}
	return nil
}

// FailScan records that the scan of an image manifest failed for reason (a
// customs.Fail* value). What an earlier scan found is kept.
func (db *DB) FailScan(ctx context.Context, digest, reason string) error {
	err := db.update(ctx, func(tx *Tx) error {
		id, err := tx.imageManifestID(ctx, digest)
		if err != nil {
			return err
		}
		return tx.setStatus(ctx, []int64{id}, `scan_status = 'failed', scan_failed_desc = ?, scanned_at = ?`, "", reason, ms(tx.now))
	})
	if err != nil {
		return fmt.Errorf("record failed scan of %s: %w", digest, err)
	}
	return nil
}

// SaveScanResult replaces what is stored of an image manifest's scan with
// res, and sets the status, counters and scan time of every row showing it,
// in one transaction.
func (db *DB) SaveScanResult(ctx context.Context, res *customs.ScanResult) error {
	err := db.update(ctx, func(tx *Tx) error {
		id, err := tx.imageManifestID(ctx, res.Digest)
		if err != nil {
			return err
		}
		for _, table := range []string{"scan_packages", "scan_findings", "scan_malware", "scan_baseline"} {
			if _, err := tx.exec(ctx, `DELETE FROM `+table+` WHERE manifest_id = ?`, id); err != nil {
				return err
			}
		}
		rows := make([][]any, len(res.Packages))
		for i, p := range res.Packages {
			rows[i] = []any{id, p.Ecosystem, p.Key().Name, p.Name, p.Version, p.SourceName, p.SourceVersion, p.OS, p.Path, p.Layer}
		}
		if err := tx.execValues(ctx, `INSERT INTO scan_packages (manifest_id, ecosystem, key_name, name, version, source_name, source_version, os, path, layer)`, "", rows, nil); err != nil {
			return err
		}
		if err := tx.insertFindings(ctx, id, res.Findings); err != nil {
			return err
		}
		rows = rows[:0]
		for _, m := range res.Malware {
			rows = append(rows, []any{id, m.Path, m.Signature, m.Size, m.SHA256, m.Layer, m.Deleted})
		}
		if err := tx.execValues(ctx, `INSERT INTO scan_malware (manifest_id, path, signature, size, sha256, layer, deleted)`, `ON CONFLICT DO NOTHING`, rows, nil); err != nil {
			return err
		}
		rows, results := rows[:0], [][]any(nil)
		for _, b := range res.Baseline {
			rows = append(rows, []any{b.RuleID, b.RuleName, b.CheckName, b.CheckType, b.Standard, b.Severity, b.Description, b.Reference, b.Audit, b.Remediation})
			results = append(results, []any{id, b.RuleID, b.Passed, b.CurrentValue, b.SuggestValue})
		}
		err = tx.execValues(ctx, `INSERT INTO baseline_rules (rule_id, rule_name, check_name, check_type, standard, severity, description, reference, audit, remediation)`,
			`ON CONFLICT (rule_id) DO UPDATE SET rule_name = excluded.rule_name, check_name = excluded.check_name, check_type = excluded.check_type,
			standard = excluded.standard, severity = excluded.severity, description = excluded.description, reference = excluded.reference,
			audit = excluded.audit, remediation = excluded.remediation`, rows, nil)
		if err != nil {
			return err
		}
		if err := tx.execValues(ctx, `INSERT INTO scan_baseline (manifest_id, rule_id, passed, current_value, suggest_value)`, `ON CONFLICT DO NOTHING`, results, nil); err != nil {
			return err
		}
		analyzers, err := json.Marshal(analyzerStatuses(res.Analyzers))
		if err != nil {
			return err
		}
		_, err = tx.exec(ctx, `UPDATE manifests SET scan_os = ?, scan_analyzers = ? WHERE id = ?`, res.OS, string(analyzers), id)
		if err != nil {
			return err
		}
		return tx.setStatus(ctx, []int64{id}, `scan_status = 'success', scan_failed_desc = '', scanned_at = ?`, "", ms(res.ScannedAt))
	})
	if err != nil {
		return fmt.Errorf("save scan of %s: %w", res.Digest, err)
	}
	return nil
}

type analyzerStatus struct {
	Name   string `json:"name"`
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
}

func analyzerStatuses(as []customs.AnalyzerStatus) []analyzerStatus {
	out := make([]analyzerStatus, len(as))
	for i, a := range as {
		out[i] = analyzerStatus(a)
	}
	return out
}

// insertFindings stores findings, one row per (advisory, package occurrence).
func (tx *Tx) insertFindings(ctx context.Context, id int64, findings []customs.Finding) error {
	rows, err := appendFindingRows(make([][]any, 0, len(findings)), id, findings)
	if err != nil {
		return err
	}
	return tx.insertFindingRows(ctx, rows)
}

// appendFindingRows appends the scan_findings rows of an image manifest's
// findings to rows.
func appendFindingRows(rows [][]any, id int64, findings []customs.Finding) ([][]any, error) {
	for _, f := range findings {
		aliases, err := json.Marshal(nonNil(f.Aliases))
		if err != nil {
			return nil, err
		}
		p := f.Package
		rows = append(rows, []any{id, f.VulnID, string(aliases), f.Severity, f.RepairNecessity(), f.Summary, f.FixedVersion, f.URL,
			p.Ecosystem, p.Name, p.Version, p.SourceName, p.SourceVersion, p.OS, p.Path, p.Layer})
	}
	return rows, nil
}

// insertFindingRows stores rows made by appendFindingRows; of rows with the
// same key, the first is kept.
func (tx *Tx) insertFindingRows(ctx context.Context, rows [][]any) error {
	return tx.execValues(ctx, `INSERT INTO scan_findings (manifest_id, vul_id, aliases, severity, repair, summary, fixed_version, url,
		ecosystem, name, version, source_name, source_version, os, path, layer)`,
		`ON CONFLICT DO NOTHING`, rows, nil)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// imageManifestID is the row id of a stored image manifest.
func (tx *Tx) imageManifestID(ctx context.Context, digest string) (int64, error) {
	var id int64
	var kind string
	err := tx.queryRow(ctx, `SELECT id, kind FROM manifests WHERE digest = ?`, digest).Scan(&id, &kind)
	switch {
	case err == sql.ErrNoRows:
		return 0, customs.Errorf(customs.ENOTFOUND, "No manifest %s is stored.", digest)
	case err != nil:
		return 0, err
	case customs.ManifestKind(kind) != customs.KindImage:
		return 0, customs.Errorf(customs.EINVALID, "Manifest %s is a %s, not an image: only image manifests are scanned.", digest, kind)
	}
	return id, nil
}

// scannableImages returns the ids of the scannable image manifests among
// digests and among the children of the indexes among them; with rescan
// false, only those never scanned.
func (tx *Tx) scannableImages(ctx context.Context, digests []string, rescan bool) ([]int64, error) {
	cond, childCond := ``, ``
	if !rescan {
		cond, childCond = ` AND scan_status = 'unscan'`, ` AND c.scan_status = 'unscan'`
	}
	var ids []int64
	for chunk := range slices.Chunk(digests, 500) {
		args := anys(chunk)
		err := tx.each(ctx, `SELECT id FROM manifests WHERE digest IN (`+placeholders(len(chunk))+`) AND kind = 'image' AND scannable`+cond+`
			UNION SELECT c.id FROM manifests p JOIN manifest_children l ON l.parent_id = p.id JOIN manifests c ON c.digest = l.child_digest
			WHERE p.digest IN (`+placeholders(len(chunk))+`) AND c.kind = 'image' AND c.scannable`+childCond, append(args, args...), func(r *sql.Rows) error {
			var id int64
			err := r.Scan(&id)
			ids = append(ids, id)
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids), nil
}

// digestsOf returns the digests of the manifests ids that meet cond (SQL).
func (tx *Tx) digestsOf(ctx context.Context, ids []int64, cond string) ([]string, error) {
	var out []string
	for chunk := range slices.Chunk(ids, 500) {
		err := tx.each(ctx, `SELECT digest FROM manifests WHERE id IN (`+placeholders(len(chunk))+`) AND `+cond+` ORDER BY digest`, anys(chunk), func(r *sql.Rows) error {
			var d string
			err := r.Scan(&d)
			out = append(out, d)
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// setStatus updates the scan columns of image manifests (set, with args,
// where the extra condition cond holds), recomputes the indexes holding them
// and stamps every row showing any of them.
func (tx *Tx) setStatus(ctx context.Context, ids []int64, set, cond string, args ...any) error {
	where := ``
	if cond != "" {
		where = ` AND ` + cond
	}
	for chunk := range slices.Chunk(ids, 400) {
		q := `UPDATE manifests SET ` + set + ` WHERE id IN (` + placeholders(len(chunk)) + `)` + where
		if _, err := tx.exec(ctx, q, append(slices.Clone(args), anys(chunk)...)...); err != nil {
			return err
		}
	}
	return tx.summariseChildren(ctx, ids)
}

// summariseChildren recounts image manifests' findings into their summary
// columns, recomputes the indexes holding them (spec §1.2: the counts are the
// distinct union over the children; scanning while any child scans, failed
// only if every child failed), and stamps every image row of all of them.
func (tx *Tx) summariseChildren(ctx context.Context, ids []int64) error {
	seq, err := tx.nextSeq(ctx)
	if err != nil {
		return err
	}
	touched := slices.Clone(ids)
	for chunk := range slices.Chunk(ids, 400) {
		args := anys(chunk)
		_, err := tx.exec(ctx, `UPDATE manifests SET
			vul_num = (SELECT count(*) FROM scan_findings f WHERE f.manifest_id = manifests.id),
			malicious_file_num = (SELECT count(*) FROM (SELECT DISTINCT path, sha256 FROM scan_malware w WHERE w.manifest_id = manifests.id)),
			unsafe_setting_num = (SELECT count(*) FROM scan_baseline b WHERE b.manifest_id = manifests.id AND NOT b.passed)
			WHERE id IN (`+placeholders(len(chunk))+`)`, args...)
		if err != nil {
			return err
		}
		var parents []int64
		err = tx.each(ctx, `SELECT DISTINCT l.parent_id FROM manifest_children l JOIN manifests c ON c.digest = l.child_digest
			WHERE c.id IN (`+placeholders(len(chunk))+`)`, args, func(r *sql.Rows) error {
			var id int64
			err := r.Scan(&id)
			parents = append(parents, id)
			return err
		})
		if err != nil {
			return err
		}
		for _, p := range parents {
			if err := tx.summariseIndex(ctx, p); err != nil {
				return err
			}
		}
		touched = append(touched, parents...)
	}
	slices.Sort(touched)
	for chunk := range slices.Chunk(slices.Compact(touched), 400) {
		if _, err := tx.exec(ctx, `UPDATE images SET seq = ? WHERE manifest_id IN (`+placeholders(len(chunk))+`)`, append([]any{seq}, anys(chunk)...)...); err != nil {
			return err
		}
	}
	return nil
}

// summariseIndex recomputes an index's summary columns from its scannable
// children.
func (tx *Tx) summariseIndex(ctx context.Context, id int64) error {
	counts := map[customs.ScanStatus]int{}
	var n int
	var failedDesc string
	var scannedAt int64
	err := tx.each(ctx, `SELECT c.scan_status, c.scan_failed_desc, c.scanned_at FROM manifest_children l JOIN manifests c ON c.digest = l.child_digest
		WHERE l.parent_id = ? AND c.kind = 'image' AND c.scannable ORDER BY c.digest`, []any{id}, func(r *sql.Rows) error {
		var st customs.ScanStatus
		var desc string
		var at int64
		if err := r.Scan(&st, &desc, &at); err != nil {
			return err
		}
		n++
		counts[st]++
		if st == customs.ScanFailed && failedDesc == "" {
			failedDesc = desc
		}
		scannedAt = max(scannedAt, at)
		return nil
	})
	if err != nil {
		return err
	}
	status := customs.ScanSuccess
	switch {
	case n == 0 || counts[customs.ScanUnscan] == n:
		status = customs.ScanUnscan
	case counts[customs.ScanScanning] > 0:
		status = customs.ScanScanning
	case counts[customs.ScanWaiting] > 0:
		status = customs.ScanWaiting
	case counts[customs.ScanFailed]+counts[customs.ScanUnscan] == n:
		status = customs.ScanFailed
	}
	if status != customs.ScanFailed {
		failedDesc = ""
	}
	children := `SELECT c.id FROM manifest_children l JOIN manifests c ON c.digest = l.child_digest WHERE l.parent_id = ?1`
	_, err = tx.exec(ctx, `UPDATE manifests SET scan_status = ?2, scan_failed_desc = ?3, scanned_at = ?4,
		vul_num = (SELECT count(*) FROM (SELECT DISTINCT vul_id, name, version, path FROM scan_findings WHERE manifest_id IN (`+children+`))),
		malicious_file_num = (SELECT count(*) FROM (SELECT DISTINCT path, sha256 FROM scan_malware WHERE manifest_id IN (`+children+`))),
		unsafe_setting_num = (SELECT count(DISTINCT rule_id) FROM scan_baseline WHERE NOT passed AND manifest_id IN (`+children+`))
		WHERE id = ?1`, id, status, failedDesc, scannedAt)
	return err
}

func anys[T any](s []T) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// ScanTargets returns where a manifest digest can be pulled from: the
// registries and repositories of the rows that show it, directly or through
// an index, shared rows last (they are pulled with the owner's registry).
func (db *DB) ScanTargets(ctx context.Context, digest string) ([]customs.ScanTarget, error) {
	var out []customs.ScanTarget
	err := db.view(ctx, func(tx *Tx) error {
		return tx.each(ctx, `SELECT DISTINCT r.project_id, i.registry_id, i.namespace, i.name, i.image_type = 'shared_image'
			FROM manifests m JOIN images i ON i.manifest_id = m.id OR i.manifest_id IN (SELECT parent_id FROM manifest_children WHERE child_digest = m.digest)
			JOIN registries r ON r.id = i.registry_id
			WHERE m.digest = ? ORDER BY 5, 1, 2, 3, 4 LIMIT 20`, []any{digest}, func(r *sql.Rows) error {
			var t customs.ScanTarget
			var ns, name string
			var shared bool
			if err := r.Scan(&t.ProjectID, &t.RegistryID, &ns, &name, &shared); err != nil {
				return err
			}
			t.Repository = customs.JoinRepository(ns, name)
			out = append(out, t)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("find scan targets of %s: %w", digest, err)
	}
	return out, nil
}

// FindImageDigests returns the distinct manifest digests of the images in
// scope that f selects (f's paging is ignored), for queueing scans.
func (db *DB) FindImageDigests(ctx context.Context, scope customs.Scope, f customs.ImageFilter) ([]string, error) {
	var out []string
	for offset := 0; ; offset += maxPage {
		f.Offset, f.Limit = offset, maxPage
		imgs, total, err := db.FindImages(ctx, scope, f)
		if err != nil {
			return nil, err
		}
		for _, img := range imgs {
			if img.Type == customs.SharedImage && img.SharedStatus != customs.ShareEffective {
				continue // its share expired: not to be scanned
			}
			out = append(out, img.Digest)
		}
		if offset+maxPage >= total {
			break
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// selected returns the ids of the image manifests the selector's rows show
// (an index's scannable children in its place), in scope.
func (tx *Tx) selected(ctx context.Context, scope customs.Scope, sel customs.ImageSelector) ([]int64, error) {
	if err := scope.Validate(); err != nil {
		return nil, err
	}
	where, args := scopeWhere(scope, "i.")
	where += ` AND i.image_type = ?`
	args = append(args, sel.Type)
	if sel.Namespace != "" || sel.ExactNamespace {
		where += ` AND i.namespace = ?`
		args = append(args, sel.Namespace)
	}
	for _, c := range []struct {
		column, value string
	}{{"i.name", sel.Name}, {"i.tag", sel.Tag}} {
		if c.value != "" {
			where += ` AND ` + c.column + ` = ?`
			args = append(args, c.value)
		}
	}
	if sel.InstanceID != "" {
		where += ` AND i.registry_id = ?`
		args = append(args, sel.InstanceID)
	}
	if sel.ImageID != "" {
		where += ` AND (m.config_digest = ? OR m.config_digest = ?)`
		args = append(args, sel.ImageID, "sha256:"+sel.ImageID)
	}
	var ids []int64
	err := tx.each(ctx, `SELECT m.id FROM images i JOIN manifests m ON m.id = i.manifest_id WHERE `+where+` AND m.kind = 'image'
		UNION SELECT c.id FROM images i JOIN manifests m ON m.id = i.manifest_id JOIN manifest_children l ON l.parent_id = m.id
		JOIN manifests c ON c.digest = l.child_digest WHERE `+where+` AND m.kind = 'index' AND c.kind = 'image'`, append(slices.Clone(args), args...), func(r *sql.Rows) error {
		var id int64
		err := r.Scan(&id)
		ids = append(ids, id)
		return err
	})
	return ids, err
}

// page counts the rows of query, then calls fn for those of one page in
// order (a detail query's total and page, in one snapshot).
func (tx *Tx) page(ctx context.Context, query string, args []any, order string, pageLimit, offset int, fn func(*sql.Rows) error) (int, error) {
	var total int
	if err := tx.queryRow(ctx, `SELECT count(*) FROM (`+query+`)`, args...).Scan(&total); err != nil {
		return 0, err
	}
	return total, tx.each(ctx, `SELECT * FROM (`+query+`) ORDER BY `+order+` LIMIT ? OFFSET ?`, append(slices.Clip(args), limit(pageLimit), offset), fn)
}

// mostUrgent selects, over a group of findings rows (of one advisory and
// package on several platforms, which may have been matched at different
// times), the most urgent severity and repair necessity.
const mostUrgent = `CASE min(CASE severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 WHEN 'low' THEN 3 ELSE 4 END)
		WHEN 0 THEN 'critical' WHEN 1 THEN 'high' WHEN 2 THEN 'medium' WHEN 3 THEN 'low' ELSE 'unknown' END AS severity,
	CASE min(CASE repair WHEN 'immediate_repair' THEN 0 WHEN 'delay_repair' THEN 1 ELSE 2 END)
		WHEN 0 THEN 'immediate_repair' WHEN 1 THEN 'delay_repair' ELSE 'not_needed_repair' END AS repair`

// FindVulnerabilities returns a page of the distinct findings of the images
// sel picks, most urgent first, and how many there are.
func (db *DB) FindVulnerabilities(ctx context.Context, scope customs.Scope, sel customs.ImageSelector, f customs.VulnerabilityFilter) ([]customs.Finding, int, error) {
	var out []customs.Finding
	var total int
	err := db.view(ctx, func(tx *Tx) error {
		ids, err := tx.selected(ctx, scope, sel)
		if err != nil || len(ids) == 0 {
			return err
		}
		where := `manifest_id IN (` + placeholders(len(ids)) + `)`
		args := anys(ids)
		if f.RepairNecessity != "" {
			where += ` AND repair = ?`
			args = append(args, f.RepairNecessity)
		}
		if f.VulID != "" {
			where += ` AND instr(vul_id, ?) > 0`
			args = append(args, f.VulID)
		}
		if f.AppName != "" {
			where += ` AND name = ?`
			args = append(args, f.AppName)
		}
		switch f.Type {
		case customs.VulLinux:
			where += ` AND os`
		case customs.VulApp:
			where += ` AND NOT os`
		}
		group := `SELECT vul_id, name, version, path, min(layer) AS layer, max(aliases) AS aliases, ` + mostUrgent + `,
			max(summary) AS summary, max(fixed_version) AS fixed_version, max(url) AS url, max(ecosystem) AS ecosystem,
			max(source_name) AS source_name, max(source_version) AS source_version, max(os) AS os
			FROM scan_findings WHERE ` + where + ` GROUP BY vul_id, name, version, path`
		total, err = tx.page(ctx, group, args, `CASE repair WHEN 'immediate_repair' THEN 0 WHEN 'delay_repair' THEN 1 ELSE 2 END,
			vul_id, name, version, path`, f.Limit, f.Offset, func(r *sql.Rows) error {
			var x customs.Finding
			var aliases, repair string
			p := &x.Package
			if err := r.Scan(&x.VulnID, &p.Name, &p.Version, &p.Path, &p.Layer, &aliases, &x.Severity, &repair, &x.Summary, &x.FixedVersion, &x.URL, &p.Ecosystem,
				&p.SourceName, &p.SourceVersion, &p.OS); err != nil {
				return err
			}
			if err := json.Unmarshal([]byte(aliases), &x.Aliases); err != nil {
				return err
			}
			out = append(out, x)
			return nil
		})
		return err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("find vulnerabilities: %w", err)
	}
	return out, total, nil
}

// limit turns a page size of 0 (none given) into no limit.
func limit(n int) int {
	if n <= 0 {
		return -1
	}
	return n
}

// FindMalware returns a page of the distinct malicious files of the images
// sel picks, by path, and how many there are.
func (db *DB) FindMalware(ctx context.Context, scope customs.Scope, sel customs.ImageSelector, f customs.MalwareFilter) ([]customs.MaliciousFile, int, error) {
	var out []customs.MaliciousFile
	var total int
	err := db.view(ctx, func(tx *Tx) error {
		ids, err := tx.selected(ctx, scope, sel)
		if err != nil || len(ids) == 0 {
			return err
		}
		where := `manifest_id IN (` + placeholders(len(ids)) + `)`
		args := anys(ids)
		if f.FileName != "" {
			// The base name: what follows the last "/".
			where += ` AND instr(replace(path, rtrim(path, replace(path, '/', '')), ''), ?) > 0`
			args = append(args, f.FileName)
		}
		// One file is one path with one content, in whichever layers or
		// platforms it appears: the first layer that added it, deleted only
		// if deleted everywhere.
		group := `SELECT path, min(layer) AS layer, sha256, max(signature) AS signature, max(size) AS size, min(deleted) AS deleted
			FROM scan_malware WHERE ` + where + ` GROUP BY path, sha256`
		total, err = tx.page(ctx, group, args, `path, layer`, f.Limit, f.Offset, func(r *sql.Rows) error {
			var m customs.MaliciousFile
			if err := r.Scan(&m.Path, &m.Layer, &m.SHA256, &m.Signature, &m.Size, &m.Deleted); err != nil {
				return err
			}
			out = append(out, m)
			return nil
		})
		return err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("find malware: %w", err)
	}
	return out, total, nil
}

// baselineWhere is the filter of baseline results (b) joined with their rules (r).
func baselineWhere(ids []int64, f customs.BaselineFilter) (string, []any) {
	where := `b.manifest_id IN (` + placeholders(len(ids)) + `)`
	args := anys(ids)
	for _, c := range []struct{ column, value string }{
		{"r.check_name", f.CheckName}, {"r.check_type", f.CheckType}, {"r.standard", f.Standard},
		{"r.severity", f.Severity}, {"r.rule_id", f.RuleID},
	} {
		if c.value != "" {
			where += ` AND ` + c.column + ` = ?`
			args = append(args, c.value)
		}
	}
	if f.RuleName != "" {
		where += ` AND instr(r.rule_name, ?) > 0`
		args = append(args, f.RuleName)
	}
	return where, args
}

// severityRank orders severities, most severe first.
const severityRank = `CASE %s WHEN 'High' THEN 0 WHEN 'Medium' THEN 1 WHEN 'Low' THEN 2 ELSE 3 END`

// FindBaselineChecks returns a page of the groups of baseline rules checked
// on the images sel picks, with how many rules each has and how many failed.
func (db *DB) FindBaselineChecks(ctx context.Context, scope customs.Scope, sel customs.ImageSelector, f customs.BaselineFilter) ([]customs.BaselineCheck, int, error) {
	var out []customs.BaselineCheck
	var total int
	err := db.view(ctx, func(tx *Tx) error {
		ids, err := tx.selected(ctx, scope, sel)
		if err != nil || len(ids) == 0 {
			return err
		}
		severity := f.Severity // a group's severity is computed: filtered after grouping
		f.Severity = ""
		where, args := baselineWhere(ids, f)
		rank := fmt.Sprintf(severityRank, "r.severity")
		group := `SELECT r.check_name, r.check_type, r.standard, count(DISTINCT r.rule_id) AS rules,
			count(DISTINCT CASE WHEN NOT b.passed THEN r.rule_id END) AS failed,
			coalesce(min(CASE WHEN NOT b.passed THEN ` + rank + ` END), min(` + rank + `)) AS rank
			FROM scan_baseline b JOIN baseline_rules r ON r.rule_id = b.rule_id WHERE ` + where + `
			GROUP BY r.check_name, r.check_type, r.standard`
		outer := `SELECT check_name, check_type, standard, rules, failed, CASE rank WHEN 0 THEN 'High' WHEN 1 THEN 'Medium' WHEN 2 THEN 'Low' ELSE 'Security' END AS severity
			FROM (` + group + `)`
		filtered := `SELECT * FROM (` + outer + `)`
		if severity != "" {
			filtered += ` WHERE severity = ?`
			args = append(args, severity)
		}
		total, err = tx.page(ctx, filtered, args, `failed DESC, check_name, check_type, standard`, f.Limit, f.Offset, func(r *sql.Rows) error {
			var c customs.BaselineCheck
			if err := r.Scan(&c.CheckName, &c.CheckType, &c.Standard, &c.RuleNum, &c.FailedNum, &c.Severity); err != nil {
				return err
			}
			out = append(out, c)
			return nil
		})
		return err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("find baseline checks: %w", err)
	}
	return out, total, nil
}

// FindBaselineResults returns a page of the baseline rules checked on the
// images sel picks, failed first; a rule fails when it failed on any of them.
func (db *DB) FindBaselineResults(ctx context.Context, scope customs.Scope, sel customs.ImageSelector, f customs.BaselineFilter) ([]customs.BaselineResult, int, error) {
	var out []customs.BaselineResult
	var total int
	err := db.view(ctx, func(tx *Tx) error {
		ids, err := tx.selected(ctx, scope, sel)
		if err != nil || len(ids) == 0 {
			return err
		}
		where, args := baselineWhere(ids, f)
		group := `SELECT r.rule_id, r.rule_name, r.check_name, r.check_type, r.standard, r.severity, r.description, r.reference, r.audit, r.remediation,
			min(b.passed) AS passed,
			coalesce(group_concat(CASE WHEN NOT b.passed THEN b.current_value END, '; '), max(b.current_value)) AS current_value,
			max(b.suggest_value) AS suggest_value
			FROM scan_baseline b JOIN baseline_rules r ON r.rule_id = b.rule_id WHERE ` + where + ` GROUP BY r.rule_id`
		switch f.Result {
		case "pass":
			group = `SELECT * FROM (` + group + `) WHERE passed`
		case "failed":
			group = `SELECT * FROM (` + group + `) WHERE NOT passed`
		}
		rank := fmt.Sprintf(severityRank, "severity")
		total, err = tx.page(ctx, group, args, `passed, `+rank+`, rule_id`, f.Limit, f.Offset, func(r *sql.Rows) error {
			var b customs.BaselineResult
			if err := r.Scan(&b.RuleID, &b.RuleName, &b.CheckName, &b.CheckType, &b.Standard, &b.Severity, &b.Description, &b.Reference, &b.Audit, &b.Remediation,
				&b.Passed, &b.CurrentValue, &b.SuggestValue); err != nil {
				return err
			}
			out = append(out, b)
			return nil
		})
		return err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("find baseline results: %w", err)
	}
	return out, total, nil
}

// SelectDigests returns, for each selector of sels, the distinct manifest
// digests (an index's own, not its children's) of the rows in scope of the
// selector's Type whose Namespace, Name and Tag equal the selector's, the
// empty namespace of a single-segment repository included, and whose
// registry is InstanceID when it is given. A selector that picks no row has
// no digests. It resolves the image list of a batch scan.
func (db *DB) SelectDigests(ctx context.Context, scope customs.Scope, sels []customs.ImageSelector) ([][]string, error) {
	out := make([][]string, len(sels))
	err := db.view(ctx, func(tx *Tx) error {
		if err := scope.Validate(); err != nil {
			return err
		}
		where, args := scopeWhere(scope, "i.")
		for n, sel := range sels {
			// A shared image whose share expired is not to be scanned.
			q := `SELECT DISTINCT m.digest FROM images i JOIN manifests m ON m.id = i.manifest_id LEFT JOIN shares s ON s.id = i.share_id
				WHERE ` + where + ` AND i.image_type = ? AND i.namespace = ? AND i.name = ? AND i.tag = ?
				AND (i.image_type <> 'shared_image' OR s.deadline = 0 OR s.deadline > ?)`
			a := append(slices.Clone(args), sel.Type, sel.Namespace, sel.Name, sel.Tag, ms(tx.now))
			if sel.InstanceID != "" {
				q += ` AND i.registry_id = ?`
				a = append(a, sel.InstanceID)
			}
			err := tx.each(ctx, q+` ORDER BY m.digest`, a, func(r *sql.Rows) error {
				var d string
				err := r.Scan(&d)
				out[n] = append(out[n], d)
				return err
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("select digests of %d images: %w", len(sels), err)
	}
	return out, nil
}
