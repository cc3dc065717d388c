package dashboard

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// maxStreamRuns bounds the runs one event stream watches and one chart
// draws.
const maxStreamRuns = 64

// Update is an event of the live stream: a run's metrics grew.
type Update struct {
	ID         string   `json:"id"`
	Steps      int      `json:"steps"`
	BestVal    *float64 `json:"best_val,omitempty"`
	TokensPerS float64  `json:"tokens_per_s"`
	Status     string   `json:"status"`
}

// handleEvents streams server-sent events: /api/events?run=ID&run=ID
// sends an "update" event whenever one of those runs' metrics.jsonl grows
// (looked at every Poll), and one at once for each run.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	ids := r.URL.Query()["run"]
	if len(ids) == 0 || len(ids) > maxStreamRuns {
		http.Error(w, fmt.Sprintf("want 1 to %d runs", maxStreamRuns), http.StatusBadRequest)
		return
	}
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming not supported", http.StatusInternalServerError)
		return
	}
	type watched struct {
		run  Run
		tail metricsTail
		sent int64
	}
	var ws []*watched
	for _, id := range ids {
		run, ok := s.lookup(id)
		if !ok || run.Kind != KindTrain {
			http.Error(w, "no run "+id, http.StatusNotFound)
			return
		}
		ws = append(ws, &watched{run: run, sent: -1})
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	t := time.NewTicker(s.Poll)
	defer t.Stop()
	for {
		for _, x := range ws {
			summarize(s.roots[x.run.Root].fs, x.run.Rel, &x.run, &x.tail)
			if x.tail.size == x.sent {
				continue
			}
			x.sent = x.tail.size
			b, _ := json.Marshal(Update{ID: x.run.ID, Steps: x.run.Steps, BestVal: x.run.BestVal, TokensPerS: x.run.TokensPerS, Status: x.run.Status})
			if _, err := fmt.Fprintf(w, "event: update\ndata: %s\n\n", b); err != nil {
				return
			}
		}
		fl.Flush()
		select {
		case <-r.Context().Done():
			return
		case <-t.C:
		}
	}
}
