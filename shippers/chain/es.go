package chain

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	es "github.com/elastic/go-elasticsearch/v8"
)

// Scope selects the documents Verify reads.
type Scope struct {
	// Index is the data stream, index or pattern holding lanner's alerts.
	Index string
	// Node limits the check to one node (host.name); empty checks every node.
	Node string
	// Since and Until bound @timestamp (zero: unbounded). A window that does not start at the
	// beginning checks the chain from its first document on (Verifier.Partial).
	Since, Until time.Time
	// PageSize is the documents per request (default 1000).
	PageSize int
}

func (s Scope) filters(chained bool) []any {
	var f []any
	if s.Node != "" {
		f = append(f, map[string]any{"term": map[string]any{"host.name": s.Node}})
	}
	if !s.Since.IsZero() || !s.Until.IsZero() {
		r := map[string]any{"format": "strict_date_optional_time"}
		if !s.Since.IsZero() {
			r["gte"] = s.Since.UTC().Format(time.RFC3339Nano)
		}
		if !s.Until.IsZero() {
			r["lt"] = s.Until.UTC().Format(time.RFC3339Nano)
		}
		f = append(f, map[string]any{"range": map[string]any{"@timestamp": r}})
	}
	exists := map[string]any{"exists": map[string]any{"field": "lanner.chain.seq"}}
	if chained {
		return append(f, exists)
	}
	return f
}

// VerifyES reads every chained document of scope from Elasticsearch, in sequence order, and
// checks the chains; documents without a link are counted. It refreshes nothing and writes
// nothing.
func (v *Verifier) VerifyES(ctx context.Context, client *es.Client, scope Scope) (*Report, error) {
	if scope.Index == "" {
		return nil, fmt.Errorf("audit verify: no index")
	}
	if scope.PageSize <= 0 {
		scope.PageSize = 1000
	}
	vv := *v
	vv.Partial = v.Partial || !scope.Since.IsZero()
	col := vv.NewCollector()

	unlinked, err := countES(ctx, client, scope.Index, map[string]any{"bool": map[string]any{
		"filter":   scope.filters(false),
		"must_not": []any{map[string]any{"exists": map[string]any{"field": "lanner.chain.seq"}}},
	}})
	if err != nil {
		return nil, err
	}
	col.unlinked = unlinked

	var after []any
	for {
		body := map[string]any{
			"size":             scope.PageSize,
			"query":            map[string]any{"bool": map[string]any{"filter": scope.filters(true)}},
			"sort":             []any{map[string]any{"lanner.chain.seq": "asc"}, map[string]any{"event.id": "asc"}},
			"track_total_hits": false,
		}
		if after != nil {
			body["search_after"] = after
		}
		hits, err := searchES(ctx, client, scope.Index, body)
		if err != nil {
			return nil, err
		}
		for _, h := range hits {
			d, err := docOf(h)
			if err != nil {
				return nil, fmt.Errorf("audit verify: document %s in %s: %w", h.ID, h.Index, err)
			}
			col.Add(d)
		}
		if len(hits) < scope.PageSize {
			break
		}
		after = hits[len(hits)-1].Sort
	}
	return col.Report(), nil
}

type hit struct {
	Index  string          `json:"_index"`
	ID     string          `json:"_id"`
	Source json.RawMessage `json:"_source"`
	Sort   []any           `json:"sort"`
}

// stored is what the verifier reads of a document besides its body.
type stored struct {
	Timestamp string `json:"@timestamp"`
	Event     struct {
		ID       string `json:"id"`
		Provider string `json:"provider"`
	} `json:"event"`
	Host struct {
		Name string `json:"name"`
	} `json:"host"`
	Lanner struct {
		Chain struct {
			Epoch string `json:"epoch"`
			Seq   uint64 `json:"seq"`
			Prev  string `json:"prev"`
			Hash  string `json:"hash"`
		} `json:"chain"`
	} `json:"lanner"`
}

func docOf(h hit) (Doc, error) {
	var s stored
	if err := json.Unmarshal(h.Source, &s); err != nil {
		return Doc{}, err
	}
	// A timestamp that does not parse (edited to garbage) is the zero time: the hash check
	// reports the document as modified.
	t, _ := time.Parse(time.RFC3339Nano, s.Timestamp)
	id := s.Event.ID
	if id == "" {
		id = h.ID
	}
	c := s.Lanner.Chain
	return Doc{ID: id, Node: s.Host.Name, Source: s.Event.Provider, Time: t, Epoch: c.Epoch, Seq: c.Seq,
		Prev: c.Prev, Hash: c.Hash, Body: h.Source}, nil
}

func searchES(ctx context.Context, client *es.Client, index string, body map[string]any) ([]hit, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	res, err := client.Search(client.Search.WithContext(ctx), client.Search.WithIndex(index),
		client.Search.WithBody(bytes.NewReader(b)), client.Search.WithIgnoreUnavailable(true),
		client.Search.WithAllowNoIndices(true))
	if err != nil {
		return nil, fmt.Errorf("audit verify: search %s: %w", index, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, fmt.Errorf("audit verify: search %s: %w", index, err)
	}
	if res.IsError() {
		return nil, fmt.Errorf("audit verify: search %s: %s: %s", index, res.Status(), clip(data))
	}
	var out struct {
		Hits struct {
			Hits []hit `json:"hits"`
		} `json:"hits"`
	}
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("audit verify: search %s: %w", index, err)
	}
	return out.Hits.Hits, nil
}

func countES(ctx context.Context, client *es.Client, index string, query map[string]any) (int, error) {
	b, err := json.Marshal(map[string]any{"query": query})
	if err != nil {
		return 0, err
	}
	res, err := client.Count(client.Count.WithContext(ctx), client.Count.WithIndex(index),
		client.Count.WithBody(bytes.NewReader(b)), client.Count.WithIgnoreUnavailable(true),
		client.Count.WithAllowNoIndices(true))
	if err != nil {
		return 0, fmt.Errorf("audit verify: count %s: %w", index, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, fmt.Errorf("audit verify: count %s: %w", index, err)
	}
	if res.IsError() {
		return 0, fmt.Errorf("audit verify: count %s: %s: %s", index, res.Status(), clip(data))
	}
	var out struct {
		Count int `json:"count"`
	}
	if err := json.Unmarshal(data, &out); err != nil {
		return 0, fmt.Errorf("audit verify: count %s: %w", index, err)
	}
	return out.Count, nil
}

func clip(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}
