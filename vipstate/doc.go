// Package vipstate is the state file through which the VIP supervisor
// (herald-keepalived) tells the speaker which VIPs this node holds.
//
// keepalived reports every VRRP state change of a VIP's instance on its
// notify_fifo, and only the supervisor, which owns that FIFO, reads it. The
// speaker runs in another pod (so that its crash or upgrade moves no VIP)
// and shares only a host directory with the supervisor, so the supervisor
// keeps the latest state of every instance in a Recorder and rewrites
// state.json in that directory on every change, atomically (temp file and
// rename), as
//
//	{"vips": {"192.0.2.10": "MASTER", "2001:db8::10": "BACKUP"}}
//
// The speaker reads it with Read and annotates a Service with this node as
// holder while its address is MASTER here. An instance a reload removed
// (DELETED) leaves the map; when keepalived stops or dies every entry turns
// STOP, since a crashed keepalived reports nothing more and its VIPs are no
// longer served by it. The file lives outside the keepalived package
// because the speaker reads it too, and it is a contract between two
// processes of possibly different versions: keys are addresses as
// netip.Addr prints them, values keepalived's own state words.
package vipstate
