// Package sqlite is the embedded store: every table of Customs in one SQLite
// database file (modernc.org/sqlite, pure Go), with embedded migrations
// applied at Open. It is the default backend; it passes store/storetest like
// every other.
//
// One connection writes (SQLite allows one writer; a pool would only queue
// on the lock), a pool of connections reads, both in WAL mode. The image list
// is answered from per-project in-memory indexes (store/listindex) that follow
// the images table through its change sequence.
package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	sqlite3 "modernc.org/sqlite"
	sqlite3lib "modernc.org/sqlite/lib"

	"customs"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Cipher seals secrets (registry passwords) before they are written.
type Cipher interface {
	Seal(plaintext []byte) ([]byte, error)
	Open(ciphertext []byte) ([]byte, error)
}

// DB is the SQLite store.
type DB struct {
	Path   string
	Cipher Cipher // required
	Now    func() time.Time
	Logger *slog.Logger
	// TaskStaleAfter is how long a running sync task may go without a
	// heartbeat before it is taken as stopped (its process died).
	TaskStaleAfter time.Duration
	// TasksKept is how many finished sync tasks a project keeps.
	TasksKept int

	write *sql.DB // one connection
	read  *sql.DB // a pool

	mu      sync.Mutex
	indexes map[string]*projectIndex
	stmts   sync.Map // stmtKey → *sql.Stmt
	// hot are the read statements every list runs, prepared at Open: a
	// transaction can use them without preparing (and without waiting for a
	// second connection of the pool, which could deadlock).
	hot map[*sql.DB]map[string]*sql.Stmt
	// manifestIDs remembers the row ids of manifests recently stored or
	// looked up: a synchronization stores a manifest and then points tags at
	// it. Manifest rows are never deleted and their ids never change, so an
	// entry cannot go stale.
	manifestIDs struct {
		sync.Mutex
		m map[string]int64
	}
}

type stmtKey struct {
	pool  *sql.DB
	query string
}

// New returns a store for the database file at path.
func New(path string) *DB {
	return &DB{
		Path:           path,
		Now:            time.Now,
		Logger:         slog.Default().With("component", "sqlite"),
		TaskStaleAfter: 2 * time.Minute,
		TasksKept:      1000,
		indexes:        map[string]*projectIndex{},
	}
}

// Open opens the database, creating it if needed, and applies migrations.
func (db *DB) Open(ctx context.Context) error {
	if db.Path == "" {
		return errors.New("open sqlite store: no path")
	}
	if db.Cipher == nil {
		return errors.New("open sqlite store: no cipher for secrets")
	}
	// temp_store=MEMORY keeps statement journals (which a multi-row INSERT
	// writes, to undo just itself on a constraint failure) off the disk.
	dsn := db.dsn()
	var err error
	// The writer gets a larger page cache and checkpoints less often (every
	// 256 MiB of WAL, truncated back to 64 MiB after): a synchronization
	// dirties index pages all over, and each one kept in the cache across
	// transactions is one read saved, each one copied once per checkpoint
	// instead of once per transaction is writes saved. This halves the time
	// to load a million rows.
	writer := dsn + "&_txlock=immediate&_pragma=cache_size(-262144)&_pragma=wal_autocheckpoint(65536)&_pragma=journal_size_limit(67108864)"
	if db.write, err = sql.Open("sqlite", writer); err != nil {
		return fmt.Errorf("open %s: %w", db.Path, err)
	}
	db.write.SetMaxOpenConns(1)
	db.write.SetConnMaxIdleTime(0)
	if db.read, err = sql.Open("sqlite", dsn); err != nil {
		return fmt.Errorf("open %s: %w", db.Path, err)
	}
	db.read.SetMaxOpenConns(max(4, runtime.NumCPU()))
	if err := db.migrate(ctx); err != nil {
		db.Close()
		return err
	}
	db.hot = map[*sql.DB]map[string]*sql.Stmt{}
	for _, pool := range []*sql.DB{db.read, db.write} {
		db.hot[pool] = map[string]*sql.Stmt{}
		for _, q := range []string{qImageSeq, qImagesByID, qTombstonesPruned} {
			s, err := pool.PrepareContext(ctx, q)
			if err != nil {
				db.Close()
				return fmt.Errorf("prepare: %w", err)
			}
			db.hot[pool][q] = s
		}
	}
	return nil
}

func (db *DB) dsn() string {
	pragmas := url.Values{}
	for _, p := range []string{"temp_store(MEMORY)", "busy_timeout(10000)", "journal_mode(WAL)", "foreign_keys(1)", "synchronous(NORMAL)", "mmap_size(1073741824)", "cache_size(-65536)"} {
		pragmas.Add("_pragma", p)
	}
	return "file:" + db.Path + "?" + pragmas.Encode()
}

// Handle returns a handle on the database of one connection of its own, for
// a component that keeps its own tables in it (the job queue). The caller
// closes it.
func (db *DB) Handle() (*sql.DB, error) {
	h, err := sql.Open("sqlite", db.dsn()+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", db.Path, err)
	}
	h.SetMaxOpenConns(1)
	h.SetConnMaxIdleTime(0)
	return h, nil
}

// Close closes the database.
func (db *DB) Close() error {
	var errs []error
	for _, stmts := range db.hot {
		for _, s := range stmts {
			errs = append(errs, s.Close())
		}
	}
	db.stmts.Range(func(k, v any) bool {
		errs = append(errs, v.(*sql.Stmt).Close())
		db.stmts.Delete(k)
		return true
	})
	for _, d := range []*sql.DB{db.read, db.write} {
		if d != nil {
			errs = append(errs, d.Close())
		}
	}
	return errors.Join(errs...)
}

func (db *DB) migrate(ctx context.Context) error {
	if _, err := db.write.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	slices.Sort(names)
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		version, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migration %s: name must start with a number", name)
		}
		err = db.update(ctx, func(tx *Tx) error {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, version).Scan(&n); err != nil || n > 0 {
				return err
			}
			body, err := migrations.ReadFile(name)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return err
			}
			_, err = tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, version, ms(tx.now))
			return err
		})
		if err != nil {
			return fmt.Errorf("migration %s: %w", base, err)
		}
	}
	return nil
}

// Tx is a transaction with the time fixed when it began, so every row it
// writes carries the same instant and tests can freeze time.
type Tx struct {
	*sql.Tx
	db    *DB
	pool  *sql.DB
	now   time.Time
	seq   int64                // the change sequence of this transaction's image writes, once taken
	stmts map[string]*sql.Stmt // prepared on the transaction's connection, closed with it
	// learnedIDs are manifest ids this transaction learned, remembered once it commits.
	learnedIDs map[string]int64
}

// update runs fn in a write transaction and commits it if fn succeeds.
func (db *DB) update(ctx context.Context, fn func(tx *Tx) error) error {
	return db.run(ctx, db.write, fn)
}

// view runs fn in a read-only transaction: one consistent snapshot.
func (db *DB) view(ctx context.Context, fn func(tx *Tx) error) error {
	return db.run(ctx, db.read, fn)
}

func (db *DB) run(ctx context.Context, d *sql.DB, fn func(tx *Tx) error) error {
	if d == nil {
		return errors.New("sqlite store is not open")
	}
	sqlTx, err := d.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	tx := &Tx{Tx: sqlTx, db: db, pool: d, now: db.Now().UTC()}
	if err := fn(tx); err != nil {
		sqlTx.Rollback()
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	db.rememberManifestIDs(tx.learnedIDs)
	return nil
}

// maxRememberedIDs bounds the manifest ids kept in memory (about 10 MB).
const maxRememberedIDs = 100_000

func (db *DB) rememberManifestIDs(ids map[string]int64) {
	if len(ids) == 0 {
		return
	}
	db.manifestIDs.Lock()
	defer db.manifestIDs.Unlock()
	if db.manifestIDs.m == nil || len(db.manifestIDs.m)+len(ids) > maxRememberedIDs {
		db.manifestIDs.m = make(map[string]int64, min(len(ids), maxRememberedIDs))
	}
	for d, id := range ids {
		if len(db.manifestIDs.m) < maxRememberedIDs {
			db.manifestIDs.m[d] = id
		}
	}
}

func (db *DB) rememberedManifestID(digest string) (int64, bool) {
	db.manifestIDs.Lock()
	defer db.manifestIDs.Unlock()
	id, ok := db.manifestIDs.m[digest]
	return id, ok
}

// stmt returns the statement for query on pool, prepared once: parsing SQL
// costs more than running most of these statements. Only for use outside a
// transaction: preparing takes a connection from the pool, which a
// transaction holding the pool's last connection would wait for forever.
func (db *DB) stmt(ctx context.Context, pool *sql.DB, query string) (*sql.Stmt, error) {
	key := stmtKey{pool, query}
	if s, ok := db.stmts.Load(key); ok {
		return s.(*sql.Stmt), nil
	}
	s, err := pool.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := db.stmts.LoadOrStore(key, s); loaded {
		s.Close()
		return prev.(*sql.Stmt), nil
	}
	return s, nil
}

// prepare returns the statement for query prepared on the transaction's own
// connection, once per transaction.
func (tx *Tx) prepare(ctx context.Context, query string) (*sql.Stmt, error) {
	if s, ok := tx.stmts[query]; ok {
		return s, nil
	}
	var s *sql.Stmt
	if hot, ok := tx.db.hot[tx.pool][query]; ok {
		s = tx.StmtContext(ctx, hot)
	} else {
		var err error
		if s, err = tx.PrepareContext(ctx, query); err != nil {
			return nil, err
		}
	}
	if tx.stmts == nil {
		tx.stmts = map[string]*sql.Stmt{}
	}
	tx.stmts[query] = s
	return s, nil
}

// exec runs a prepared statement in the transaction.
func (tx *Tx) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	s, err := tx.prepare(ctx, query)
	if err != nil {
		return nil, err
	}
	return s.ExecContext(ctx, args...)
}

// query runs a prepared query in the transaction.
func (tx *Tx) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	s, err := tx.prepare(ctx, query)
	if err != nil {
		return nil, err
	}
	return s.QueryContext(ctx, args...)
}

// queryRow runs a prepared single-row query in the transaction.
func (tx *Tx) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	s, err := tx.prepare(ctx, query)
	if err != nil {
		return tx.QueryRowContext(ctx, query, args...) // reports the same error
	}
	return s.QueryRowContext(ctx, args...)
}

// queryRow runs a prepared single-row query outside a transaction.
func (db *DB) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	s, err := db.stmt(ctx, db.read, query)
	if err != nil {
		return db.read.QueryRowContext(ctx, query, args...) // reports the same error
	}
	return s.QueryRowContext(ctx, args...)
}

// query runs a prepared query outside a transaction.
func (db *DB) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	s, err := db.stmt(ctx, db.read, query)
	if err != nil {
		return nil, err
	}
	return s.QueryContext(ctx, args...)
}

// nextSeq returns the change sequence of this transaction's image writes,
// taking the next one on first use. SQLite's single writer commits
// transactions in sequence order, so a reader that sees sequence N sees every
// change up to N.
func (tx *Tx) nextSeq(ctx context.Context) (int64, error) {
	if tx.seq == 0 {
		err := tx.queryRow(ctx, `UPDATE meta SET value = value + 1 WHERE key = 'image_seq' RETURNING value`).Scan(&tx.seq)
		if err != nil {
			return 0, fmt.Errorf("next change sequence: %w", err)
		}
	}
	return tx.seq, nil
}

// newID returns a random 32-hex-character id.
func newID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ms is t in Unix milliseconds, 0 for the zero time.
func ms(t time.Time) int64 { return customs.UnixMilli(t) }

// isUnique reports whether err is a UNIQUE or PRIMARY KEY constraint failure.
func isUnique(err error) bool {
	var se *sqlite3.Error
	if !errors.As(err, &se) {
		return false
	}
	return se.Code() == sqlite3lib.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3lib.SQLITE_CONSTRAINT_PRIMARYKEY
}

// execValues runs head VALUES (...), (...) tail for rows of equal length,
// many rows per statement: a statement costs more than a row. When scan is
// set, the statement returns rows (RETURNING) and scan reads each.
func (tx *Tx) execValues(ctx context.Context, head, tail string, rows [][]any, scan func(*sql.Rows) error) error {
	if len(rows) == 0 {
		return nil
	}
	columns := len(rows[0])
	perStatement := max(1, 500/columns)
	for chunk := range slices.Chunk(rows, perStatement) {
		values := strings.TrimSuffix(strings.Repeat("("+placeholders(columns)+"), ", len(chunk)), ", ")
		args := make([]any, 0, columns*len(chunk))
		for _, r := range chunk {
			args = append(args, r...)
		}
		q := head + ` VALUES ` + values + ` ` + tail
		if scan == nil {
			if _, err := tx.exec(ctx, q, args...); err != nil {
				return err
			}
			continue
		}
		if err := tx.each(ctx, q, args, scan); err != nil {
			return err
		}
	}
	return nil
}

// each runs a query and calls scan for each row it returns.
func (tx *Tx) each(ctx context.Context, query string, args []any, scan func(*sql.Rows) error) error {
	rows, err := tx.query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// learnManifestID records an id this transaction found or made.
func (tx *Tx) learnManifestID(digest string, id int64) {
	if tx.learnedIDs == nil {
		tx.learnedIDs = map[string]int64{}
	}
	tx.learnedIDs[digest] = id
}

// placeholders returns "?, ?, ..." for n values.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}
