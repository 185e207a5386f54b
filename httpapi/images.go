package httpapi

import (
	"fmt"
	"net/http"
	"time"

	"customs"
)

// Limits of the image list's parameters (spec §1.1).
const (
	maxNamespaceLen    = 256
	maxImageNameLen    = 128
	maxImageVersionLen = 64
	maxInstanceLen     = 128
	maxImageSize       = 2_147_483_547
)

// imageList is the body of ListSwrImageRepository (spec §1.2).
type imageList struct {
	TotalNum int           `json:"total_num"`
	DataList []imageRecord `json:"data_list"`
}

// imageRecord is one image version. Every field is always emitted.
type imageRecord struct {
	ID               int64  `json:"id"`
	Namespace        string `json:"namespace"`
	ImageName        string `json:"image_name"`
	ImageID          string `json:"image_id"`
	ImageDigest      string `json:"image_digest"`
	ImageVersion     string `json:"image_version"`
	ImageType        string `json:"image_type"`
	LatestVersion    bool   `json:"latest_version"`
	ScanStatus       string `json:"scan_status"`
	ScanFailedDesc   string `json:"scan_failed_desc"`
	ImageSize        int64  `json:"image_size"`
	LatestUpdateTime int64  `json:"latest_update_time"`
	LatestScanTime   int64  `json:"latest_scan_time"`
	VulNum           int    `json:"vul_num"`
	UnsafeSettingNum int    `json:"unsafe_setting_num"`
	MaliciousFileNum int    `json:"malicious_file_num"`
	DomainName       string `json:"domain_name"`
	SharedStatus     string `json:"shared_status"`
	Scannable        bool   `json:"scannable"`
	// Scanable is the name SDKs before 0.1.64 read.
	Scanable          bool              `json:"scanable"`
	InstanceName      string            `json:"instance_name"`
	InstanceID        string            `json:"instance_id"`
	InstanceURL       string            `json:"instance_url"`
	AssociationImages []associatedImage `json:"association_images"`
}

// associatedImage is one platform manifest of a multi-arch tag.
type associatedImage struct {
	ImageName    string `json:"image_name"`
	ImageVersion string `json:"image_version"`
	ImageType    string `json:"image_type"`
	Namespace    string `json:"namespace"`
	ImageDigest  string `json:"image_digest"`
	ScanStatus   string `json:"scan_status"`
}

func toImageRecord(img *customs.Image) imageRecord {
	rec := imageRecord{
		ID:                img.ID,
		Namespace:         img.Namespace,
		ImageName:         img.Name,
		ImageID:           img.ImageID,
		ImageDigest:       img.Digest,
		ImageVersion:      img.Tag,
		ImageType:         string(img.Type),
		LatestVersion:     img.Latest,
		ScanStatus:        string(img.ScanStatus),
		ScanFailedDesc:    img.ScanFailedDesc,
		ImageSize:         img.Size,
		LatestUpdateTime:  customs.UnixMilli(img.UpdatedAt),
		LatestScanTime:    customs.UnixMilli(img.ScannedAt),
		VulNum:            img.VulNum,
		UnsafeSettingNum:  img.UnsafeSettingNum,
		MaliciousFileNum:  img.MaliciousFileNum,
		DomainName:        img.DomainName,
		SharedStatus:      img.SharedStatus,
		Scannable:         img.Scannable,
		Scanable:          img.Scannable,
		InstanceName:      img.InstanceName,
		InstanceID:        img.InstanceID,
		InstanceURL:       img.InstanceURL,
		AssociationImages: make([]associatedImage, len(img.Children)),
	}
	for i, c := range img.Children {
		rec.AssociationImages[i] = associatedImage{
			ImageName:    img.Name,
			ImageVersion: img.Tag,
			ImageType:    string(img.Type),
			Namespace:    img.Namespace,
			ImageDigest:  c.Digest,
			ScanStatus:   string(c.ScanStatus),
		}
	}
	return rec
}

// listImages is ListSwrImageRepository (spec §1).
func (s *Server) listImages(w http.ResponseWriter, r *http.Request, p *customs.Principal) error {
	f, ep, err := parseImageQuery(r, s.now())
	if err != nil {
		return err
	}
	scope, err := p.Scope(customs.ActionImagesList, ep)
	if err != nil {
		return err
	}
	out := imageList{DataList: []imageRecord{}}
	if f.Type == customs.LocalImage {
		// Local images come from host agents; none report yet.
		writeJSON(w, http.StatusOK, out)
		return nil
	}
	imgs, total, err := s.Images.FindImages(r.Context(), scope, f)
	if err != nil {
		return fmt.Errorf("list images of project %q: %w", scope.ProjectID, err)
	}
	out.TotalNum = total
	for _, img := range imgs {
		out.DataList = append(out.DataList, toImageRecord(img))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// parseImageQuery converts the query of ListSwrImageRepository into a
// filter and the enterprise project asked for, validating every parameter
// (spec §1.1). now closes a time range given only its start.
func parseImageQuery(r *http.Request, now time.Time) (customs.ImageFilter, string, error) {
	q, err := parseQuery(r)
	if err != nil {
		return customs.ImageFilter{}, "", err
	}
	var f customs.ImageFilter
	ep := q.enterpriseProject()
	f.Type = enum(q, "image_type", customs.ImageTypes, true)
	f.Namespace = q.str("namespace", 1, maxNamespaceLen)
	f.Name = q.str("image_name", 1, maxImageNameLen)
	f.Tag = q.str("image_version", 1, maxImageVersionLen)
	f.InstanceName = q.str("instance_name", 0, maxInstanceLen)
	f.InstanceID = q.str("instance_id", 0, maxInstanceLen)
	if latest := q.bool("latest_version"); latest != nil {
		f.LatestOnly = *latest
	}
	f.ScanStatus = enum(q, "scan_status", customs.ScanStatuses, false)
	f.MinSize = q.int("image_size", 0, maxImageSize, 0)
	f.UpdatedAt = q.timeRange("start_latest_update_time", "end_latest_update_time", now)
	f.ScannedAt = q.timeRange("start_latest_scan_time", "end_latest_scan_time", now)
	f.HasMaliciousFile = q.bool("has_malicious_file")
	f.HasUnsafeSetting = q.bool("has_unsafe_setting")
	f.HasVul = q.bool("has_vul")
	f.Offset, f.Limit = q.page()
	if q.err != nil {
		return customs.ImageFilter{}, "", q.err
	}
	return f, ep, nil
}

// timeRange reads a range of epoch milliseconds (spec §1.1 Decisions): only a
// start runs to now, only an end runs from the epoch, a start after the end
// is an error.
func (q *query) timeRange(startName, endName string, now time.Time) customs.TimeRange {
	start, hasStart := q.optInt(startName, 0, maxTimeMS)
	end, hasEnd := q.optInt(endName, 0, maxTimeMS)
	switch {
	case q.err != nil || (!hasStart && !hasEnd):
		return customs.TimeRange{}
	case hasStart && hasEnd && start > end:
		q.err = customs.Errorf(customs.EINVALID, "Invalid parameter %s: %d is after %s %d; allowed: a time no later than %s.",
			startName, start, endName, end, endName)
		return customs.TimeRange{}
	}
	// time.UnixMilli(0) is the epoch, not the zero time: a bound of 0 still bounds.
	tr := customs.TimeRange{From: time.UnixMilli(0).UTC(), To: now}
	if hasStart {
		tr.From = time.UnixMilli(start).UTC()
	}
	if hasEnd {
		tr.To = time.UnixMilli(end).UTC()
	}
	return tr
}
