package iprange

import (
	"errors"
	"testing"
)

// FuzzParse checks that Parse never panics, that every error is one of the
// package's sentinels, and that what it accepts is a consistent range whose
// canonical text parses back to the same range.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"192.0.2.1", "192.0.2.0/24", "192.0.2.1-192.0.2.9", "2001:db8::/64",
		"2001:db8::1-2001:db8::ff", "::/0", "0.0.0.0/0", "", "-", "/", "1.2.3.4-",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrEmpty) && !errors.Is(err, ErrSyntax) &&
				!errors.Is(err, ErrMixedFamilies) && !errors.Is(err, ErrReversed) {
				t.Fatalf("Parse(%q): unexpected error kind: %v", s, err)
			}
			return
		}
		if !r.IsValid() || r.First().Is4() != r.Last().Is4() || r.Last().Less(r.First()) {
			t.Fatalf("Parse(%q) = inconsistent range %v", s, r)
		}
		if !r.Contains(r.First()) || !r.Contains(r.Last()) {
			t.Fatalf("Parse(%q) = %v does not contain its own ends", s, r)
		}
		if r.Size() == 0 {
			t.Fatalf("Parse(%q) = %v has size 0", s, r)
		}
		back, err := Parse(r.String())
		if err != nil || back != r {
			t.Fatalf("Parse(%q).String() = %q reparses to %v, %v", s, r.String(), back, err)
		}
		if last, ok := r.Nth(r.Size() - 1); r.Size() < 1<<63 && (!ok || last != r.Last()) {
			t.Fatalf("Parse(%q): Nth(Size-1) = %v, %v; want %v", s, last, ok, r.Last())
		}
	})
}
