package iam_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"customs/iam"
)

func TestPasswordRoundTrip(t *testing.T) {
	tests := []struct {
		name     string
		password string
		wrong    []string
	}{
		{name: "ascii", password: "correct horse battery staple", wrong: []string{"Correct horse battery staple", "correct horse battery stapl", ""}},
		{name: "empty", password: "", wrong: []string{" ", "x"}},
		{name: "unicode", password: "pässwörd-密码", wrong: []string{"passwörd-密码", "pässwörd-密"}},
		{name: "long", password: strings.Repeat("a", 4096), wrong: []string{strings.Repeat("a", 4095), strings.Repeat("a", 4097)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hash, err := iam.HashPassword(tt.password)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(hash, tt.password) && tt.password != "" {
				t.Fatalf("HashPassword(%q) = %q contains the password", tt.password, hash)
			}
			ok, err := iam.CheckPassword(hash, tt.password)
			if err != nil || !ok {
				t.Errorf("CheckPassword(hash, right password) = %v, %v; want true, nil", ok, err)
			}
			for _, w := range tt.wrong {
				ok, err := iam.CheckPassword(hash, w)
				if err != nil || ok {
					t.Errorf("CheckPassword(hash, %.20q) = %v, %v; want false, nil", w, ok, err)
				}
			}
			again, err := iam.HashPassword(tt.password)
			if err != nil {
				t.Fatal(err)
			}
			if again == hash {
				t.Errorf("two hashes of one password are equal (%q): the salt is not random", hash)
			}
		})
	}
}

func TestHashPasswordFormat(t *testing.T) {
	defer iam.UseRealPasswordCost()()
	hash, err := iam.HashPassword("secret")
	if err != nil {
		t.Fatal(err)
	}
	// 16-byte salt and 32-byte hash in unpadded standard base64.
	re := regexp.MustCompile(`^\$argon2id\$v=19\$m=65536,t=1,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)
	if !re.MatchString(hash) {
		t.Errorf("HashPassword() = %q, want a match for %s", hash, re)
	}
	if ok, err := iam.CheckPassword(hash, "secret"); err != nil || !ok {
		t.Errorf("CheckPassword(hash, right password) = %v, %v; want true, nil", ok, err)
	}
}

// A hash made by another implementation (argon2-cffi's documented example),
// with parameters other than ours: CheckPassword must use the string's.
func TestCheckPasswordForeignHash(t *testing.T) {
	const hash = "$argon2id$v=19$m=65536,t=3,p=4$MIIRqgvgQbgj220jfp0MPA$YfwJSVjtjSU0zzV/P3S9nnQ/USre2wvJMjfCIjrTQbg"
	for password, want := range map[string]bool{"correct horse battery staple": true, "Tr0ub4dor&3": false} {
		ok, err := iam.CheckPassword(hash, password)
		if err != nil || ok != want {
			t.Errorf("CheckPassword(hash, %q) = %v, %v; want %v, nil", password, ok, err, want)
		}
	}
}

func TestCheckPasswordInvalidHash(t *testing.T) {
	const (
		salt = "MIIRqgvgQbgj220jfp0MPA"
		key  = "YfwJSVjtjSU0zzV/P3S9nnQ/USre2wvJMjfCIjrTQbg"
	)
	tests := []struct{ name, hash string }{
		{"empty", ""},
		{"plain text", "secret"},
		{"bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"},
		{"argon2i", "$argon2i$v=19$m=65536,t=3,p=4$" + salt + "$" + key},
		{"no leading dollar", "argon2id$v=19$m=65536,t=3,p=4$" + salt + "$" + key},
		{"old version", "$argon2id$v=16$m=65536,t=3,p=4$" + salt + "$" + key},
		{"no version", "$argon2id$m=65536,t=3,p=4$" + salt + "$" + key},
		{"extra field", "$argon2id$v=19$m=65536,t=3,p=4$" + salt + "$" + key + "$x"},
		{"parameters out of order", "$argon2id$v=19$t=3,m=65536,p=4$" + salt + "$" + key},
		{"missing parameter", "$argon2id$v=19$m=65536,t=3$" + salt + "$" + key},
		{"non-numeric memory", "$argon2id$v=19$m=lots,t=3,p=4$" + salt + "$" + key},
		{"negative time", "$argon2id$v=19$m=65536,t=-3,p=4$" + salt + "$" + key},
		{"zero time", "$argon2id$v=19$m=65536,t=0,p=4$" + salt + "$" + key},
		{"zero threads", "$argon2id$v=19$m=65536,t=3,p=0$" + salt + "$" + key},
		{"too many threads", "$argon2id$v=19$m=65536,t=3,p=256$" + salt + "$" + key},
		{"memory below 8 per thread", "$argon2id$v=19$m=31,t=3,p=4$" + salt + "$" + key},
		{"memory above 1 GiB", "$argon2id$v=19$m=4194304,t=3,p=4$" + salt + "$" + key},
		{"too many passes", "$argon2id$v=19$m=65536,t=1000,p=4$" + salt + "$" + key},
		{"salt not base64", "$argon2id$v=19$m=65536,t=3,p=4$not*base64$" + key},
		{"padded salt", "$argon2id$v=19$m=65536,t=3,p=4$" + salt + "==$" + key},
		{"short salt", "$argon2id$v=19$m=65536,t=3,p=4$AAAA$" + key},
		{"hash not base64", "$argon2id$v=19$m=65536,t=3,p=4$" + salt + "$!!"},
		{"short hash", "$argon2id$v=19$m=65536,t=3,p=4$" + salt + "$AAAAAAAAAAA"},
		{"empty hash", "$argon2id$v=19$m=65536,t=3,p=4$" + salt + "$"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := iam.CheckPassword(tt.hash, "correct horse battery staple")
			if ok || !errors.Is(err, iam.ErrInvalidHash) {
				t.Errorf("CheckPassword(%q) = %v, %v; want false, an error wrapping ErrInvalidHash", tt.hash, ok, err)
			}
		})
	}
}

func BenchmarkHashPassword(b *testing.B) {
	defer iam.UseRealPasswordCost()()
	for b.Loop() {
		if _, err := iam.HashPassword("correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}
