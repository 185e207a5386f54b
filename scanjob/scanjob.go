// Package scanjob runs image scans as jobs of a River queue kept in the
// service's database: one job per image manifest digest however many tags,
// projects or shares show it. A job resolves where to pull the image and
// with which credentials when it starts, scans it, matches its packages
// against the advisories and stores the result; its status moves from
// waiting_for_scan through scanning to success or failed on every row that
// shows the digest.
//
// It does not scan (Scanner does) and does not store (Store does); it is the
// glue between them, the queue and the clock.
package scanjob

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"customs"
)

// Store is what scan jobs read and write (implemented by the store).
type Store interface {
	QueueScans(ctx context.Context, digests []string, rescan bool) ([]string, error)
	PendingScans(ctx context.Context) ([]string, error)
	StartScan(ctx context.Context, digest string) error
	RequeueScan(ctx context.Context, digest string) error
	FailScan(ctx context.Context, digest, reason string) error
	SaveScanResult(ctx context.Context, res *customs.ScanResult) error
	FindManifests(ctx context.Context, digests []string) (map[string]*customs.Manifest, error)
	ScanSummaries(ctx context.Context, digests []string) (map[string]customs.ScanSummary, error)
	ScanTargets(ctx context.Context, digest string) ([]customs.ScanTarget, error)
}

// Scanner scans one image manifest, pulled from target with the target
// registry's credentials as they are when it is called. A failed scan's error
// carries a *customs.ScanFailure with the reason.
type Scanner interface {
	Scan(ctx context.Context, target customs.ScanTarget, m *customs.Manifest) (*customs.ScanResult, error)
}

// Matcher finds the vulnerabilities of an image's packages.
type Matcher interface {
	Match(ctx context.Context, pkgs []customs.Package) ([]customs.Finding, error)
}

// Args is a scan job: the image manifest digest to scan.
type Args struct {
	Digest string `json:"digest"`
	// After is the job that was scanning the digest when this scan was
	// asked for (0 for most jobs).
	After int64 `json:"after,omitempty"`
}

// Kind names the job kind in the queue.
func (Args) Kind() string { return "scan_image" }

// InsertOpts makes a digest's job unique while it waits or runs: queueing a
// digest again then does nothing, and queueing it after its scan finished
// scans it again.
func (Args) InsertOpts() river.InsertOpts {
	return river.InsertOpts{
		MaxAttempts: maxAttempts,
		UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
			rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
			rivertype.JobStateRetryable, rivertype.JobStateScheduled,
		}},
	}
}

// maxAttempts bounds how often a job whose scan failed for a reason that may
// pass (a download, the database) is tried.
const maxAttempts = 3

// Runner queues scans and, when started with workers, runs them.
type Runner struct {
	Store   Store
	Scanner Scanner
	Matcher Matcher
	// Workers is how many scans run at once in this process; 0 makes a
	// runner that only queues (a process serving no scans).
	Workers int
	// Timeout bounds one job, above the scanner's own time limit.
	Timeout time.Duration
	// RetryAfter is how long a job that failed for a reason that may pass
	// waits before its second attempt; each later attempt waits four times
	// longer.
	RetryAfter time.Duration
	Logger     *slog.Logger
	Now        func() time.Time

	client *river.Client[*sql.Tx]
	once   sync.Once
}

// defaults fills the fields left zero, once.
func (r *Runner) defaults() {
	r.once.Do(func() {
		if r.Logger == nil {
			r.Logger = slog.Default().With("component", "scanjob")
		}
		if r.Now == nil {
			r.Now = time.Now
		}
		if r.Timeout == 0 {
			r.Timeout = time.Hour
		}
		if r.RetryAfter == 0 {
			r.RetryAfter = 30 * time.Second
		}
	})
}

// Open prepares the queue in the database db is a handle on (creating its
// tables) and the client that inserts and, with Workers, works jobs. Call
// Start to work them.
func (r *Runner) Open(ctx context.Context, db *sql.DB) error {
	r.defaults()
	driver := riversqlite.New(db)
	migrator, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: r.Logger})
	if err != nil {
		return fmt.Errorf("open scan queue: %w", err)
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("migrate scan queue: %w", err)
	}
	cfg := &river.Config{
		Logger:      r.Logger,
		MaxAttempts: maxAttempts,
		JobTimeout:  r.Timeout,
		// SQLite has no LISTEN/NOTIFY: poll, often enough to feel immediate.
		FetchPollInterval:           500 * time.Millisecond,
		CompletedJobRetentionPeriod: 24 * time.Hour,
		RescueStuckJobsAfter:        r.Timeout + 10*time.Minute,
		RetryPolicy:                 retryPolicy{r},
	}
	if r.Workers > 0 {
		workers := river.NewWorkers()
		if err := river.AddWorkerSafely(workers, &worker{r: r}); err != nil {
			return err
		}
		cfg.Workers = workers
		cfg.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: r.Workers}}
	}
	client, err := river.NewClient(driver, cfg)
	if err != nil {
		return fmt.Errorf("open scan queue: %w", err)
	}
	r.client = client
	return nil
}

// Start works jobs until ctx ends or Stop is called, after queueing again
// the scans that were waiting or running when the service last stopped.
func (r *Runner) Start(ctx context.Context) error {
	pending, err := r.Store.PendingScans(ctx)
	if err != nil {
		return err
	}
	if err := r.insert(ctx, pending); err != nil {
		return err
	}
	if len(pending) > 0 {
		r.Logger.Info("queued the scans pending at the last stop", "scans", len(pending))
	}
	return r.client.Start(ctx)
}

// Stop waits for running jobs to finish until ctx ends, then cancels them:
// a cancelled scan is not recorded as failed and runs again at the next
// start.
func (r *Runner) Stop(ctx context.Context) error {
	if r.client == nil || r.Workers == 0 {
		return nil
	}
	if err := r.client.Stop(ctx); !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		return err
	}
	cancelCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return r.client.StopAndCancel(cancelCtx)
}

// QueueScans marks the manifests (and an index's image manifests) as waiting
// for a scan and queues one job per image manifest, scanned before or not.
func (r *Runner) QueueScans(ctx context.Context, digests []string) error {
	return r.queue(ctx, digests, true)
}

// QueueNew queues the manifests among digests that were never scanned: what
// a synchronization found.
func (r *Runner) QueueNew(ctx context.Context, digests []string) error {
	return r.queue(ctx, digests, false)
}

func (r *Runner) queue(ctx context.Context, digests []string, rescan bool) error {
	images, err := r.Store.QueueScans(ctx, digests, rescan)
	if err != nil {
		return err
	}
	return r.insert(ctx, images)
}

func (r *Runner) insert(ctx context.Context, digests []string) error {
	for chunk := range slices.Chunk(digests, 500) {
		params := make([]river.InsertManyParams, len(chunk))
		for i, d := range chunk {
			params[i] = river.InsertManyParams{Args: Args{Digest: d}}
		}
		// A digest whose job is running (or finished, its completion not
		// yet recorded) may have been scanned before this request: it gets
		// a follow-up job, so the scan asked for happens. A follow-up that
		// is itself running gets its own, and so on.
		for hop := 0; len(params) > 0; hop++ {
			if hop == 8 {
				return fmt.Errorf("queue %d scans: their jobs keep running", len(params))
			}
			results, err := r.client.InsertMany(ctx, params)
			if err != nil {
				return fmt.Errorf("queue %d scans: %w", len(params), err)
			}
			var follow []river.InsertManyParams
			for i, res := range results {
				if res.UniqueSkippedAsDuplicate && res.Job != nil && res.Job.State == rivertype.JobStateRunning {
					follow = append(follow, river.InsertManyParams{Args: Args{Digest: params[i].Args.(Args).Digest, After: res.Job.ID}})
				}
			}
			params = follow
		}
	}
	return nil
}

// Scan scans one image manifest now, in this goroutine, and records the
// outcome as a job would (customs scan in the foreground).
func (r *Runner) Scan(ctx context.Context, digest string) error {
	r.defaults()
	return r.scan(ctx, digest, true)
}

// due reports whether a job is still to be done: a scan that ended since
// the job was queued (another job's, or one in the foreground) answered it;
// a scanning status is an interrupted scan to resume, unless the job is a
// follow-up (asked for while another job of the digest ran) on its first
// attempt, which scans only a digest that still waits.
func (r *Runner) due(ctx context.Context, job Args, attempt int) (bool, error) {
	sums, err := r.Store.ScanSummaries(ctx, []string{job.Digest})
	if err != nil {
		return false, err
	}
	switch st := sums[job.Digest].Status; {
	case st == customs.ScanWaiting, st == customs.ScanScanning && (job.After == 0 || attempt > 1):
		return true, nil
	default:
		r.Logger.Debug("nothing to scan: scanned since it was queued, or being scanned", "digest", job.Digest, "status", st)
		return false, nil
	}
}

// scan runs one scan. With last false, a failure that may pass is returned
// (the job is tried again) instead of recorded.
func (r *Runner) scan(ctx context.Context, digest string, last bool) error {
	log := r.Logger.With("digest", digest)
	ms, err := r.Store.FindManifests(ctx, []string{digest})
	if err != nil {
		return err
	}
	m := ms[digest]
	if m == nil || m.Kind != customs.KindImage {
		log.Warn("no image manifest to scan")
		return nil
	}
	if err := r.Store.StartScan(ctx, digest); err != nil {
		return err
	}
	res, err := r.run(ctx, m)
	if err == nil {
		res.ScannedAt = r.Now()
		if err = r.Store.SaveScanResult(ctx, res); err == nil {
			log.Info("scanned", "packages", len(res.Packages), "vulnerabilities", len(res.Findings),
				"malicious_files", len(res.Malware), "baseline_results", len(res.Baseline))
			return nil
		}
		err = &customs.ScanFailure{Reason: customs.FailDatabase, Err: err}
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		return ctx.Err() // stopping: the job runs again
	}
	reason := customs.ScanFailureReason(err)
	if ctx.Err() != nil {
		// The job's own time limit, above the scanner's.
		reason = customs.FailTimedOut
	}
	ctx = context.WithoutCancel(ctx) // record the outcome whatever the time
	if !last && transient(reason) {
		log.Warn("scan failed; it will be tried again", "reason", reason, "err", err)
		if qerr := r.Store.RequeueScan(ctx, digest); qerr != nil {
			log.Error("mark scan waiting", "err", qerr)
		}
		return err
	}
	log.Warn("scan failed", "reason", reason, "err", err)
	if ferr := r.Store.FailScan(ctx, digest, reason); ferr != nil {
		return errors.Join(err, ferr)
	}
	return nil
}

// run scans m from the first target whose registry lets it, and matches its
// packages.
func (r *Runner) run(ctx context.Context, m *customs.Manifest) (*customs.ScanResult, error) {
	targets, err := r.Store.ScanTargets(ctx, m.Digest)
	if err != nil {
		return nil, &customs.ScanFailure{Reason: customs.FailDatabase, Err: err}
	}
	if len(targets) == 0 {
		return nil, &customs.ScanFailure{Reason: customs.FailQueryBasicInformation, Err: errors.New("no repository shows the image any more")}
	}
	var res *customs.ScanResult
	for _, t := range targets {
		res, err = r.Scanner.Scan(ctx, t, m)
		if customs.ScanFailureReason(err) != customs.FailAuthentication {
			break // another registry may let us in; nothing else changes with it
		}
	}
	if err != nil {
		return nil, err
	}
	res.Digest = m.Digest
	if res.Findings, err = r.Matcher.Match(ctx, res.Packages); err != nil {
		return nil, &customs.ScanFailure{Reason: customs.FailScanVulnerability, Err: err}
	}
	return res, nil
}

// transient reports whether a scan that failed for reason may succeed if
// tried again.
func transient(reason string) bool {
	switch reason {
	case customs.FailDownload, customs.FailDatabase, customs.FailUnknown:
		return true
	}
	return false
}

// retryPolicy waits RetryAfter, then four times longer each attempt.
type retryPolicy struct{ r *Runner }

func (p retryPolicy) NextRetry(job *rivertype.JobRow) time.Time {
	wait := p.r.RetryAfter
	for range max(0, job.Attempt-1) {
		wait *= 4
	}
	return p.r.Now().Add(wait)
}

// worker works scan jobs.
type worker struct {
	river.WorkerDefaults[Args]
	r *Runner
}

func (w *worker) Work(ctx context.Context, job *river.Job[Args]) error {
	if ok, err := w.r.due(ctx, job.Args, job.Attempt); !ok || err != nil {
		return err
	}
	return w.r.scan(ctx, job.Args.Digest, job.Attempt >= job.MaxAttempts)
}
