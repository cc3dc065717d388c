package train

import (
	"encoding/json"
	"reflect"
	"strings"
)

// UnmarshalJSON reads a Config from trainer.json. Its keys are the
// snake_case names of config.yaml; checkpoints written before they were
// (up to November 2026) used the Go field names ("DModel", "WeightDec"),
// which are read too, so old runs still resume, evaluate and generate.
func (c *Config) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	if raw != nil {
		t := reflect.TypeFor[Config]()
		for i := range t.NumField() {
			f := t.Field(i)
			key, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			v, old := raw[f.Name]
			if !old || strings.EqualFold(key, f.Name) { // "Steps" still matches "steps"
				continue
			}
			delete(raw, f.Name)
			if _, both := raw[key]; key != "-" && !both {
				raw[key] = v
			}
		}
		var err error
		if b, err = json.Marshal(raw); err != nil {
			return err
		}
	}
	type plain Config // without this method
	return json.Unmarshal(b, (*plain)(c))
}
