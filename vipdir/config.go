package vipdir

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"unicode/utf8"
)

// ConfigStatus is config.json: the supervisor's verdict on the configs it
// was given, which the speaker compares with the config it last wrote. A
// config is named by the SHA-256 of its bytes (ConfigHash), so the speaker
// needs no copy of what the supervisor installed and no clock shared with
// it: its candidate is accepted when Live names it, refused when Refused
// does, and not checked yet (pending) when neither does.
type ConfigStatus struct {
	// Live names the config keepalived runs (the live file's bytes); empty
	// while there is none.
	Live string `json:"live"`
	// Refused names the last candidate `keepalived -t` refused; empty once
	// a later candidate is accepted.
	Refused string `json:"refused"`
	// Error is what keepalived said about Refused, trimmed to
	// MaxConfigError bytes; empty when Refused is.
	Error string `json:"error"`
}

// MaxConfigError bounds ConfigStatus.Error: keepalived names every bad
// line, and the speaker quotes the error in an event, whose message the
// API server caps at 1 kB.
const MaxConfigError = 700

// ConfigHash names a config's bytes in ConfigStatus (hex SHA-256).
func ConfigHash(conf []byte) string {
	sum := sha256.Sum256(conf)
	return hex.EncodeToString(sum[:])
}

// NewConfigStatus is the status of a supervisor running live (nil: none)
// whose last refused candidate is refused (nil: none since live), refused
// for err.
func NewConfigStatus(live, refused []byte, err error) ConfigStatus {
	var s ConfigStatus
	if live != nil {
		s.Live = ConfigHash(live)
	}
	if refused != nil {
		s.Refused = ConfigHash(refused)
		if err != nil {
			s.Error = trimError(err.Error())
		}
	}
	return s
}

// trimError keeps keepalived's words on one line (each of its lines names
// one problem) and within MaxConfigError bytes, cut at a rune boundary.
func trimError(msg string) string {
	msg = strings.Join(strings.Fields(msg), " ")
	if len(msg) <= MaxConfigError {
		return msg
	}
	const more = " …"
	cut := MaxConfigError - len(more)
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return msg[:cut] + more
}

// WriteConfigStatus replaces the config status file at path with s,
// atomically, as Write does the state file.
func WriteConfigStatus(path string, s ConfigStatus) error {
	data, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("vip config status %s: %w", path, err)
	}
	if err := writeAtomic(path, data); err != nil {
		return fmt.Errorf("vip config status %s: %w", path, err)
	}
	return nil
}

// ErrNoConfigStatus marks a missing config status file: no supervisor has
// run on this node (or not yet), so every candidate is pending.
var ErrNoConfigStatus = errors.New("no vip config status file")

// ReadConfigStatus reads the config status file at path, as the speaker
// does.
func ReadConfigStatus(path string) (ConfigStatus, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return ConfigStatus{}, fmt.Errorf("vip config status %s: %w", path, ErrNoConfigStatus)
	}
	if err != nil {
		return ConfigStatus{}, fmt.Errorf("vip config status %s: %w", path, err)
	}
	var s ConfigStatus
	if err := json.Unmarshal(data, &s); err != nil {
		return ConfigStatus{}, fmt.Errorf("vip config status %s: %w", path, err)
	}
	return s, nil
}
