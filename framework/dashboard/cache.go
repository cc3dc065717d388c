package dashboard

import (
	"container/list"
	"os"

	"go.yaml.in/yaml/v3"
)

// seriesCache keeps the parsed metrics of the runs last drawn, within a
// memory budget (least recently used go first), so thousands of runs or
// a million-step one do not grow the server without bound.
type seriesCache struct {
	budget int
	used   int
	items  map[string]*list.Element
	lru    *list.List
}

type cached struct {
	id string
	s  *series
	n  int // bytes counted for it
}

func (c *seriesCache) get(root *os.Root, id, rel string) (*series, error) {
	var it *cached
	if el, ok := c.items[id]; ok {
		c.lru.MoveToFront(el)
		it = el.Value.(*cached)
	} else {
		var cfg runConfig
		if b, err := readSmall(root, relJoin(rel, "config.yaml")); err == nil {
			_ = yaml.Unmarshal(b, &cfg)
		}
		it = &cached{id: id, s: newSeries(cfg.tokensPerStep())}
		c.items[id] = c.lru.PushFront(it)
	}
	if err := it.s.update(root, relJoin(rel, "metrics.jsonl")); err != nil {
		c.drop(c.items[id])
		return nil, err
	}
	c.used += it.s.bytes() - it.n
	it.n = it.s.bytes()
	for c.used > c.budget && c.lru.Len() > 1 {
		c.drop(c.lru.Back())
	}
	return it.s, nil
}

func (c *seriesCache) drop(el *list.Element) {
	it := el.Value.(*cached)
	c.used -= it.n
	delete(c.items, it.id)
	c.lru.Remove(el)
}
