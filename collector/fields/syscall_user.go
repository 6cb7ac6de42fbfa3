package fields

import "github.com/lannersec/lanner/collector/event"

// nameOf returns a user or group name; an empty name means the lookup failed, which Falco
// reports as a missing value (<NA>).
func nameOf(get func(t *event.Thread) string) strFn {
	return func(e *event.Event) (string, bool) {
		t := thread(e)
		if t == nil {
			return "", false
		}
		n := get(t)
		return n, n != ""
	}
}

func userFields(*config) []*Field {
	return []*Field{
		numField("user.uid", TypeUint32, 0, "The user id of the thread.",
			threadNum(func(t *event.Thread) (int64, bool) { return int64(t.UID), true })),
		strField("user.name", 0, "The user name of the thread, from the host's or the container's passwd file.",
			nameOf(func(t *event.Thread) string { return t.User })),
		numField("user.loginuid", TypeInt64, 0, "The audit login user id (auid); -1 when unset.",
			threadNum(func(t *event.Thread) (int64, bool) {
				if t.LoginUID == event.LoginUIDUnset {
					return -1, true
				}
				return int64(t.LoginUID), true
			})),
		strField("user.loginname", 0, "The name of the audit login user (auid).",
			nameOf(func(t *event.Thread) string { return t.LoginUser })),
		numField("group.gid", TypeUint32, 0, "The group id of the thread.",
			threadNum(func(t *event.Thread) (int64, bool) { return int64(t.GID), true })),
		strField("group.name", 0, "The group name of the thread, from the host's or the container's group file.",
			nameOf(func(t *event.Thread) string { return t.Group })),
	}
}
