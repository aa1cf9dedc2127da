package kcluster

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// auditEvent is the part of an audit.k8s.io/v1 Event the RBAC check reads.
type auditEvent struct {
	Stage      string `json:"stage"`
	Verb       string `json:"verb"`
	RequestURI string `json:"requestURI"`
	User       struct {
		Username string `json:"username"`
	} `json:"user"`
	ResponseStatus *struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
}

// heraldAccounts prefixes the usernames of Herald's service accounts.
const heraldAccounts = "system:serviceaccount:herald-system:"

// ForbiddenRequests reads the audit log and returns every request of
// Herald's service accounts that got 403, as "user verb URI", and how
// many of their requests completed in all.
func (c *Cluster) ForbiddenRequests() (forbidden []string, total int, err error) {
	f, err := os.Open(c.AuditLog())
	if err != nil {
		return nil, 0, fmt.Errorf("audit log: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024)
	for sc.Scan() {
		var ev auditEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			return nil, 0, fmt.Errorf("audit log: %w", err)
		}
		if ev.Stage != "ResponseComplete" || !strings.HasPrefix(ev.User.Username, heraldAccounts) {
			continue
		}
		total++
		if ev.ResponseStatus != nil && ev.ResponseStatus.Code == 403 {
			forbidden = append(forbidden, fmt.Sprintf("%s %s %s", strings.TrimPrefix(ev.User.Username, heraldAccounts), ev.Verb, ev.RequestURI))
		}
	}
	return forbidden, total, sc.Err()
}
