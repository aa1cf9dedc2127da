package bgp

import (
	"net/netip"
	"sync"
)

// peerBook is what the Router learns about sessions from outside its own
// calls: which BgpPeer a neighbour address belongs to, and the last reason
// a session failed, read from GoBGP's logs. GoBGP's goroutines write to it
// through the logger while holding their own locks, so it is a leaf: its
// lock is never held while calling anything else.
type peerBook struct {
	mu     sync.Mutex
	names  map[netip.Addr]string
	errors map[netip.Addr]string
}

func newPeerBook() *peerBook {
	return &peerBook{names: map[netip.Addr]string{}, errors: map[netip.Addr]string{}}
}

// setName records the BgpPeer name of a neighbour. Names of removed peers
// are kept so that the events of their last moments still carry them.
func (b *peerBook) setName(a netip.Addr, name string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.names[a] = name
}

func (b *peerBook) name(a netip.Addr) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.names[a]
}

func (b *peerBook) setError(a netip.Addr, reason string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.errors[a] = reason
}

// clearError forgets the failure once the session is established.
func (b *peerBook) clearError(a netip.Addr) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.errors, a)
}

func (b *peerBook) lastError(a netip.Addr) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.errors[a]
}
