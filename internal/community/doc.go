// Package community reads the BGP communities that Eips' bgpAdvertisements
// and BgpConf's community aliases are written with, so that the admission
// webhook and the speakers agree on what a string means: a standard
// community ("65535:65282", RFC 1997), a large one ("large:1:2:3",
// RFC 8092), a well-known name ("no-export") or an alias that BgpConf
// "default" defines in spec.communities. It is pure: no clients, no I/O.
package community
