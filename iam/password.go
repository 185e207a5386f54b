package iam

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/crypto/argon2"
)

// ErrInvalidHash is the error, wrapped with the reason, for a password hash
// that is not an argon2id PHC string this package can verify.
var ErrInvalidHash = errors.New("invalid password hash")

// argon2Params are the argon2id cost parameters (RFC 9106 §3.1).
type argon2Params struct {
	memory  uint32 // KiB
	time    uint32 // passes
	threads uint8
}

// params are the costs of new hashes. 64 MiB and one pass cost about 40 ms
// on a 2-core machine, and keep one core free per hash under load; existing
// hashes keep the costs they were made with (CheckPassword reads them from
// the string). Tests lower them.
var params = argon2Params{memory: 64 * 1024, time: 1, threads: 1}

const (
	saltLen = 16
	keyLen  = 32
)

// Bounds on the parameters of a hash being checked, so that a corrupt or
// hostile stored string cannot make a check allocate gigabytes or run for
// minutes.
const (
	maxMemory  = 1 << 20 // KiB: 1 GiB
	maxTime    = 64
	minSaltLen = 8
	maxSaltLen = 64
	minKeyLen  = 16
	maxKeyLen  = 64
)

// hashSlots bounds the argon2 computations running at once: each holds its
// memory parameter (64 MiB) for its whole run, so a burst of logins would
// otherwise take memory without bound and gain no throughput beyond the
// number of cores.
var hashSlots = make(chan struct{}, max(1, runtime.GOMAXPROCS(0)))

func acquireSlot(ctx context.Context) error {
	select {
	case hashSlots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func releaseSlot() { <-hashSlots }

// HashPassword hashes password with argon2id and a random 16-byte salt and
// returns it in the PHC string format:
//
//	$argon2id$v=19$m=65536,t=1,p=1$<salt>$<hash>
//
// with salt and hash in unpadded standard base64.
func HashPassword(password string) (string, error) {
	return hashPassword(context.Background(), password)
}

func hashPassword(ctx context.Context, password string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	p := params
	if err := acquireSlot(ctx); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.time, p.memory, p.threads, keyLen)
	releaseSlot()
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.memory, p.time, p.threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// CheckPassword reports whether password matches hash, a PHC string made by
// HashPassword (with any argon2id parameters). The comparison takes constant
// time. It returns an error wrapping ErrInvalidHash when hash cannot be parsed.
func CheckPassword(hash, password string) (bool, error) {
	return checkPassword(context.Background(), hash, password)
}

func checkPassword(ctx context.Context, hash, password string) (bool, error) {
	p, salt, want, err := parseHash(hash)
	if err != nil {
		return false, err
	}
	if err := acquireSlot(ctx); err != nil {
		return false, fmt.Errorf("check password: %w", err)
	}
	got := argon2.IDKey([]byte(password), salt, p.time, p.memory, p.threads, uint32(len(want)))
	releaseSlot()
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// parseHash parses $argon2id$v=19$m=M,t=T,p=P$salt$hash.
func parseHash(s string) (p argon2Params, salt, key []byte, err error) {
	invalid := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidHash, fmt.Sprintf(format, args...))
	}
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" {
		return p, nil, nil, invalid("want 5 fields separated by $, as in $argon2id$v=19$m=65536,t=1,p=1$salt$hash")
	}
	if parts[1] != "argon2id" {
		return p, nil, nil, invalid("algorithm %q, want argon2id", parts[1])
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, nil, nil, invalid("version %q, want v=%d", parts[2], argon2.Version)
	}
	fields := strings.Split(parts[3], ",")
	if len(fields) != 3 {
		return p, nil, nil, invalid("parameters %q, want m=<KiB>,t=<passes>,p=<threads>", parts[3])
	}
	var v [3]uint64
	for i, name := range []string{"m", "t", "p"} {
		num, ok := strings.CutPrefix(fields[i], name+"=")
		if !ok {
			return p, nil, nil, invalid("parameter %d is %q, want %s=<number>", i+1, fields[i], name)
		}
		if v[i], err = strconv.ParseUint(num, 10, 32); err != nil {
			return p, nil, nil, invalid("parameter %s=%q is not a number", name, num)
		}
	}
	p = argon2Params{memory: uint32(v[0]), time: uint32(v[1])}
	switch {
	case v[2] < 1 || v[2] > 255:
		return p, nil, nil, invalid("p=%d, want 1 to 255", v[2])
	case v[1] < 1 || v[1] > maxTime:
		return p, nil, nil, invalid("t=%d, want 1 to %d", v[1], maxTime)
	case v[0] < 8*v[2] || v[0] > maxMemory:
		return p, nil, nil, invalid("m=%d, want 8*p to %d", v[0], maxMemory)
	}
	p.threads = uint8(v[2])
	if salt, err = base64.RawStdEncoding.Strict().DecodeString(parts[4]); err != nil {
		return p, nil, nil, invalid("salt is not unpadded base64")
	}
	if len(salt) < minSaltLen || len(salt) > maxSaltLen {
		return p, nil, nil, invalid("salt of %d bytes, want %d to %d", len(salt), minSaltLen, maxSaltLen)
	}
	if key, err = base64.RawStdEncoding.Strict().DecodeString(parts[5]); err != nil {
		return p, nil, nil, invalid("hash is not unpadded base64")
	}
	if len(key) < minKeyLen || len(key) > maxKeyLen {
		return p, nil, nil, invalid("hash of %d bytes, want %d to %d", len(key), minKeyLen, maxKeyLen)
	}
	return p, salt, key, nil
}

// dummyHash returns a hash to check against when a login names an unknown
// user, so that the answer takes as long as for a known user with a wrong
// password. It has the costs of new hashes, which are those of stored ones
// unless the costs changed since.
func dummyHash() (string, error) {
	dummy.Lock()
	defer dummy.Unlock()
	if dummy.hash == "" || dummy.params != params {
		h, err := HashPassword("customs dummy password")
		if err != nil {
			return "", err
		}
		dummy.hash, dummy.params = h, params
	}
	return dummy.hash, nil
}

var dummy struct {
	sync.Mutex
	hash   string
	params argon2Params
}
