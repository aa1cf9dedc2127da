// Package vipdir is the contract between Herald's two VIP-mode processes:
// the speaker, which renders keepalived's configuration, and the
// supervisor (herald-keepalived), which runs keepalived in its own
// DaemonSet so that a speaker crash or upgrade moves no VIP. They share
// nothing but a host directory, and this package names its files (Dir)
// and reads and writes the two the supervisor reports through, the state
// file and the config status. Both sides import it, so neither can drift from the other.
//
// # The directory
//
//	keepalived.conf.candidate  written by the speaker (temp file + rename)
//	keepalived.conf            the live config keepalived reads; written
//	                           only by the supervisor, after `keepalived -t`
//	                           accepted these exact bytes
//	keepalived.conf.check      the supervisor's staged copy (transient)
//	track/                     one track file per externalTrafficPolicy
//	                           Local VIP, written by the speaker
//	                           (keepalived.WriteTrackFile)
//	notify.fifo                keepalived's notify_fifo; created and read
//	                           only by the supervisor
//	state.json                 the VRRP state of every VIP instance on this
//	                           node, written by the supervisor
//	config.json                the supervisor's verdict on the candidates:
//	                           which config runs, which was refused and why
//
// DefaultDir is the directory keepalived.DefaultSettings points the
// rendered track_file and notify_fifo paths into, so neither side needs a
// flag to agree; Dir.Settings points them into another directory.
//
// # The state file
//
// keepalived reports every VRRP state change of a VIP's instance on its
// notify_fifo. The supervisor keeps the latest state of every instance in
// a Recorder and rewrites state.json on every change, atomically (temp file
// and rename), as
//
//	{"vips": {"192.0.2.10": "MASTER", "2001:db8::10": "BACKUP"}}
//
// The speaker reads it with Read and names this node the holder of a
// Service's address while it is MASTER here. An instance a reload removed
// (DELETED) leaves the map; when keepalived stops or dies every entry turns
// STOP, since a crashed keepalived reports nothing more. A starting
// supervisor writes an empty map: its keepalived reports every instance
// afresh. Keys are addresses as netip.Addr prints them, values keepalived's
// own state words, so supervisors and speakers of different versions
// understand each other during an upgrade.
//
// # The config status
//
// A candidate keepalived refuses never reaches it: keepalived keeps
// running the last config it accepted. So that the speaker can tell (and
// tell the operator: a Warning event on the Eips, its readiness, a
// metric), the supervisor rewrites config.json, atomically, whenever its
// verdict changes, and once at start, after it has adopted (or not) the
// live config a previous run left:
//
//	{"live": "<sha256>", "refused": "<sha256>", "error": "<keepalived's words>"}
//
// live is the SHA-256 (hex, ConfigHash) of the bytes keepalived runs, empty
// while none; refused that of the last candidate `keepalived -t` refused,
// with error what it said, one line, at most MaxConfigError bytes; both are
// empty once a later candidate is accepted (or the candidate is the live
// config again). The speaker hashes the config it last wrote: Live naming
// it means accepted, Refused refused, neither not checked yet (pending: a
// check that could not run, or no supervisor running). A candidate whose
// check could not run at all (keepalived missing) is no verdict and
// changes nothing here.
package vipdir
