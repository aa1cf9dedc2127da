// Package communitytest holds the table of community strings that both
// internal/community's tests and the speaker's tests run, so that what the
// admission webhook accepts, and what it means, is checked against the
// speaker's reading of the same strings from one list. It is for tests
// only.
package communitytest
