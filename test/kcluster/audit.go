package kcluster

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"
)

// auditEvent is the part of an audit.k8s.io/v1 Event the RBAC check reads.
type auditEvent struct {
	Stage      string    `json:"stage"`
	Received   time.Time `json:"requestReceivedTimestamp"`
	Verb       string    `json:"verb"`
	RequestURI string    `json:"requestURI"`
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
// Herald's service accounts received before until that got 403, as "user
// verb URI", how many of their requests before until completed in all,
// and the forbidden ones from until on (late). A zero until counts all.
func (c *Cluster) ForbiddenRequests(until time.Time) (forbidden []string, total int, late []string, err error) {
	f, err := os.Open(c.AuditLog())
	if err != nil {
		return nil, 0, nil, fmt.Errorf("audit log: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024)
	for sc.Scan() {
		var ev auditEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			return nil, 0, nil, fmt.Errorf("audit log: %w", err)
		}
		if ev.Stage != "ResponseComplete" || !strings.HasPrefix(ev.User.Username, heraldAccounts) {
			continue
		}
		refused := ev.ResponseStatus != nil && ev.ResponseStatus.Code == 403
		what := fmt.Sprintf("%s %s %s", strings.TrimPrefix(ev.User.Username, heraldAccounts), ev.Verb, ev.RequestURI)
		if !until.IsZero() && !ev.Received.Before(until) {
			if refused {
				late = append(late, what)
			}
			continue
		}
		total++
		if refused {
			forbidden = append(forbidden, what)
		}
	}
	return forbidden, total, late, sc.Err()
}
