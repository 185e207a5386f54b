package sqlite

import (
	"context"
	"encoding/json"
	"fmt"

	"customs"
)

const taskColumns = `id, project_id, trigger, key, image_type, registry_ids, state, progress, total, succeeded, failed,
	added, updated, removed, failed_reason, failed_images, started_at, finished_at, heartbeat_at`

// CreateSyncTask stores a new running task, assigning its id. ECONFLICT when
// the project has a live running task with the same key; a running task whose
// heartbeat is older than TaskStaleAfter is marked stopped first.
func (db *DB) CreateSyncTask(ctx context.Context, scope customs.Scope, t *customs.SyncTask) error {
	if err := scope.Validate(); err != nil {
		return err
	}
	return db.update(ctx, func(tx *Tx) error {
		if err := tx.stopStaleTasks(ctx, scope.ProjectID); err != nil {
			return err
		}
		t.ID, t.ProjectID = newID(), scope.ProjectID
		t.State, t.StartedAt, t.HeartbeatAt = customs.TaskRunning, tx.now, tx.now
		err := tx.writeTask(ctx, `INSERT INTO sync_tasks (`+taskColumns+`) VALUES (`+placeholders(19)+`)`, t)
		if isUnique(err) {
			return customs.Errorf(customs.ECONFLICT, "A synchronization of %s is already running in this project.", t.Key)
		} else if err != nil {
			return fmt.Errorf("create sync task: %w", err)
		}
		return tx.pruneHistory(ctx, scope.ProjectID, db.TasksKept)
	})
}

// UpdateSyncTask saves a task's progress or outcome and refreshes its heartbeat.
func (db *DB) UpdateSyncTask(ctx context.Context, scope customs.Scope, t *customs.SyncTask) error {
	if err := scope.Validate(); err != nil {
		return err
	}
	return db.update(ctx, func(tx *Tx) error {
		t.HeartbeatAt = tx.now
		res, err := tx.exec(ctx, `UPDATE sync_tasks SET state = ?, progress = ?, total = ?, succeeded = ?, failed = ?,
			added = ?, updated = ?, removed = ?, failed_reason = ?, failed_images = ?, finished_at = ?, heartbeat_at = ?
			WHERE id = ? AND project_id = ?`,
			t.State, t.Progress, t.Total, t.Succeeded, t.Failed, t.Counts.Added, t.Counts.Updated, t.Counts.Removed,
			t.FailedReason, encodeJSON(t.FailedImages), ms(t.FinishedAt), ms(t.HeartbeatAt), t.ID, scope.ProjectID)
		if err != nil {
			return fmt.Errorf("update sync task: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return customs.Errorf(customs.ENOTFOUND, "Sync task %q not found.", t.ID)
		}
		return nil
	})
}

// FindSyncTasks returns the project's tasks that match f, newest first, and
// how many match. Running tasks whose process stopped show as stopped.
func (db *DB) FindSyncTasks(ctx context.Context, scope customs.Scope, f customs.SyncTaskFilter) ([]*customs.SyncTask, int, error) {
	if err := scope.Validate(); err != nil {
		return nil, 0, err
	}
	var tasks []*customs.SyncTask
	var total int
	err := db.view(ctx, func(tx *Tx) error {
		stale := ms(tx.now.Add(-db.TaskStaleAfter))
		state := `CASE WHEN state = 'running' AND heartbeat_at < ` + fmt.Sprint(stale) + ` THEN 'stopped' ELSE state END`
		where := `project_id = ?`
		args := []any{scope.ProjectID}
		for col, v := range map[string]string{"id": f.ID, "trigger": f.Trigger, "key": f.Key, state: f.State} {
			if v != "" {
				where += ` AND ` + col + ` = ?`
				args = append(args, v)
			}
		}
		if err := tx.queryRow(ctx, `SELECT count(*) FROM sync_tasks WHERE `+where, args...).Scan(&total); err != nil {
			return err
		}
		limit := f.Limit
		if limit <= 0 {
			limit = -1
		}
		rows, err := tx.query(ctx, `SELECT `+taskColumns+` FROM sync_tasks WHERE `+where+` ORDER BY started_at DESC, rowid DESC LIMIT ? OFFSET ?`,
			append(args, limit, f.Offset)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			t, err := scanTask(rows)
			if err != nil {
				return err
			}
			if t.State == customs.TaskRunning && ms(t.HeartbeatAt) < stale {
				t.State = customs.TaskStopped
			}
			tasks = append(tasks, t)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, 0, fmt.Errorf("find sync tasks: %w", err)
	}
	if tasks == nil {
		tasks = []*customs.SyncTask{}
	}
	return tasks, total, nil
}

func (tx *Tx) stopStaleTasks(ctx context.Context, projectID string) error {
	_, err := tx.exec(ctx, `UPDATE sync_tasks SET state = ?, finished_at = ?,
		failed_reason = CASE failed_reason WHEN '' THEN 'The process running the synchronization stopped before it finished.' ELSE failed_reason END
		WHERE project_id = ? AND state = ? AND heartbeat_at < ?`,
		customs.TaskStopped, ms(tx.now), projectID, customs.TaskRunning, ms(tx.now.Add(-tx.db.TaskStaleAfter)))
	if err != nil {
		return fmt.Errorf("stop stale sync tasks: %w", err)
	}
	return nil
}

// pruneHistory keeps the newest kept finished tasks of a project, and the
// list-index tombstones of the last 100,000 changes.
func (tx *Tx) pruneHistory(ctx context.Context, projectID string, kept int) error {
	_, err := tx.exec(ctx, `DELETE FROM sync_tasks WHERE project_id = ? AND state != ? AND id NOT IN
		(SELECT id FROM sync_tasks WHERE project_id = ? ORDER BY started_at DESC, rowid DESC LIMIT ?)`,
		projectID, customs.TaskRunning, projectID, kept)
	if err != nil {
		return fmt.Errorf("prune sync tasks: %w", err)
	}
	seq, err := tx.imageSeq(ctx)
	if err != nil {
		return err
	}
	if horizon := seq - 100_000; horizon > 0 {
		if _, err := tx.exec(ctx, `DELETE FROM image_tombstones WHERE seq <= ?`, horizon); err != nil {
			return fmt.Errorf("prune tombstones: %w", err)
		}
		if _, err := tx.exec(ctx, `UPDATE meta SET value = max(value, ?) WHERE key = 'tombstones_pruned_seq'`, horizon); err != nil {
			return fmt.Errorf("prune tombstones: %w", err)
		}
	}
	return nil
}

func (tx *Tx) writeTask(ctx context.Context, q string, t *customs.SyncTask) error {
	_, err := tx.exec(ctx, q, t.ID, t.ProjectID, t.Trigger, t.Key, t.ImageType, encodeJSON(t.RegistryIDs), t.State,
		t.Progress, t.Total, t.Succeeded, t.Failed, t.Counts.Added, t.Counts.Updated, t.Counts.Removed,
		t.FailedReason, encodeJSON(t.FailedImages), ms(t.StartedAt), ms(t.FinishedAt), ms(t.HeartbeatAt))
	return err
}

type scanner interface{ Scan(dest ...any) error }

func scanTask(row scanner) (*customs.SyncTask, error) {
	var t customs.SyncTask
	var regIDs, failedImages string
	var started, finished, heartbeat int64
	err := row.Scan(&t.ID, &t.ProjectID, &t.Trigger, &t.Key, &t.ImageType, &regIDs, &t.State, &t.Progress, &t.Total, &t.Succeeded, &t.Failed,
		&t.Counts.Added, &t.Counts.Updated, &t.Counts.Removed, &t.FailedReason, &failedImages, &started, &finished, &heartbeat)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(regIDs), &t.RegistryIDs); err != nil {
		return nil, fmt.Errorf("task %s registry ids: %w", t.ID, err)
	}
	if err := json.Unmarshal([]byte(failedImages), &t.FailedImages); err != nil {
		return nil, fmt.Errorf("task %s failed images: %w", t.ID, err)
	}
	if len(t.RegistryIDs) == 0 {
		t.RegistryIDs = nil
	}
	if len(t.FailedImages) == 0 {
		t.FailedImages = nil
	}
	t.StartedAt, t.FinishedAt, t.HeartbeatAt = customs.FromUnixMilli(started), customs.FromUnixMilli(finished), customs.FromUnixMilli(heartbeat)
	return &t, nil
}

func encodeJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil || string(b) == "null" {
		return "[]"
	}
	return string(b)
}
