package train

import (
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// EventsLog, in a run directory, lists what happened to the run besides
// its steps, one line each with a UTC time stamp: an evaluation's sample
// skipped (and why), the plugin restarted, the run interrupted.
const EventsLog = "events.log"

// Event reports something that happened to the run besides its steps: a
// line on Out (clearing a live bar) and the same line, time-stamped,
// appended to RUN_DIR/events.log. Only the lead rank of a job reports.
// Events are rare, so the file is opened for each.
func (r *Run) Event(format string, args ...any) {
	if !r.Dist.Lead() {
		return
	}
	msg := fmt.Sprintf(format, args...)
	if r.Out != nil {
		if r.Terminal {
			fmt.Fprint(r.Out, "\r\x1b[K")
		}
		fmt.Fprintln(r.Out, msg)
	}
	f, err := os.OpenFile(filepath.Join(r.Dir, EventsLog), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err == nil {
		_, err = fmt.Fprintf(f, "%s %s\n", time.Now().UTC().Format(time.RFC3339), msg)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil && r.Out != nil {
		fmt.Fprintf(r.Out, "%s: %v\n", EventsLog, err)
	}
}
