package communitytest

import "github.com/herald-lb/herald/internal/community"

// Aliases are the BgpConf spec.communities the Examples are read with.
// "broken" and "no-export" are ones BgpConf's admission refuses; they are
// here for a speaker that meets them anyway (a BgpConf admitted before the
// webhook ran): a bad value is not read, and a well-known name keeps its
// IANA meaning.
var Aliases = map[string]string{
	"upstream-only": "64512:100",
	"big":           "large:4200000000:1:2",
	"broken":        "no-export", // a value must be numbers
	"no-export":     "64512:1",   // never shadows the well-known name
}

// Example is one string an advertisement may hold, with the community it
// means, or a phrase of the error it gives.
type Example struct {
	In   string
	Want community.Community
	// WantErr is a phrase of the error; "" when In is valid.
	WantErr string
	// Unknown says the error wraps community.ErrUnknownAlias.
	Unknown bool
}

// Examples read with Aliases. Names are case-sensitive and an alias's
// value is numbers only, as BgpConf's admission requires.
var Examples = []Example{
	{In: "65535:65282", Want: community.Community{Standard: 0xFFFFFF02}},
	{In: "0:0", Want: community.Community{}},
	{In: "64512:100", Want: community.Community{Standard: 64512<<16 | 100}},
	{In: "large:1:2:3", Want: community.Community{Large: true, LargeValue: [3]uint32{1, 2, 3}}},
	{In: "large:4294967295:0:4294967295", Want: community.Community{Large: true, LargeValue: [3]uint32{4294967295, 0, 4294967295}}},
	{In: "no-export", Want: community.Community{Standard: 0xFFFFFF01}},
	{In: "no-advertise", Want: community.Community{Standard: 0xFFFFFF02}},
	{In: "no-export-subconfed", Want: community.Community{Standard: 0xFFFFFF03}},
	{In: "no-peer", Want: community.Community{Standard: 0xFFFFFF04}},
	{In: "blackhole", Want: community.Community{Standard: 65535<<16 | 666}},
	{In: "graceful-shutdown", Want: community.Community{Standard: 65535 << 16}},
	{In: "accept-own", Want: community.Community{Standard: 65535<<16 | 1}},
	{In: "llgr-stale", Want: community.Community{Standard: 65535<<16 | 6}},
	{In: "no-llgr", Want: community.Community{Standard: 65535<<16 | 7}},
	{In: "upstream-only", Want: community.Community{Standard: 64512<<16 | 100}},
	{In: "big", Want: community.Community{Large: true, LargeValue: [3]uint32{4200000000, 1, 2}}},
	{In: "65536:1", WantErr: "from 0 to 65535"},
	{In: "1:65536", WantErr: "from 0 to 65535"},
	{In: "4200000000:1", WantErr: "for a 4-byte AS use large"},
	{In: "1:2:3", WantErr: "want <AS>:<value>"},
	{In: "-1:2", WantErr: "from 0 to 65535"},
	{In: " 1:2", WantErr: "from 0 to 65535"},
	{In: "1:", WantErr: "from 0 to 65535"},
	{In: "large:1:2", WantErr: "three numbers"},
	{In: "large:1:2:4294967296", WantErr: "part 3"},
	{In: "large:a:2:3", WantErr: "part 1"},
	{In: "LARGE:1:2:3", WantErr: "want <AS>:<value>"},
	{In: "NO-EXPORT", WantErr: `community "NO-EXPORT"`, Unknown: true},
	{In: "nope", WantErr: `community "nope"`, Unknown: true},
	{In: "", Unknown: true, WantErr: "unknown"},
	{In: "broken", WantErr: `alias "broken"`},
}
