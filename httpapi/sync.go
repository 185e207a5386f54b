package httpapi

import (
	"fmt"
	"net/http"
	"slices"

	"customs"
)

// syncImageTypes are the image types RunImageSynchronize accepts.
var syncImageTypes = []customs.ImageType{customs.PrivateImage, customs.SharedImage, customs.InstanceImage}

// runSync is RunImageSynchronize: POST /v5/{project_id}/image/synchronize
// (spec §2). It answers success whether it started a run or one was already
// running.
func (s *Server) runSync(w http.ResponseWriter, r *http.Request, p *customs.Principal) error {
	ep, err := queryEnterpriseProject(r)
	if err != nil {
		return err
	}
	var b struct {
		ImageType *string `json:"image_type"`
	}
	if err := decodeBody(w, r, &b); err != nil {
		return err
	}
	if b.ImageType == nil {
		return missingParam("image_type", oneOf(syncImageTypes))
	}
	if !slices.Contains(syncImageTypes, customs.ImageType(*b.ImageType)) {
		return invalidParam("image_type", *b.ImageType, oneOf(syncImageTypes))
	}
	scope, err := p.Scope(customs.ActionImagesSet, ep)
	if err != nil {
		return err
	}
	req := customs.SyncRequest{Trigger: customs.TriggerManual, ImageType: customs.ImageType(*b.ImageType)}
	if _, _, err := s.Sync.StartSync(r.Context(), scope, req); err != nil {
		return fmt.Errorf("start synchronization of %s: %w", req.ImageType, err)
	}
	writeJSON(w, http.StatusOK, struct {
		ErrorCode        int    `json:"error_code"`
		ErrorDescription string `json:"error_description"`
	}{0, "success"})
	return nil
}

// createSyncTask is CreateImageSynchronizeTask:
// POST /v5/{project_id}/image/image-sync/tasks.
func (s *Server) createSyncTask(w http.ResponseWriter, r *http.Request, p *customs.Principal) error {
	ep, err := queryEnterpriseProject(r)
	if err != nil {
		return err
	}
	var b struct {
		SyncAllRegistries *bool `json:"sync_all_registries"`
		RegistryInfo      []struct {
			RegistryID   *string `json:"registry_id"`
			RegistryType *string `json:"registry_type"`
		} `json:"registry_info"`
	}
	if err := decodeBody(w, r, &b); err != nil {
		return err
	}
	if b.SyncAllRegistries == nil {
		return missingParam("sync_all_registries", "true (every registry) or false (the registries in registry_info)")
	}
	req := customs.SyncRequest{Trigger: customs.TriggerManual, All: *b.SyncAllRegistries}
	if !req.All {
		if len(b.RegistryInfo) == 0 {
			return missingParam("registry_info", "a non-empty list of {registry_id, registry_type} when sync_all_registries is false")
		}
		types := append(slices.Clone(customs.RegistryTypes), swrShared)
		for i, ri := range b.RegistryInfo {
			name := fmt.Sprintf("registry_info[%d].registry_id", i)
			if ri.RegistryID == nil {
				return missingParam(name, lengths(1, maxRegistryIDLen))
			}
			if err := checkLen(name, *ri.RegistryID, 1, maxRegistryIDLen); err != nil {
				return err
			}
			if ri.RegistryType != nil && !slices.Contains(types, customs.RegistryType(*ri.RegistryType)) {
				return invalidParam(fmt.Sprintf("registry_info[%d].registry_type", i), *ri.RegistryType, oneOf(types))
			}
			if !slices.Contains(req.RegistryIDs, *ri.RegistryID) {
				req.RegistryIDs = append(req.RegistryIDs, *ri.RegistryID)
			}
		}
	}
	scope, err := p.Scope(customs.ActionImagesSet, ep)
	if err != nil {
		return err
	}
	task, _, err := s.Sync.StartSync(r.Context(), scope, req)
	if err != nil {
		return fmt.Errorf("start synchronization task: %w", err)
	}
	writeJSON(w, http.StatusOK, struct {
		TaskID string `json:"task_id"`
	}{task.ID})
	return nil
}

// queryEnterpriseProject is the enterprise_project_id of a request that
// takes no other query parameter.
func queryEnterpriseProject(r *http.Request) (string, error) {
	q, err := parseQuery(r)
	if err != nil {
		return "", err
	}
	ep := q.enterpriseProject()
	return ep, q.err
}

// Task list parameters (HSS ListImageScanTask).
var (
	taskKinds    = []string{"image_sync", "image_scan"}
	taskTypes    = []string{customs.TriggerManual, customs.TriggerAuto, "cycle", "manual"}
	taskStatuses = []string{"scanning", "finished"}
)

const maxTaskFieldLen = 256

type taskList struct {
	TotalNum int          `json:"total_num"`
	DataList []taskRecord `json:"data_list"`
}

// taskRecord is a task as HSS lists it (ImageScanTaskInfo).
type taskRecord struct {
	TaskID       string              `json:"task_id"`
	PolicyID     string              `json:"policy_id"`
	TaskName     string              `json:"task_name"`
	BeginTime    int64               `json:"begin_time"`
	EndTime      int64               `json:"end_time"`
	RemainMin    int64               `json:"remain_min"`
	TaskType     string              `json:"task_type"`
	ImageType    string              `json:"image_type"`
	TaskStatus   int                 `json:"task_status"`
	ScanScope    int                 `json:"scan_scope"`
	RateLimit    int                 `json:"rate_limit"`
	IsAll        bool                `json:"is_all"`
	FailedNum    int                 `json:"failed_num"`
	SuccessNum   int                 `json:"success_num"`
	TotalNum     int                 `json:"total_num"`
	RiskyNum     int                 `json:"risky_num"`
	SyncTaskType string              `json:"sync_task_type"`
	FailedReason string              `json:"failed_reason"`
	FailedImages []failedImageRecord `json:"failed_images"`
}

type failedImageRecord struct {
	RegistryID   string `json:"registry_id"`
	RegistryName string `json:"registry_name"`
	ImageName    string `json:"image_name"`
	ImageVersion string `json:"image_version"`
	Namespace    string `json:"namespace"`
	RegistryType string `json:"registry_type"`
	FailedReason string `json:"failed_reason"`
}

// Task progress codes of HSS task_status besides 0-99 (running) and 100.
const (
	taskStatusStopped = -1
	taskStatusFailed  = -3
)

func toTaskRecord(t *customs.SyncTask) taskRecord {
	rec := taskRecord{
		TaskID:       t.ID,
		TaskName:     t.Key,
		BeginTime:    customs.UnixMilli(t.StartedAt),
		EndTime:      customs.UnixMilli(t.FinishedAt),
		TaskType:     t.Trigger,
		ImageType:    "registry",
		IsAll:        t.Key == customs.SyncKeyAll,
		FailedNum:    t.Failed,
		SuccessNum:   t.Succeeded,
		TotalNum:     t.Total,
		SyncTaskType: t.Key,
		FailedReason: t.FailedReason,
		FailedImages: make([]failedImageRecord, len(t.FailedImages)),
	}
	switch t.State {
	case customs.TaskRunning:
		rec.TaskStatus = min(max(t.Progress, 0), 99)
	case customs.TaskFinished:
		rec.TaskStatus = 100
	case customs.TaskStopped:
		rec.TaskStatus = taskStatusStopped
	default:
		rec.TaskStatus = taskStatusFailed
	}
	for i, fi := range t.FailedImages {
		rec.FailedImages[i] = failedImageRecord{
			RegistryID:   fi.RegistryID,
			RegistryName: fi.RegistryName,
			ImageName:    fi.Name,
			ImageVersion: fi.Tag,
			Namespace:    fi.Namespace,
			RegistryType: string(fi.RegistryType),
			FailedReason: fi.Reason,
		}
	}
	return rec
}

// listTasks is ListImageScanTask: GET /v5/{project_id}/image/tasks. It lists
// synchronization tasks; scan tasks do not exist yet.
func (s *Server) listTasks(w http.ResponseWriter, r *http.Request, p *customs.Principal) error {
	q, err := parseQuery(r)
	if err != nil {
		return err
	}
	ep := q.enterpriseProject()
	kind := enum(q, "type", taskKinds, true)
	f := customs.SyncTaskFilter{
		Trigger: enum(q, "task_type", taskTypes, false),
		ID:      q.str("task_id", 1, maxTaskFieldLen),
		Key:     q.str("task_name", 1, maxTaskFieldLen),
	}
	switch enum(q, "task_status", taskStatuses, false) {
	case "scanning":
		f.State = customs.TaskRunning
	case "finished":
		f.State = customs.TaskFinished
	}
	f.Offset, f.Limit = q.page()
	if q.err != nil {
		return q.err
	}
	scope, err := p.Scope(customs.ActionImagesList, ep)
	if err != nil {
		return err
	}
	out := taskList{DataList: []taskRecord{}}
	if kind == "image_scan" {
		writeJSON(w, http.StatusOK, out)
		return nil
	}
	tasks, total, err := s.Sync.FindSyncTasks(r.Context(), scope, f)
	if err != nil {
		return fmt.Errorf("list synchronization tasks of project %q: %w", scope.ProjectID, err)
	}
	out.TotalNum = total
	for _, t := range tasks {
		out.DataList = append(out.DataList, toTaskRecord(t))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
