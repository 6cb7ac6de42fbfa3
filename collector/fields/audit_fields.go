package fields

// auditFields returns the built-in fields of the k8s_audit source.
func auditFields() []*Field { return nil }
