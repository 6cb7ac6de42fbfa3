package shippers

import (
	"context"
	"encoding/binary"
	"errors"
)

// Preparer is implemented by a Shipper that keeps alerts in its spool in its own ready-to-send
// form (the Elasticsearch output: the ECS document) instead of the generic record. The alert is
// then encoded once, when it is spooled, and the worker hands the spooled bytes to SendPrepared
// without decoding anything: on a node that shares its CPUs with the destination, the decode
// and re-encode of every alert was most of what the collector cost per alert.
//
// Records spooled in the generic form (by an earlier lanner, or before the output was a
// Preparer) are still read: the worker decodes them and calls Prepare.
type Preparer interface {
	// Prepare appends the form of r to spool to dst. It must depend only on r (and on nothing
	// that may change before the record is sent, such as the target index), so that sending it
	// later, after a restart or a configuration change, still sends the same alert.
	Prepare(dst []byte, r *Record) ([]byte, error)
	// SendPrepared delivers prepared records under Send's contract: nil, a *PartialError whose
	// indices are into batch, or an error for the whole batch. It must not retry or sleep.
	SendPrepared(ctx context.Context, batch []Prepared) error
}

// Prepared is one record in a Preparer's form: the record's id and what Prepare returned.
type Prepared struct {
	ID   string
	Data []byte
}

// preparedTag starts a spooled prepared record. A generic record is a JSON object and starts
// with '{', so the two forms never meet.
const preparedTag = 0x01

// appendPreparedHeader writes the head of a prepared record's spooled form: the tag, the id's
// length (uvarint) and the id. Prepare's bytes follow.
func appendPreparedHeader(dst []byte, id string) []byte {
	dst = append(dst, preparedTag)
	dst = binary.AppendUvarint(dst, uint64(len(id)))
	return append(dst, id...)
}

// appendPrepared writes the whole spooled form of a prepared record.
func appendPrepared(dst []byte, id string, data []byte) []byte {
	return append(appendPreparedHeader(dst, id), data...)
}

var errNotPrepared = errors.New("not a prepared record")

// parsePrepared reads what appendPrepared wrote. Data aliases b.
func parsePrepared(b []byte) (Prepared, error) {
	if len(b) == 0 || b[0] != preparedTag {
		return Prepared{}, errNotPrepared
	}
	n, k := binary.Uvarint(b[1:])
	if k <= 0 || n == 0 || n > uint64(len(b)-1-k) {
		return Prepared{}, errors.New("prepared record: bad id length")
	}
	b = b[1+k:]
	return Prepared{ID: string(b[:n]), Data: b[n:]}, nil
}

// spooledForHuman returns the id of a spooled record (either form) and the bytes a dead-letter
// file should show: a prepared record's own data (for Elasticsearch, the JSON document), the
// generic record as it is.
func spooledForHuman(b []byte) (id string, raw []byte) {
	if p, err := parsePrepared(b); err == nil {
		return p.ID, p.Data
	}
	if r, err := UnmarshalRecord(b); err == nil {
		return r.ID, b
	}
	return "", b
}
