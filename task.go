package customs

import "time"

// Sync task triggers (HSS task_type).
const (
	TriggerManual = "manualSync"
	TriggerAuto   = "autoSync"
)

// Sync task states.
const (
	TaskRunning  = "running"
	TaskFinished = "finished" // ran to the end; some registries may have failed (FailedReason)
	TaskFailed   = "failed"   // every registry failed
	TaskStopped  = "stopped"  // interrupted (the process running it stopped)
)

// SyncKeyAll is the SyncTask.Key of a synchronization of every registry of
// a project.
const SyncKeyAll = "all"

// SyncRequest asks for a synchronization of some of a project's registries.
type SyncRequest struct {
	Trigger string
	// ImageType selects the registries whose images have that type
	// (RunImageSynchronize). Ignored when RegistryIDs is set.
	ImageType ImageType
	// RegistryIDs selects registries by id (CreateImageSynchronizeTask); empty
	// with All set means every registry of the project.
	RegistryIDs []string
	All         bool
}

// SyncTask is one synchronization run over some registries of a project, with
// its progress so that a client can wait for it.
type SyncTask struct {
	ID        string
	ProjectID string
	Trigger   string
	// Key identifies what the task synchronizes ("private_image", "all",
	// "registries:<ids>"); one running task per project and key.
	Key         string
	ImageType   ImageType
	RegistryIDs []string

	State        string
	Progress     int // 0-100
	Total        int // tags seen
	Succeeded    int // tags recorded
	Failed       int // tags that could not be read
	Counts       SyncCounts
	FailedReason string
	FailedImages []FailedImage

	StartedAt   time.Time
	FinishedAt  time.Time
	HeartbeatAt time.Time
}

// FailedImage is a tag a synchronization could not read, and why.
type FailedImage struct {
	RegistryID   string
	RegistryName string
	RegistryType RegistryType
	Namespace    string
	Name         string
	Tag          string
	Reason       string
}

// SyncTaskFilter selects sync tasks of a project. Zero values do not filter.
type SyncTaskFilter struct {
	ID      string
	Key     string
	Trigger string
	State   string
	Offset  int
	Limit   int
}
